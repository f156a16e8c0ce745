//! Probes against servers on loopback, started by each test.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use sightline_model::{HealthCheckDefinition, ProbeKind};
use tokio::net::TcpListener;
use tonic_health::ServingStatus;

use super::*;

const TIMEOUT: Duration = Duration::from_secs(2);

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

fn http(url: String, expected_status: Option<u16>) -> ProbeTarget {
    ProbeTarget::Http {
        url,
        expected_status,
    }
}

#[tokio::test]
async fn http_probe_checks_the_status_and_follows_no_redirect() {
    let elsewhere_hits = Arc::new(AtomicUsize::new(0));
    let hits = elsewhere_hits.clone();
    let elsewhere = serve(Router::new().route(
        "/",
        get(move || {
            hits.fetch_add(1, Ordering::Relaxed);
            async { "elsewhere" }
        }),
    ))
    .await;
    let server = serve(
        Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .route(
                "/moved",
                get(move || async move { Redirect::temporary(&format!("http://{elsewhere}/")) }),
            ),
    )
    .await;
    let prober = Prober::new().unwrap();
    let ok = prober
        .probe(&http(format!("http://{server}/ok"), None), TIMEOUT)
        .await;
    assert_eq!(ok.error, None);
    assert!(ok.duration > Duration::ZERO);
    let fail = prober
        .probe(&http(format!("http://{server}/fail"), None), TIMEOUT)
        .await;
    assert_eq!(fail.error.as_deref(), Some("status 500, expected 2xx"));
    let expected_500 = prober
        .probe(&http(format!("http://{server}/fail"), Some(500)), TIMEOUT)
        .await;
    assert_eq!(expected_500.error, None);
    let moved = prober
        .probe(&http(format!("http://{server}/moved"), None), TIMEOUT)
        .await;
    assert_eq!(moved.error.as_deref(), Some("status 307, expected 2xx"));
    assert_eq!(
        elsewhere_hits.load(Ordering::Relaxed),
        0,
        "a redirect was followed"
    );
}

#[tokio::test]
async fn http_probe_times_out_on_a_silent_server() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let outcome = Prober::new()
        .unwrap()
        .probe(
            &http(format!("http://{address}/"), None),
            Duration::from_millis(300),
        )
        .await;
    let error = outcome.error.unwrap();
    assert!(
        error.contains("timed out") || error.contains("timeout"),
        "{error}"
    );
    assert!(outcome.duration >= Duration::from_millis(300));
    assert!(outcome.duration < Duration::from_secs(2));
    held.abort();
}

#[tokio::test]
async fn tcp_probe_sees_a_listener_go() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let target = ProbeTarget::Tcp {
        address: address.clone(),
    };
    let prober = Prober::new().unwrap();
    assert_eq!(prober.probe(&target, TIMEOUT).await.error, None);
    drop(listener);
    let error = prober.probe(&target, TIMEOUT).await.error.unwrap();
    assert!(error.starts_with(&format!("connect {address}")), "{error}");
}

#[tokio::test]
async fn grpc_probe_expects_serving() {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("shop.Cart", ServingStatus::Serving)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(tonic::transport::Server::builder().serve_with_incoming(
        service,
        tokio_stream::wrappers::TcpListenerStream::new(listener),
    ));
    let prober = Prober::new().unwrap();
    let cart = ProbeTarget::Grpc {
        address: address.clone(),
        service: "shop.Cart".to_string(),
    };
    assert_eq!(prober.probe(&cart, TIMEOUT).await.error, None);
    let whole_server = ProbeTarget::Grpc {
        address: address.clone(),
        service: String::new(),
    };
    assert_eq!(prober.probe(&whole_server, TIMEOUT).await.error, None);
    reporter
        .set_service_status("shop.Cart", ServingStatus::NotServing)
        .await;
    let error = prober.probe(&cart, TIMEOUT).await.error.unwrap();
    assert_eq!(error, "status NOT_SERVING, expected SERVING");
    let unknown = ProbeTarget::Grpc {
        address,
        service: "shop.Nothing".to_string(),
    };
    let error = prober.probe(&unknown, TIMEOUT).await.error.unwrap();
    assert!(error.contains("NotFound"), "{error}");
}

#[test]
fn samples_carry_exactly_the_contract_labels() {
    let spec = HealthCheckDefinition {
        name: "web".to_string(),
        service: "frontend".to_string(),
        probe: ProbeKind::Http,
        url: Some("http://web:8080/healthz".to_string()),
        expected_status: None,
        address: None,
        grpc_service: None,
        interval: None,
        timeout: None,
        enabled: true,
    }
    .validate()
    .unwrap();
    let batch = probe_batch(&spec, 1_000, 1.0, 0.25);
    let rendered: Vec<Vec<(String, String)>> = batch
        .series
        .iter()
        .map(|series| {
            series
                .labels
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect()
        })
        .collect();
    let expected = |metric: &str| {
        [
            ("__name__", metric),
            ("check", "web"),
            ("instance", "http://web:8080/healthz"),
            ("job", "health_check"),
            ("probe", "http"),
            ("service", "frontend"),
        ]
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .to_vec()
    };
    assert_eq!(
        rendered,
        [
            expected("probe_success"),
            expected("probe_duration_seconds")
        ]
    );
    assert_eq!(batch.series[1].samples[0].value, 0.25);
    assert!(batch
        .metadata
        .iter()
        .all(|metadata| metadata.metric_type == MetricType::Gauge));
}
