//! The Prometheus HTTP API (`/prometheus/api/v1`) against a real [`MetricStore`] in a
//! temporary directory: envelopes, result shapes, parameter syntax, error types and statuses,
//! GET and form-encoded POST, limits and warnings, tenants.
#![allow(clippy::unwrap_used)] // a test binary: a failed unwrap is a failed test

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use sightline_model::{
    Exemplar, Labels, MetricBatch, MetricMetadata, MetricSample, MetricType, SeriesSamples,
    TenantId, TraceId,
};
use sightline_query::{router, QueryConfig};
use sightline_store::{MetricStore, SpanStore, StoreConfig};
use tower::ServiceExt as _;

/// 2023-11-14T22:13:20Z, where every series starts.
const T0_MS: i64 = 1_700_000_000_000;
const T0: &str = "1700000000";

struct TestApi {
    app: axum::Router,
    metrics: MetricStore,
    _dir: tempfile::TempDir,
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> SeriesSamples {
    SeriesSamples {
        labels: Labels::new(labels.iter().copied()),
        samples: samples
            .iter()
            .map(|&(offset_ms, value)| MetricSample {
                timestamp_ms: T0_MS + offset_ms,
                value,
            })
            .collect(),
        exemplars: Vec::new(),
    }
}

/// Every 15 s for 10 minutes from [`T0_MS`]: `up` for two jobs, a counter, a histogram's
/// buckets (with an exemplar) and metadata.
fn fixture_batch() -> MetricBatch {
    let every_15s = |value: &dyn Fn(i64) -> f64| -> Vec<(i64, f64)> {
        (0..=40).map(|i| (i * 15_000, value(i))).collect()
    };
    let mut bucket = series(
        &[("__name__", "latency_seconds_bucket"), ("le", "0.5")],
        &every_15s(&|i| i as f64),
    );
    bucket.exemplars.push(Exemplar {
        labels: Labels::new([("trace_id", "0af7651916cd43dd8448eb211c80319c")]),
        timestamp_ms: T0_MS + 30_000,
        value: 0.25,
        trace_id: Some(TraceId([7; 16])),
        span_id: None,
    });
    MetricBatch {
        series: vec![
            series(
                &[("__name__", "up"), ("job", "api"), ("instance", "a:1")],
                &every_15s(&|_| 1.0),
            ),
            series(
                &[("__name__", "up"), ("job", "db"), ("instance", "b:1")],
                &every_15s(&|_| 0.0),
            ),
            series(
                &[
                    ("__name__", "requests_total"),
                    ("job", "api"),
                    ("code", "200"),
                ],
                &every_15s(&|i| (i * 30) as f64),
            ),
            bucket,
        ],
        metadata: vec![
            MetricMetadata {
                metric_family: "requests_total".into(),
                metric_type: MetricType::Counter,
                help: "Requests served.".into(),
                unit: String::new(),
            },
            MetricMetadata {
                metric_family: "up".into(),
                metric_type: MetricType::Gauge,
                help: "Whether the target is up.".into(),
                unit: String::new(),
            },
        ],
    }
}

async fn test_api(config: QueryConfig) -> TestApi {
    let dir = tempfile::tempdir().unwrap();
    let spans = SpanStore::open(StoreConfig {
        data_dir: dir.path().join("spans"),
        ..StoreConfig::default()
    })
    .await
    .unwrap();
    let metrics = MetricStore::open(StoreConfig {
        data_dir: dir.path().join("metrics"),
        ..StoreConfig::default()
    })
    .await
    .unwrap();
    let logs = sightline_store::LogStore::open(StoreConfig {
        data_dir: dir.path().join("logs"),
        ..StoreConfig::default()
    })
    .await
    .unwrap();
    let outcome = metrics
        .append(&TenantId::default_tenant(), fixture_batch())
        .await
        .unwrap();
    assert_eq!(outcome.rejected_samples, 0);
    TestApi {
        app: router(spans, metrics.clone(), logs, config),
        metrics,
        _dir: dir,
    }
}

impl TestApi {
    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let description = format!("{} {}", request.method(), request.uri());
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_string());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&body).unwrap_or_else(|_| {
            panic!(
                "{description}: {status}, not json: {}",
                String::from_utf8_lossy(&body)
            )
        });
        assert_eq!(
            content_type.as_deref(),
            Some("application/json"),
            "{description}"
        );
        (status, json)
    }

    async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        self.get_as(path_and_query, None).await
    }

    async fn get_as(&self, path_and_query: &str, tenant: Option<&str>) -> (StatusCode, Value) {
        let mut request = Request::get(format!("/prometheus/api/v1{path_and_query}"));
        if let Some(tenant) = tenant {
            request = request.header("X-Scope-OrgID", tenant);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn post_form(&self, path_and_query: &str, form: &str) -> (StatusCode, Value) {
        let request = Request::post(format!("/prometheus/api/v1{path_and_query}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .unwrap();
        self.send(request).await
    }

    /// Asserts a success envelope and returns its data.
    async fn data(&self, path_and_query: &str) -> Value {
        let (status, body) = self.get(path_and_query).await;
        assert_eq!(status, StatusCode::OK, "{path_and_query}: {body}");
        assert_eq!(body["status"], "success", "{path_and_query}: {body}");
        assert!(body.get("warnings").is_none(), "{path_and_query}: {body}");
        body["data"].clone()
    }

    /// Asserts an error envelope of `error_type` with `status`, and returns the message.
    async fn error(&self, path_and_query: &str, status: StatusCode, error_type: &str) -> String {
        let (got_status, body) = self.get(path_and_query).await;
        assert_eq!(got_status, status, "{path_and_query}: {body}");
        assert_eq!(body["status"], "error", "{path_and_query}: {body}");
        assert_eq!(body["errorType"], error_type, "{path_and_query}: {body}");
        assert!(body.get("data").is_none(), "{path_and_query}: {body}");
        body["error"].as_str().unwrap().to_string()
    }
}

/// Encodes a query parameter value.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_queries_answer_every_result_type() {
    let api = test_api(QueryConfig::default()).await;
    let at = format!("time={T0}.5");

    let vector = api.data(&format!("/query?query=up&{at}")).await;
    assert_eq!(vector["resultType"], "vector");
    let mut result = vector["result"].as_array().unwrap().clone();
    result.sort_by_key(|sample| sample["metric"]["job"].as_str().unwrap().to_string());
    assert_eq!(
        result,
        [
            json!({"metric": {"__name__": "up", "instance": "a:1", "job": "api"}, "value": [1_700_000_000.5, "1"]}),
            json!({"metric": {"__name__": "up", "instance": "b:1", "job": "db"}, "value": [1_700_000_000.5, "0"]}),
        ]
    );

    let rate = api
        .data(&format!(
            "/query?query={}&time={}",
            encode("round(sum by (job) (rate(requests_total[5m])))"),
            T0_MS / 1000 + 600
        ))
        .await;
    assert_eq!(
        rate["result"],
        json!([{"metric": {"job": "api"}, "value": [1_700_000_600, "2"]}])
    );

    let scalar = api
        .data(&format!("/query?query={}&{at}", encode("1+1")))
        .await;
    assert_eq!(
        scalar,
        json!({"resultType": "scalar", "result": [1_700_000_000.5, "2"]})
    );

    let string = api
        .data(&format!("/query?query={}&{at}", encode("\"hi\"")))
        .await;
    assert_eq!(
        string,
        json!({"resultType": "string", "result": [1_700_000_000.5, "hi"]})
    );

    let matrix = api
        .data(&format!(
            "/query?query={}&time=2023-11-14T22:13:50Z",
            encode("up{job=\"api\"}[30s]")
        ))
        .await;
    assert_eq!(matrix["resultType"], "matrix");
    assert_eq!(
        matrix["result"][0]["values"],
        json!([[1_700_000_015, "1"], [1_700_000_030, "1"]])
    );

    let specials = api
        .data(&format!(
            "/query?query={}&{at}",
            encode("label_replace(vector(1/0), \"k\", \"inf\", \"\", \"\") or label_replace(vector(-1/0), \"k\", \"minus\", \"\", \"\") or label_replace(vector(0/0), \"k\", \"nan\", \"\", \"\")")
        ))
        .await;
    let mut values: Vec<(String, String)> = specials["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"]["k"].as_str().unwrap().to_string(),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    values.sort();
    assert_eq!(
        values,
        [
            ("inf".to_string(), "+Inf".to_string()),
            ("minus".to_string(), "-Inf".to_string()),
            ("nan".to_string(), "NaN".to_string()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_accept_form_encoded_posts() {
    let api = test_api(QueryConfig::default()).await;
    let form = format!("query={}&time={T0}", encode("count(up)"));
    let (status, body) = api.post_form("/query", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["result"],
        json!([{"metric": {}, "value": [1_700_000_000, "2"]}])
    );

    // As in Go's Request.Form, the body's value wins over the URL's.
    let (_, body) = api
        .post_form(&format!("/query?query=1&time={T0}"), &form)
        .await;
    assert_eq!(body["data"]["resultType"], "vector");

    let form = format!("query=up&start={T0}&end={}&step=300", T0_MS / 1000 + 600);
    let (status, body) = api.post_form("/query_range", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["result"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_queries_return_matrices_over_head_and_parts() {
    let api = test_api(QueryConfig::default()).await;
    // Move the fixture to Parquet parts, then extend a series in the head: the query reads
    // both.
    api.metrics.flush().await.unwrap();
    let later = MetricBatch {
        series: vec![series(
            &[("__name__", "up"), ("job", "api"), ("instance", "a:1")],
            &[(615_000, 1.0), (630_000, 1.0)],
        )],
        metadata: Vec::new(),
    };
    api.metrics
        .append(&TenantId::default_tenant(), later)
        .await
        .unwrap();

    let start = T0_MS / 1000 + 540;
    let data = api
        .data(&format!(
            "/query_range?query={}&start={start}&end=2023-11-14T22:23:50Z&step=30s",
            encode("up{job=\"api\"}")
        ))
        .await;
    assert_eq!(
        data,
        json!({"resultType": "matrix", "result": [{
            "metric": {"__name__": "up", "instance": "a:1", "job": "api"},
            "values": [[start, "1"], [start + 30, "1"], [start + 60, "1"], [start + 90, "1"]],
        }]})
    );

    // Float steps, and scalar expressions become one series without labels.
    let scalar = api
        .data(&format!(
            "/query_range?query=time()&start={T0}&end={}&step=0.5",
            T0_MS / 1000 + 1
        ))
        .await;
    assert_eq!(
        scalar["result"],
        json!([{"metric": {}, "values": [
            [1_700_000_000, "1700000000"], [1_700_000_000.5, "1700000000.5"], [1_700_000_001, "1700000001"]
        ]}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_reading_more_than_the_scan_budget_are_refused() {
    let query = format!(
        "/query_range?query={}&start={T0}&end=2023-11-14T22:23:50Z&step=30s",
        encode("up{job=\"api\"}")
    );
    // In the head, nothing is read from parts: a one-byte budget is enough.
    let api = test_api(QueryConfig {
        max_bytes_scanned_per_query: 1,
        ..QueryConfig::default()
    })
    .await;
    api.data(&query).await;
    // From Parquet parts, the pages read are charged and the budget runs out.
    api.metrics.flush().await.unwrap();
    let message = api.error(&query, StatusCode::BAD_REQUEST, "bad_data").await;
    assert!(
        message.contains("query.max_bytes_scanned_per_query"),
        "{message}"
    );
    // The refusal says nothing against the part: it is not quarantined (the query would then
    // read nothing and answer empty), so the same query is refused again.
    let again = api.error(&query, StatusCode::BAD_REQUEST, "bad_data").await;
    assert_eq!(again, message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_over_the_configured_sample_limit_are_refused() {
    let query = format!(
        "/query_range?query={}&start={T0}&end=2023-11-14T22:23:50Z&step=30s",
        encode("sum(count_over_time(up[10m]))")
    );
    let api = test_api(QueryConfig::default()).await;
    api.data(&query).await;
    let api = test_api(QueryConfig {
        max_samples_per_query: 1,
        ..QueryConfig::default()
    })
    .await;
    let message = api
        .error(&query, StatusCode::UNPROCESSABLE_ENTITY, "execution")
        .await;
    assert!(message.contains("too many samples"), "{message}");
    let flags = api.data("/status/flags").await;
    assert_eq!(flags["query.max-samples"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_answer_prometheus_errors() {
    let api = test_api(QueryConfig::default()).await;
    let bad = StatusCode::BAD_REQUEST;

    let message = api.error("/query?query=sum(", bad, "bad_data").await;
    assert!(message.contains("parse error"), "{message}");
    api.error("/query?time=1", bad, "bad_data").await;
    let message = api
        .error("/query?query=up&time=yesterday", bad, "bad_data")
        .await;
    assert!(
        message.contains("time") && message.contains("cannot parse \"yesterday\""),
        "{message}"
    );
    api.error("/query?query=up&timeout=soon", bad, "bad_data")
        .await;

    // Many-to-many matching parses but cannot run: execution, 422.
    let message = api
        .error(
            &format!("/query?query={}&time={T0}", encode("up + on() up")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "execution",
        )
        .await;
    assert!(message.contains("many-to-many"), "{message}");

    let range = |params: &str| format!("/query_range?query=up&{params}");
    api.error(&range("start=0&end=60"), bad, "bad_data").await;
    api.error(&range("start=60&end=0&step=15"), bad, "bad_data")
        .await;
    api.error(&range("start=0&end=60&step=0"), bad, "bad_data")
        .await;
    let message = api
        .error(&range("start=0&end=11001&step=1"), bad, "bad_data")
        .await;
    assert!(message.contains("11,000 points"), "{message}");
    // Exactly 11,000 steps is Prometheus' largest resolution.
    let (status, _) = api.get(&range("start=0&end=11000&step=1")).await;
    assert_eq!(status, StatusCode::OK);
    let message = api
        .error(
            &format!(
                "/query_range?query={}&start=0&end=60&step=15",
                encode("up[5m]")
            ),
            bad,
            "bad_data",
        )
        .await;
    assert!(
        message.contains("invalid expression type \"range vector\""),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_past_their_timeout_answer_timeout() {
    let api = test_api(QueryConfig::default()).await;
    let message = api
        .error(
            &format!("/query?query=up&time={T0}&timeout=0.000000001"),
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
        )
        .await;
    assert!(message.contains("timed out"), "{message}");
    let message = api
        .error(
            &format!("/query_range?query=up&start={T0}&end={T0}&step=1&timeout=0.000000001"),
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
        )
        .await;
    assert!(message.contains("timed out"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_labels_and_values() {
    let api = test_api(QueryConfig::default()).await;

    api.error("/series", StatusCode::BAD_REQUEST, "bad_data")
        .await;
    api.error(
        &format!("/series?match[]={}", encode("sum(up)")),
        StatusCode::BAD_REQUEST,
        "bad_data",
    )
    .await;
    let found = api
        .data(&format!("/series?match[]={}", encode("up{job=\"db\"}")))
        .await;
    assert_eq!(
        found,
        json!([{"__name__": "up", "instance": "b:1", "job": "db"}])
    );
    let form = format!(
        "match[]={}&match[]={}&start={T0}&end={}",
        encode("up"),
        encode("requests_total"),
        T0_MS / 1000 + 60
    );
    let (status, body) = api.post_form("/series", &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    // Outside the samples' time range nothing matches.
    let empty = api.data("/series?match[]=up&start=0&end=1").await;
    assert_eq!(empty, json!([]));

    let (_, truncated) = api.get("/series?match[]=up&limit=1").await;
    assert_eq!(truncated["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        truncated["warnings"],
        json!(["results truncated due to limit"])
    );

    let names = api.data("/labels").await;
    assert_eq!(names, json!(["__name__", "code", "instance", "job", "le"]));
    let names = api
        .data(&format!("/labels?match[]={}", encode("requests_total")))
        .await;
    assert_eq!(names, json!(["__name__", "code", "job"]));
    let (status, body) = api
        .post_form("/labels", &format!("match[]=up&start={T0}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], json!(["__name__", "instance", "job"]));

    let metrics = api.data("/label/__name__/values").await;
    assert_eq!(
        metrics,
        json!(["latency_seconds_bucket", "requests_total", "up"])
    );
    let jobs = api.data("/label/job/values?match[]=up").await;
    assert_eq!(jobs, json!(["api", "db"]));
    let (_, limited) = api.get("/label/job/values?limit=1").await;
    assert_eq!(limited["data"], json!(["api"]));
    assert_eq!(
        limited["warnings"],
        json!(["results truncated due to limit"])
    );
    assert_eq!(api.data("/label/nothing/values").await, json!([]));
    api.error(
        "/label/job/values?limit=-1",
        StatusCode::BAD_REQUEST,
        "bad_data",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_and_exemplars() {
    let api = test_api(QueryConfig::default()).await;

    let all = api.data("/metadata").await;
    assert_eq!(
        all,
        json!({
            "requests_total": [{"type": "counter", "help": "Requests served.", "unit": ""}],
            "up": [{"type": "gauge", "help": "Whether the target is up.", "unit": ""}],
        })
    );
    let one = api.data("/metadata?metric=up").await;
    assert_eq!(one.as_object().unwrap().len(), 1);
    let limited = api.data("/metadata?limit=1").await;
    assert_eq!(limited.as_object().unwrap().len(), 1);
    api.error("/metadata?limit=x", StatusCode::BAD_REQUEST, "bad_data")
        .await;

    let exemplars = api
        .data(&format!(
            "/query_exemplars?query={}&start={T0}&end={}",
            encode("histogram_quantile(0.9, rate(latency_seconds_bucket[5m]))"),
            T0_MS / 1000 + 600
        ))
        .await;
    assert_eq!(
        exemplars,
        json!([{
            "seriesLabels": {"__name__": "latency_seconds_bucket", "le": "0.5"},
            "exemplars": [{
                "labels": {"trace_id": "0af7651916cd43dd8448eb211c80319c"},
                "value": "0.25",
                "timestamp": 1_700_000_030,
            }],
        }])
    );
    let none = api
        .data(&format!("/query_exemplars?query=up&start={T0}"))
        .await;
    assert_eq!(none, json!([]));
    api.error(
        "/query_exemplars?query=up&start=10&end=5",
        StatusCode::BAD_REQUEST,
        "bad_data",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_format_endpoints() {
    let api = test_api(QueryConfig::default()).await;
    let build = api.data("/status/buildinfo").await;
    assert!(build["version"].as_str().unwrap().starts_with("3."));
    for field in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(build[field].is_string(), "{field}");
    }
    let flags = api.data("/status/flags").await;
    assert_eq!(flags["query.timeout"], "2m");
    assert_eq!(flags["query.lookback-delta"], "5m");

    let formatted = api
        .data(&format!(
            "/format_query?query={}",
            encode("sum(rate(x[5m]))by(job)")
        ))
        .await;
    assert_eq!(formatted, json!("sum by (job) (rate(x[5m]))"));
    api.error(
        "/format_query?query=sum(",
        StatusCode::BAD_REQUEST,
        "bad_data",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_see_only_their_series() {
    let api = test_api(QueryConfig {
        multi_tenancy: true,
        ..QueryConfig::default()
    })
    .await;
    let other = TenantId::new("team-b").unwrap();
    let batch = MetricBatch {
        series: vec![series(&[("__name__", "up"), ("job", "b")], &[(0, 1.0)])],
        metadata: Vec::new(),
    };
    api.metrics.append(&other, batch).await.unwrap();

    let (_, body) = api
        .get_as(&format!("/query?query=up&time={T0}"), Some("team-b"))
        .await;
    assert_eq!(
        body["data"]["result"],
        json!([{"metric": {"__name__": "up", "job": "b"}, "value": [1_700_000_000, "1"]}])
    );
    let (_, body) = api.get_as("/label/job/values", Some("team-b")).await;
    assert_eq!(body["data"], json!(["b"]));
    let (_, body) = api.get("/label/job/values").await;
    assert_eq!(body["data"], json!(["api", "db"]));
    let (status, body) = api.get_as("/labels", Some("../etc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorType"], "bad_data");
}
