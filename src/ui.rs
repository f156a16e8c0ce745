//! The web UI: the built files of `ui/` (embedded by `build.rs`) served on the query port.
//!
//! - `/assets/...`: Vite's content-hashed JS and CSS, cached for a year (`immutable`).
//! - Any other file of the build (a favicon): served with `no-cache`.
//! - `/` and every other `GET` outside the server's own prefixes (`/api`, `/jaeger`,
//!   `/prometheus`, `/loki`, `/metrics`, `/healthz`, `/readyz`): `index.html` with `no-cache`,
//!   so the single-page app routes deep links such as `/traces/{id}` itself.
//! - An unknown path under those prefixes stays a 404 (JSON), never the UI's HTML.
//! - Text files are sent gzip-compressed (compressed once by `build.rs`) when the request's
//!   `Accept-Encoding` allows gzip, with `Vary: Accept-Encoding` so caches keep both forms.
//!
//! The files are public (they hold no data), so this router is merged outside the
//! authentication layer; the API calls the UI makes carry the user's token.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
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

/// One file of the UI's build, embedded by `build.rs`.
pub(crate) struct EmbeddedFile {
    /// Its path under `ui/dist`, without a leading slash.
    path: &'static str,
    /// Its contents.
    bytes: &'static [u8],
    /// Its contents gzip-compressed, when the build found that worth it.
    gzip: Option<&'static [u8]>,
}

/// The embedded file at `path` (relative, no leading slash).
fn asset(path: &str) -> Option<&'static EmbeddedFile> {
    ASSETS.iter().find(|file| file.path == path)
}

/// Says whether the request's `Accept-Encoding` takes gzip (`gzip` or `*`, with a non-zero
/// quality).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|parameter| {
                parameter
                    .trim()
                    .strip_prefix("q=")
                    .and_then(|quality| quality.trim().parse::<f32>().ok())
                    .is_some_and(|quality| quality <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
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

fn file_response(
    path: &str,
    asset: &'static EmbeddedFile,
    gzip_ok: bool,
    cache: &'static str,
) -> Response {
    let mut response = (
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
        Body::from(asset.bytes),
    )
        .into_response();
    if let Some(compressed) = asset.gzip {
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if gzip_ok {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            *response.body_mut() = Body::from(compressed);
        }
    }
    response
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
async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let gzip_ok = accepts_gzip(&headers);
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
    if let Some(found) = asset(relative).filter(|_| relative != "index.html") {
        let cache = if relative.starts_with("assets/") {
            IMMUTABLE
        } else {
            NO_CACHE
        };
        return file_response(relative, found, gzip_ok, cache);
    }
    if relative.starts_with("assets/") {
        // A stale page asking for a previous build's asset: HTML here would only confuse.
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    }
    match asset("index.html") {
        Some(index) => file_response("index.html", index, gzip_ok, NO_CACHE),
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
        serve(Method::GET, path.parse().unwrap(), HeaderMap::new()).await
    }

    async fn get_accepting(path: &str, accept_encoding: &'static str) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static(accept_encoding),
        );
        serve(Method::GET, path.parse().unwrap(), headers).await
    }

    async fn body_bytes(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
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
        let post = serve(Method::POST, "/traces".parse().unwrap(), HeaderMap::new()).await;
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn hashed_assets_are_cached_for_good() {
        let hashed = ASSETS.iter().find(|file| file.path.starts_with("assets/"));
        let built = UI_BUILT;
        let Some(EmbeddedFile { path: name, .. }) = hashed else {
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

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let accepts = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_gzip(&headers)
        };
        assert!(accepts("gzip, deflate, br"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn text_assets_are_sent_gzipped_to_those_who_accept_it() {
        let compressed_script = ASSETS
            .iter()
            .find(|file| file.path.ends_with(".js") && file.gzip.is_some());
        let built = UI_BUILT;
        let Some(EmbeddedFile {
            path: name,
            bytes: plain,
            ..
        }) = compressed_script
        else {
            assert!(!built, "a built UI has a compressed script");
            return;
        };
        let response = get_accepting(&format!("/{name}"), "gzip, br").await;
        assert_eq!(header_of(&response, header::CONTENT_ENCODING), "gzip");
        assert_eq!(header_of(&response, header::VARY), "accept-encoding");
        let compressed = body_bytes(response).await;
        assert!(compressed.len() < plain.len());
        let mut decoded = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(compressed.as_slice()),
            &mut decoded,
        )
        .unwrap();
        assert_eq!(decoded, *plain);

        let response = get(&format!("/{name}")).await;
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(header_of(&response, header::VARY), "accept-encoding");
        assert_eq!(body_bytes(response).await, *plain);
    }
}
