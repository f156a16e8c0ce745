//! The web UI: the built files of `ui/` (embedded by `build.rs`) served on the query port.
//!
//! - `/assets/...`: Vite's content-hashed JS and CSS, cached for a year (`immutable`).
//! - Any other file of the build (a favicon): served with `no-cache`.
//! - `/` and every other `GET` outside the server's own prefixes (`/api`, `/jaeger`,
//!   `/prometheus`, `/loki`, `/metrics`, `/healthz`, `/readyz`): `index.html` with `no-cache`,
//!   so the single-page app routes deep links such as `/traces/{id}` itself.
//! - An unknown path under those prefixes stays a 404 (JSON), never the UI's HTML.
//!
//! The files are public (they hold no data), so this router is merged outside the
//! authentication layer; the API calls the UI makes carry the user's token.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// The path prefixes that belong to the server, never to the UI.
const SERVER_PREFIXES: [&str; 7] = [
    "/api",
    "/jaeger",
    "/prometheus",
    "/loki",
    "/metrics",
    "/healthz",
    "/readyz",
];

/// Hashed assets never change under the same name.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else is revalidated, so a new binary's UI shows at once.
const NO_CACHE: &str = "no-cache";

/// Builds the UI's router: a fallback that serves the embedded files and `index.html`.
pub fn router() -> Router {
    if !UI_BUILT {
        tracing::warn!(
            "this binary was built with SIGHTLINE_SKIP_UI_BUILD: / serves a placeholder page, not the web UI"
        );
    }
    Router::new().fallback(serve)
}

/// Says whether `path` is under one of the server's own prefixes.
fn is_server_path(path: &str) -> bool {
    SERVER_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The embedded file at `path` (relative, no leading slash).
fn asset(path: &str) -> Option<&'static [u8]> {
    ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, bytes)| *bytes)
}

/// The `Content-Type` of a file, from its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn file_response(path: &str, bytes: &'static [u8], cache: &'static str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(path)),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        Body::from(bytes),
    )
        .into_response()
}

fn not_found(method: &Method, path: &str) -> Response {
    let message = format!("no such endpoint: {method} {path}");
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// Answers every request no other route took.
async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if is_server_path(path) {
        return not_found(&method, path);
    }
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, HeaderValue::from_static("GET, HEAD"))],
        )
            .into_response();
    }
    let relative = path.trim_start_matches('/');
    if let Some(bytes) = asset(relative).filter(|_| relative != "index.html") {
        let cache = if relative.starts_with("assets/") {
            IMMUTABLE
        } else {
            NO_CACHE
        };
        return file_response(relative, bytes, cache);
    }
    if relative.starts_with("assets/") {
        // A stale page asking for a previous build's asset: HTML here would only confuse.
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    }
    match asset("index.html") {
        Some(bytes) => file_response("index.html", bytes, NO_CACHE),
        None => (
            StatusCode::NOT_FOUND,
            "the web UI is not built into this binary",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(path: &str) -> Response {
        serve(Method::GET, path.parse().unwrap()).await
    }

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response.headers()[name].to_str().unwrap()
    }

    #[test]
    fn server_prefixes_are_matched_whole() {
        for path in [
            "/api",
            "/api/v1/x",
            "/jaeger/api/services",
            "/metrics",
            "/readyz",
        ] {
            assert!(is_server_path(path), "{path}");
        }
        for path in ["/", "/traces", "/apis", "/metricsx", "/traces/api"] {
            assert!(!is_server_path(path), "{path}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type("assets/index-1.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("assets/index-1.css"),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }

    #[tokio::test]
    async fn pages_get_the_index_and_server_paths_stay_404() {
        for path in ["/", "/traces", "/traces/abc?span=1"] {
            let response = get(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                header_of(&response, header::CONTENT_TYPE),
                "text/html; charset=utf-8"
            );
            assert_eq!(header_of(&response, header::CACHE_CONTROL), NO_CACHE);
        }
        let response = get("/api/v1/nothing").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            get("/assets/gone-123.js").await.status(),
            StatusCode::NOT_FOUND
        );
        let post = serve(Method::POST, "/traces".parse().unwrap()).await;
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn hashed_assets_are_cached_for_good() {
        let hashed = ASSETS.iter().find(|(name, _)| name.starts_with("assets/"));
        let built = UI_BUILT;
        let Some((name, _)) = hashed else {
            assert!(!built, "a built UI has hashed assets");
            return;
        };
        let response = get(&format!("/{name}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header_of(&response, header::CACHE_CONTROL), IMMUTABLE);
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            content_type(name)
        );
    }
}
