//! The health API's tests: the sparkline steps, and the services list over a real metric store.
use sightline_model::{Labels, MetricBatch, MetricSample, SeriesSamples, TenantId};
use sightline_store::{LogStore, MetricStore, SpanStore, StoreConfig};

use super::*;

fn params(text: &str) -> QueryParams {
    QueryParams::new(
        text.split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn windows_default_to_the_last_hour_and_must_be_ordered() {
    let asked = asked_window(&params("end=7200000000000")).unwrap();
    assert_eq!(asked.start_unix_nano, 3_600_000_000_000);
    assert_eq!(asked.window.length_ms, 3_600_000);
    assert_eq!(asked.window.end_ms, 7_200_000);
    let error = asked_window(&params("start=5&end=5")).unwrap_err();
    assert!(error.to_string().contains("start"), "{error}");
}

#[test]
fn steps_snap_to_nice_values_and_rate_windows_cover_four_samples() {
    // One hour: 30 s steps (3600 / 120), rate over 45 s... at least 4 × 15 s.
    assert_eq!(
        series_step(&params(""), 3_600_000, 15).unwrap(),
        (30_000, 60_000)
    );
    // A day: 15-minute steps.
    assert_eq!(
        series_step(&params(""), 86_400_000, 15).unwrap(),
        (900_000, 915_000)
    );
    // Never finer than the sample interval.
    assert_eq!(
        series_step(&params(""), 60_000, 15).unwrap(),
        (15_000, 60_000)
    );
    assert_eq!(
        series_step(&params("step=5s"), 60_000, 1).unwrap(),
        (5_000, 6_000)
    );
    assert!(series_step(&params("step=10ms"), 60_000, 1).is_err());
    assert!(series_step(&params("step=1s"), 86_400_000 * 7, 1).is_err());
}

#[test]
fn sparkline_steps_span_the_window_and_end_at_its_end() {
    let hour = Window {
        end_ms: 7_200_000,
        length_ms: 3_600_000,
    };
    assert_eq!(sparkline_steps(&params(""), hour, 15).unwrap(), None);
    // An hour in 30 points: two minutes apart, the last at the window's end.
    assert_eq!(
        sparkline_steps(&params("sparkline_points=30"), hour, 15).unwrap(),
        Some(SparklineSteps {
            start_ms: 7_200_000 - 29 * 120_000,
            end_ms: 7_200_000,
            step_ms: 120_000,
            rate_window_ms: 135_000,
        })
    );
    // Five minutes cannot have 30 points 15 s apart: 20 of them.
    let short = Window {
        end_ms: 7_200_000,
        length_ms: 300_000,
    };
    let steps = sparkline_steps(&params("sparkline_points=30"), short, 15)
        .unwrap()
        .unwrap();
    assert_eq!(steps.step_ms, 15_000);
    assert_eq!((steps.end_ms - steps.start_ms) / steps.step_ms + 1, 20);
    for bad in ["1", "121", "-3", "ten", "2.5"] {
        let error =
            sparkline_steps(&params(&format!("sparkline_points={bad}")), hour, 15).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("sparkline_points") && text.contains("from 2 to 120"),
            "{bad}: {text}"
        );
    }
}

/// Samples of a counter every 15 s over the 20 minutes before `end_ms`, rising by
/// `per_second` a second.
fn counter(labels: &[(&str, &str)], end_ms: i64, per_second: f64) -> SeriesSamples {
    SeriesSamples {
        labels: Labels::new(labels.iter().copied()),
        samples: (0..=80)
            .map(|i| MetricSample {
                timestamp_ms: end_ms - 1_200_000 + i * 15_000,
                value: per_second * (i * 15) as f64,
            })
            .collect(),
        exemplars: Vec::new(),
    }
}

fn calls(service: &str, kind: &str, status: &str, end_ms: i64, per_second: f64) -> SeriesSamples {
    counter(
        &[
            ("__name__", crate::health::stats::CALLS),
            ("service", service),
            ("span_name", "GET /"),
            ("span_kind", kind),
            ("status_code", status),
        ],
        end_ms,
        per_second,
    )
}

async fn get_json(app: &Router, path: &str) -> (http::StatusCode, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = app
        .clone()
        .oneshot(
            http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_list_adds_sparklines_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        data_dir: dir.path().to_path_buf(),
        ..StoreConfig::default()
    };
    let metrics = MetricStore::open(config.clone()).await.unwrap();
    let end_ms = i64::try_from(now_unix_nano() / 1_000_000).unwrap() / 15_000 * 15_000;
    let probe = counter(
        &[
            ("__name__", "probe_success"),
            ("job", "health_check"),
            ("service", "db"),
            ("check", "db-tcp"),
        ],
        end_ms,
        0.0,
    );
    let batch = MetricBatch {
        series: vec![
            calls("cart", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET", end_ms, 3.0),
            calls("cart", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR", end_ms, 1.0),
            // Not counted: cart is measured on its entry spans.
            calls(
                "cart",
                "SPAN_KIND_CLIENT",
                "STATUS_CODE_ERROR",
                end_ms,
                50.0,
            ),
            calls("cron", "SPAN_KIND_INTERNAL", "STATUS_CODE_OK", end_ms, 0.5),
            probe,
        ],
        metadata: Vec::new(),
    };
    metrics
        .append(&TenantId::default_tenant(), batch)
        .await
        .unwrap();
    let app = crate::router(
        SpanStore::open(config.clone()).await.unwrap(),
        metrics,
        LogStore::open(config).await.unwrap(),
        crate::QueryConfig::default(),
    );
    let nanos = |ms: i64| ms * 1_000_000;
    let window = format!("start={}&end={}", nanos(end_ms - 600_000), nanos(end_ms));

    let (status, plain) = get_json(&app, &format!("/api/v1/services?{window}")).await;
    assert_eq!(status, http::StatusCode::OK, "{plain}");
    assert!(plain.get("sparklineStepSeconds").is_none(), "{plain}");
    assert!(plain["services"][0].get("sparkline").is_none(), "{plain}");

    let (status, body) = get_json(
        &app,
        &format!("/api/v1/services?{window}&sparkline_points=10"),
    )
    .await;
    assert_eq!(status, http::StatusCode::OK, "{body}");
    assert_eq!(body["sparklineStepSeconds"], 60.0, "{body}");
    let services = body["services"].as_array().unwrap();
    let names: Vec<&str> = services
        .iter()
        .filter_map(|service| service["name"].as_str())
        .collect();
    assert_eq!(names, ["cart", "cron", "db"]);
    let points = |service: usize, series: &str| -> Vec<(i64, f64)> {
        serde_json::from_value(services[service]["sparkline"][series].clone()).unwrap()
    };
    let times: Vec<i64> = (0..10).map(|i| end_ms - 540_000 + i * 60_000).collect();
    let near = |actual: Vec<(i64, f64)>, value: f64| {
        assert_eq!(
            actual.iter().map(|(at, _)| *at).collect::<Vec<_>>(),
            times,
            "{actual:?}"
        );
        assert!(
            actual.iter().all(|(_, v)| (v - value).abs() < 1e-9),
            "{actual:?} is not {value}"
        );
    };
    near(points(0, "rate"), 4.0);
    near(points(0, "errorRatio"), 0.25);
    near(points(1, "rate"), 0.5);
    near(points(1, "errorRatio"), 0.0);
    // A service known only from its health check has empty series.
    assert!(points(2, "rate").is_empty() && points(2, "errorRatio").is_empty());

    let (status, refused) = get_json(
        &app,
        &format!("/api/v1/services?{window}&sparkline_points=500"),
    )
    .await;
    assert_eq!(status, http::StatusCode::BAD_REQUEST, "{refused}");
    let message = refused["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("sparkline_points") && message.contains("from 2 to 120"),
        "{refused}"
    );
}
