//! The health API (`/api/v1/services`, `/api/v1/services/{service}`, `/api/v1/dependencies`)
//! and Jaeger's `/jaeger/api/dependencies`, checked against the known truth of the
//! service-graph workload (see `service_graph.rs`): every service served `n` requests,
//! `payments` failed `failed` of them (20%, over the default 5% objective, so it is
//! unhealthy), and the latencies fall in known buckets.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::server::TestServer;

fn get(server: &TestServer, path: &str) -> (u16, Json) {
    let response = reqwest::blocking::get(server.url(path)).unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

fn number(value: &Json) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

fn close(actual: &Json, expected: f64) {
    let actual = number(actual);
    assert!(
        (actual - expected).abs() < 1e-6,
        "{actual} is not {expected}"
    );
}

/// Checks every health endpoint after a workload of `n` requests with `failed` failed
/// charges (counted over the default window, the last hour).
pub(crate) fn check_health_api(server: &TestServer, n: f64, failed: f64) {
    check_services(server, n, failed);
    check_sparklines(server);
    check_service_page(server, n, failed);
    check_dependencies(server, n, failed);
    check_jaeger_dependencies(server, n);
    check_bad_requests(server);
}

fn check_services(server: &TestServer, n: f64, failed: f64) {
    let (status, body) = get(server, "/api/v1/services");
    assert_eq!(status, 200, "{body}");
    let services: BTreeMap<String, Json> = body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|service| {
            (
                service["name"].as_str().unwrap().to_string(),
                service.clone(),
            )
        })
        .collect();
    let names: Vec<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["cart", "checkout", "frontend", "payments", "shipping"]
    );
    for (name, service) in &services {
        // Counted exactly: what the spans said, not an extrapolation.
        close(&service["requests"], n);
        assert_eq!(service["measuredOn"], "entry_spans", "{name}");
        if name == "payments" {
            close(&service["errors"], failed);
            close(&service["errorRatio"], failed / n);
            assert_eq!(service["status"], "unhealthy", "{service}");
            assert_eq!(
                service["reasons"],
                serde_json::json!(["error ratio 20.0% above 5.0%"])
            );
        } else {
            close(&service["errors"], 0.0);
            assert_eq!(service["status"], "healthy", "{name}: {service}");
        }
    }
    // Every `GET /checkout` took 300 ms, in the (256 ms, 512 ms] bucket: quantiles
    // interpolate inside it as histogram_quantile does.
    let latency = &services["frontend"]["latencyMs"];
    close(&latency["p50"], 384.0);
    close(&latency["p99"], 256.0 + 256.0 * 0.99);
    // Every charge took 80 ms, in (64 ms, 128 ms].
    close(
        &services["payments"]["latencyMs"]["p99"],
        64.0 + 64.0 * 0.99,
    );
}

/// `sparkline_points` adds each service's request rate and error ratio over time: only
/// payments failed, and no series has more points than asked.
fn check_sparklines(server: &TestServer) {
    // As on the service page, `rate` needs two flushes of a series inside a point's window.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let body = loop {
        let (status, body) = get(server, "/api/v1/services?sparkline_points=30");
        assert_eq!(status, 200, "{body}");
        let drawn = body["services"].as_array().is_some_and(|services| {
            services.iter().all(|service| {
                service["sparkline"]["rate"]
                    .as_array()
                    .is_some_and(|points| points.iter().any(|point| number(&point[1]) > 0.0))
            })
        });
        if drawn || std::time::Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    // An hour in 30 points: two minutes apart.
    close(&body["sparklineStepSeconds"], 120.0);
    for service in body["services"].as_array().unwrap() {
        let name = service["name"].as_str().unwrap();
        let line = &service["sparkline"];
        let rate = line["rate"].as_array().unwrap();
        assert!(
            !rate.is_empty() && rate.len() <= 30,
            "{name}: {} rate points",
            rate.len()
        );
        assert!(
            rate.iter().any(|point| number(&point[1]) > 0.0),
            "{name}: no requests in {line}"
        );
        let ratios: Vec<f64> = line["errorRatio"]
            .as_array()
            .unwrap()
            .iter()
            .map(|point| number(&point[1]))
            .collect();
        assert!(
            ratios.iter().all(|ratio| (0.0..=1.0).contains(ratio)),
            "{name}: {line}"
        );
        let failing = ratios.iter().any(|ratio| *ratio > 0.0);
        assert_eq!(failing, name == "payments", "{name}: {line}");
    }
}

fn check_service_page(server: &TestServer, n: f64, failed: f64) {
    // `rate` needs two flushes of a series inside a step's window: right after the workload
    // there may be one, so wait (a little) for the series to have points.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let page = loop {
        let (status, page) = get(server, "/api/v1/services/payments?step=1s");
        assert_eq!(status, 200, "{page}");
        let has_points = page["series"]["rate"]
            .as_array()
            .is_some_and(|points| !points.is_empty());
        if has_points || std::time::Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert_eq!(page["service"]["status"], "unhealthy");
    close(&page["stepSeconds"], 1.0);

    let operations: Vec<(String, String, f64, f64)> = page["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|operation| {
            (
                operation["name"].as_str().unwrap().to_string(),
                operation["spanKind"].as_str().unwrap().to_string(),
                number(&operation["requests"]),
                number(&operation["errors"]),
            )
        })
        .collect();
    let mut sorted = operations.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        sorted,
        [
            ("POST /v1/charges".into(), "SPAN_KIND_CLIENT".into(), n, 0.0),
            ("charge".into(), "SPAN_KIND_SERVER".into(), n, failed),
        ]
    );

    // Error traces: the failed charges' traces (at most ten).
    let traces = page["errorTraces"].as_array().unwrap();
    assert_eq!(traces.len() as f64, failed.min(10.0), "{traces:?}");
    for trace in traces {
        assert_eq!(trace["traceId"].as_str().unwrap().len(), 32);
        assert!(trace["errorCount"].as_u64().unwrap() >= 1);
    }

    let edge = |side: &str| -> Vec<(String, String, f64, f64)> {
        page[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| {
                (
                    edge["client"].as_str().unwrap().to_string(),
                    edge["server"].as_str().unwrap().to_string(),
                    number(&edge["requests"]),
                    number(&edge["errors"]),
                )
            })
            .collect()
    };
    assert_eq!(
        edge("upstream"),
        [("checkout".into(), "payments".into(), n, failed)]
    );
    assert_eq!(
        edge("downstream"),
        [("payments".into(), "api.stripe.test".into(), n, 0.0)]
    );

    // The RED series have points, with rates and the error ratio where there was traffic.
    let series = &page["series"];
    let rates = series["rate"].as_array().unwrap();
    assert!(!rates.is_empty());
    assert!(rates.iter().any(|point| number(&point[1]) > 0.0));
    let ratios = series["errorRatio"].as_array().unwrap();
    assert!(ratios
        .iter()
        .all(|point| (0.0..=1.0).contains(&number(&point[1]))));
    assert!(!series["latencyMs"]["p99"].as_array().unwrap().is_empty());

    let (status, missing) = get(server, "/api/v1/services/no-such-service");
    assert_eq!(status, 404, "{missing}");
    assert!(missing["error"]
        .as_str()
        .unwrap()
        .contains("no-such-service"));
}

fn check_dependencies(server: &TestServer, n: f64, failed: f64) {
    let (status, graph) = get(server, "/api/v1/dependencies");
    assert_eq!(status, 200, "{graph}");
    let nodes: Vec<(String, String, String)> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            (
                node["name"].as_str().unwrap().to_string(),
                node["kind"].as_str().unwrap().to_string(),
                node["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("api.stripe.test", "external", "healthy"),
        ("cart", "service", "healthy"),
        ("checkout", "service", "healthy"),
        ("frontend", "service", "healthy"),
        ("orders", "database", "healthy"),
        ("payments", "service", "unhealthy"),
        ("redis", "database", "healthy"),
        ("shipping", "service", "healthy"),
        ("user", "user", "healthy"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(nodes, expected);

    let edges = graph["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 8, "{edges:?}");
    for edge in edges {
        close(&edge["requests"], n);
        let to_payments = edge["server"] == "payments";
        close(&edge["errors"], if to_payments { failed } else { 0.0 });
    }
    // The database edge has only the client's view of latency: 12 ms, in (8 ms, 16 ms].
    let orders = edges
        .iter()
        .find(|edge| edge["server"] == "orders")
        .unwrap();
    assert_eq!(orders["connectionType"], "database");
    close(&orders["latencyMs"]["p50"], 12.0);
}

fn check_jaeger_dependencies(server: &TestServer, n: f64) {
    let (status, body) = get(server, "/jaeger/api/dependencies?lookback=3600000");
    assert_eq!(status, 200, "{body}");
    let mut links: Vec<(String, String, u64)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|link| {
            (
                link["parent"].as_str().unwrap().to_string(),
                link["child"].as_str().unwrap().to_string(),
                link["callCount"].as_u64().unwrap(),
            )
        })
        .collect();
    links.sort();
    let calls = n as u64;
    let expected: Vec<(String, String, u64)> = [
        ("cart", "redis"),
        ("checkout", "orders"),
        ("checkout", "payments"),
        ("checkout", "shipping"),
        ("frontend", "cart"),
        ("frontend", "checkout"),
        ("payments", "api.stripe.test"),
    ]
    .iter()
    .map(|(parent, child)| (parent.to_string(), child.to_string(), calls))
    .collect();
    assert_eq!(links, expected, "calls from outside (user) are left out");
}

fn check_bad_requests(server: &TestServer) {
    for path in [
        "/api/v1/services?start=2000000000000000000&end=1000000000000000000",
        "/api/v1/dependencies?end=yesterday",
        "/api/v1/services/payments?step=1ms",
        "/api/v1/services?sparkline_points=500",
    ] {
        let (status, body) = get(server, path);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    let (status, body) = get(server, "/jaeger/api/dependencies?lookback=-1");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], 400);
}
