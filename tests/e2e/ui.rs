//! The web UI in a real headless Chromium: the real binary receives a known workload over
//! OTLP/HTTP JSON, then `ui/e2e/walk.mjs` (playwright-core driving Debian's Chromium) walks
//! the services table, a service's page, the dependency map, trace search, the trace view (a
//! small trace with its logs and search within it, and a 10,000-span one with its minimap),
//! the logs explorer (native and LogQL search, histogram, metric chart, details, a virtualised
//! list of thousands of records, live tail), the metrics explorer (completion of names and
//! label values, graph, table), the alerts page (a rule file, and a rule created, tested,
//! disabled, edited and deleted through the form), deep links and error pages, and saves
//! screenshots under `target/ui-screenshots/`.
//!
//! Chromium is not skipped when missing: the test fails and says how to install it (`.ci/run`
//! installs it on CI). `playwright-core` comes from `ui/node_modules`, which the build's
//! `npm ci` installs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fixtures::{now_nanos, post_json, rich_trace, trace_id_hex};
use crate::server::TestServer;

/// Where Debian's `chromium` package installs the browser.
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long the whole walk may take before it is killed.
const WALK_DEADLINE: Duration = Duration::from_secs(240);
/// Spans of the large trace: the trace view must stay usable at this size.
const BIG_TRACE_SPANS: usize = 10_000;
/// Children of each mid-level span of the large trace.
const BIG_TRACE_FANOUT: usize = 100;
/// Log records of the bulk import: enough that the logs explorer's list must be virtualised.
const BULK_LOG_RECORDS: usize = 3_000;
const MS: u64 = 1_000_000;

fn attribute(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

fn resource_spans(service: &str, spans: Vec<Value>) -> Value {
    json!({
        "resource": {"attributes": [attribute("service.name", service)]},
        "scopeSpans": [{"scope": {"name": "ui-e2e"}, "spans": spans}]
    })
}

struct SpanSpec<'a> {
    trace_id: &'a str,
    span_id: String,
    parent: Option<String>,
    name: &'a str,
    kind: u8,
    start: u64,
    end: u64,
    error: Option<&'a str>,
    attributes: Vec<Value>,
}

fn span(spec: SpanSpec<'_>) -> Value {
    let mut span = json!({
        "traceId": spec.trace_id,
        "spanId": spec.span_id,
        "name": spec.name,
        "kind": spec.kind,
        "startTimeUnixNano": spec.start.to_string(),
        "endTimeUnixNano": spec.end.to_string(),
        "attributes": spec.attributes,
    });
    if let Some(parent) = spec.parent {
        span["parentSpanId"] = json!(parent);
    }
    if let Some(message) = spec.error {
        span["status"] = json!({"code": 2, "message": message});
    }
    span
}

/// The span ids of one checkout trace, root first.
fn checkout_span_ids(seed: usize) -> [String; 5] {
    ["a", "b", "c", "d", "e"].map(|prefix| format!("{prefix}{seed:015x}"))
}

/// frontend `GET /checkout` → its client call → checkout `POST /checkout` → `charge` (client)
/// → payments `POST /charge`, each strictly inside its parent so all five are on the critical
/// path; with `declined`, the charge and its server span fail.
fn checkout_trace(trace_id: &str, seed: usize, start: u64, declined: bool) -> Value {
    let [root, call, checkout, charge, payment] = checkout_span_ids(seed);
    let error = declined.then_some("card declined");
    let spec = |span_id: &str, parent: Option<&str>, name, kind, (from, to): (u64, u64)| SpanSpec {
        trace_id,
        span_id: span_id.to_string(),
        parent: parent.map(str::to_string),
        name,
        kind,
        start: start + from * MS,
        end: start + to * MS,
        error: None,
        attributes: Vec::new(),
    };
    json!({"resourceSpans": [
        resource_spans("frontend", vec![
            span(SpanSpec {
                attributes: vec![attribute("http.route", "/checkout")],
                ..spec(&root, None, "GET /checkout", 2, (0, 120))
            }),
            span(spec(&call, Some(&root), "POST checkout", 3, (5, 110))),
        ]),
        resource_spans("checkout", vec![
            span(spec(&checkout, Some(&call), "POST /checkout", 2, (8, 105))),
            span(SpanSpec { error, ..spec(&charge, Some(&checkout), "charge", 3, (20, 60)) }),
        ]),
        resource_spans("payments", vec![span(SpanSpec {
            error,
            attributes: vec![attribute("payment.provider", "stripe")],
            ..spec(&payment, Some(&charge), "POST /charge", 2, (22, 58))
        })]),
    ]})
}

/// A 10,000-span trace of `importer`: a root, 99 mid-level spans, and 100 leaves under each
/// (the last mid-level span takes the remainder). Returns the export and the id of the span
/// the waterfall shows last.
fn big_trace(trace_id: &str, start: u64) -> (Value, String) {
    let id = |n: usize| format!("{n:016x}");
    let mut spans = vec![span(SpanSpec {
        trace_id,
        span_id: id(1),
        parent: None,
        name: "import batch",
        kind: 2,
        start,
        end: start + 2_000 * MS,
        error: None,
        attributes: Vec::new(),
    })];
    let mids = (BIG_TRACE_SPANS - 1) / (BIG_TRACE_FANOUT + 1);
    let mut next = 2;
    let mut last = id(1);
    for mid in 0..mids {
        let mid_id = id(next);
        next += 1;
        let mid_start = start + (mid as u64) * 20 * MS;
        spans.push(span(SpanSpec {
            trace_id,
            span_id: mid_id.clone(),
            parent: Some(id(1)),
            name: "import file",
            kind: 1,
            start: mid_start,
            end: mid_start + 19 * MS,
            error: None,
            attributes: Vec::new(),
        }));
        let leaves = if mid + 1 == mids {
            BIG_TRACE_SPANS - spans.len()
        } else {
            BIG_TRACE_FANOUT
        };
        for leaf in 0..leaves {
            let leaf_start = mid_start + (leaf as u64) * 150_000;
            last = id(next);
            spans.push(span(SpanSpec {
                trace_id,
                span_id: last.clone(),
                parent: Some(mid_id.clone()),
                name: "insert row",
                kind: 3,
                start: leaf_start,
                end: leaf_start + 100_000,
                error: None,
                attributes: Vec::new(),
            }));
            next += 1;
        }
    }
    assert_eq!(spans.len(), BIG_TRACE_SPANS);
    (
        json!({"resourceSpans": [resource_spans("importer", spans)]}),
        last,
    )
}

/// A checkout span that reads the `orders` database (a CLIENT span with `db.system`): the
/// service graph draws an edge to a virtual database node for it at once.
fn database_trace(trace_id: &str, seed: usize, start: u64) -> Value {
    json!({"resourceSpans": [resource_spans("checkout", vec![span(SpanSpec {
        trace_id,
        span_id: format!("f{seed:015x}"),
        parent: None,
        name: "SELECT orders",
        kind: 3,
        start,
        end: start + 7 * MS,
        error: None,
        attributes: vec![attribute("db.system", "postgresql"), attribute("db.name", "orders")],
    })])]})
}

/// Log records of checkout: an error carrying a rare token and the declined charge's trace
/// and span, an info and a warning.
fn checkout_logs(now: u64, trace_id: &str, span_id: &str) -> Value {
    let record = |ago_ms: u64, severity: u8, text: &str, body: &str| {
        json!({
            "timeUnixNano": (now - ago_ms * MS).to_string(),
            "severityNumber": severity,
            "severityText": text,
            "body": {"stringValue": body},
        })
    };
    let mut error = record(
        30_000,
        17,
        "ERROR",
        "charge failed: zebracorn card declined",
    );
    error["attributes"] = json!([attribute("payment.provider", "stripe")]);
    error["traceId"] = json!(trace_id);
    error["spanId"] = json!(span_id);
    json!({"resourceLogs": [{
        "resource": {"attributes": [attribute("service.name", "checkout")]},
        "scopeLogs": [{"scope": {"name": "ui-e2e"}, "logRecords": [
            record(40_000, 9, "INFO", "checkout started"),
            error,
            record(20_000, 13, "WARN", "slow inventory lookup"),
        ]}]
    }]})
}

/// Log records of one checkout trace besides checkout's error (see [`checkout_logs`]): the
/// frontend's for the root span as the request came in, and one of payments naming the
/// trace but no span. Both are INFO and of other services than checkout, so the log
/// explorer's checkout and severity expectations hold.
fn trace_logs(trace_id: &str, root_span_id: &str, start: u64) -> Value {
    let record = |service: &str, at_ms: u64, body: &str, span_id: Option<&str>| {
        let mut record = json!({
            "timeUnixNano": (start + at_ms * MS).to_string(),
            "severityNumber": 9,
            "severityText": "INFO",
            "body": {"stringValue": body},
            "traceId": trace_id,
        });
        if let Some(span_id) = span_id {
            record["spanId"] = json!(span_id);
        }
        json!({
            "resource": {"attributes": [attribute("service.name", service)]},
            "scopeLogs": [{"scope": {"name": "ui-e2e"}, "logRecords": [record]}]
        })
    };
    json!({"resourceLogs": [
        record("frontend", 1, "checkout request received", Some(root_span_id)),
        record("payments", 40, "card network answered slowly", None),
    ]})
}

/// The importer's log records, sent in one request: one INFO line per imported row, 100 ms
/// apart and ending a second ago, each with its own time, so the logs explorer pages through
/// thousands of lines (no token, trace or checkout in them, so the other log steps' counts
/// hold).
fn bulk_logs(now: u64) -> Value {
    let records: Vec<Value> = (0..BULK_LOG_RECORDS)
        .map(|row| {
            json!({
                "timeUnixNano": (now - (1_000 + row as u64 * 100) * MS).to_string(),
                "severityNumber": 9,
                "severityText": "INFO",
                "body": {"stringValue": format!("imported row {row} of {BULK_LOG_RECORDS}")},
                "attributes": [attribute("import.row", &row.to_string())],
            })
        })
        .collect();
    json!({"resourceLogs": [{
        "resource": {"attributes": [attribute("service.name", "importer")]},
        "scopeLogs": [{"scope": {"name": "ui-e2e"}, "logRecords": records}]
    }]})
}

/// Polls the log histogram until `service` has `count` records in the last hour.
fn wait_for_log_total(server: &TestServer, service: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = reqwest::blocking::get(
            server.url(&format!("/api/v1/logs/histogram?service={service}")),
        )
        .unwrap()
        .json()
        .unwrap();
        if body["total"].as_u64() == Some(count as u64) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{service} has not {count} log records within 30s: {}",
            body["total"]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Polls the log API until a search for `token` finds a record.
fn wait_for_logs(server: &TestServer, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = reqwest::blocking::get(server.url(&format!("/api/v1/logs?q={token}")))
            .unwrap()
            .json()
            .unwrap();
        if body["records"]
            .as_array()
            .is_some_and(|records| !records.is_empty())
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no log record with {token} within 30s: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Polls the dependency API until every edge in `wanted` (client, server, connection type)
/// is there.
fn wait_for_edges(server: &TestServer, wanted: &[(&str, &str, &str)]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = reqwest::blocking::get(server.url("/api/v1/dependencies"))
            .unwrap()
            .json()
            .unwrap();
        let edges: Vec<(&str, &str, &str)> = body["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| {
                (
                    edge["client"].as_str().unwrap_or_default(),
                    edge["server"].as_str().unwrap_or_default(),
                    edge["connectionType"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        if wanted.iter().all(|edge| edges.contains(edge)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "edges {wanted:?} not all in the dependency graph within 30s: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Polls the health API until every service in `names` is listed.
fn wait_for_services(server: &TestServer, names: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = reqwest::blocking::get(server.url("/api/v1/services"))
            .unwrap()
            .json()
            .unwrap();
        let listed: Vec<&str> = body["services"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|service| service["name"].as_str())
            .collect();
        if names.iter().all(|name| listed.contains(name)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "services {names:?} not all listed within 30s: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Checks how the binary serves the UI: the index for pages, cached hashed assets, and 404s
/// (not HTML) for unknown API paths.
fn check_serving(server: &TestServer) {
    for path in [
        "/",
        "/traces",
        "/traces/abc?span=1",
        "/services/checkout?range=6h",
        "/map?from=a&to=b",
        "/logs?q=x",
        "/metrics-explorer?query=up",
        "/alerts",
    ] {
        let response = reqwest::blocking::get(server.url(path)).unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert_eq!(response.headers()["cache-control"], "no-cache");
        let html = response.text().unwrap();
        assert!(
            html.contains("<div id=\"app\">"),
            "{path} is not the UI: {html}"
        );
    }
    let html = reqwest::blocking::get(server.url("/"))
        .unwrap()
        .text()
        .unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .filter(|src| src.starts_with("/assets/"))
        .unwrap_or_else(|| panic!("no hashed script in the index: {html}"));
    let asset = reqwest::blocking::get(server.url(script)).unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let api = reqwest::blocking::get(server.url("/api/v1/no-such-thing")).unwrap();
    assert_eq!(api.status(), 404);
    let body: Value = api.json().unwrap();
    assert_eq!(body["error"], "no such endpoint: GET /api/v1/no-such-thing");
    let missing = reqwest::blocking::get(server.url("/assets/gone-0000.js")).unwrap();
    assert_eq!(missing.status(), 404);
}

fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A rule file: its alert is always pending (`for: 1h`), so the alerts page lists it.
const FILE_RULES: &str = r#"groups:
  - name: ui
    interval: 1s
    rules:
      - alert: AlwaysPending
        expr: vector(1)
        for: 1h
        labels:
          severity: info
"#;

/// The read token of the server started with authentication on.
const READ_TOKEN: &str = "ui-e2e-read-token";

/// Starts a second server with authentication on (one read token): the UI must be served
/// without a token, and ask for one when the API answers 401.
fn start_server_with_auth(dir: &Path) -> TestServer {
    let config = dir.join("auth.toml");
    std::fs::write(
        &config,
        format!("[[auth.tokens]]\nname = \"ui\"\nscopes = [\"read\"]\nsecret = \"{READ_TOKEN}\"\n"),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let server = TestServer::start_in(&dir.join("auth-data"), &["--config", &config_arg]);
    let page = reqwest::blocking::get(server.url("/traces")).unwrap();
    assert_eq!(page.status(), 200, "the UI needs no token");
    let api = reqwest::blocking::get(server.url("/api/v1/services")).unwrap();
    assert_eq!(api.status(), 401, "the API still does");
    server
}

/// Runs the walk script; returns its exit success and everything it printed.
fn run_walk(
    server: &TestServer,
    auth_server: &TestServer,
    expect: &Value,
    screenshots: &Path,
) -> (bool, String) {
    let ui = workspace_dir().join("ui");
    assert!(
        ui.join("node_modules/playwright-core").is_dir(),
        "{} has no playwright-core: the build's `npm ci` installs it (unless \
         SIGHTLINE_SKIP_UI_BUILD was set); run `npm ci` in ui/",
        ui.join("node_modules").display()
    );
    let mut child = Command::new("node")
        .arg("e2e/walk.mjs")
        .current_dir(&ui)
        .env("SIGHTLINE_URL", server.url(""))
        .env("SIGHTLINE_EXPECT", expect.to_string())
        .env("SIGHTLINE_OTLP_URL", server.otlp_url(""))
        .env("SIGHTLINE_AUTH_URL", auth_server.url(""))
        .env("SIGHTLINE_AUTH_TOKEN", READ_TOKEN)
        .env("SCREENSHOT_DIR", screenshots)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run node (Node.js 20 or later is needed to build and test the UI): {error}"
            )
        });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + WALK_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = format!(
        "{}{}{}",
        out.join().unwrap(),
        err.join().unwrap(),
        if status.is_none() {
            format!("\nkilled after {WALK_DEADLINE:?}")
        } else {
            String::new()
        }
    );
    (status.is_some_and(|status| status.success()), output)
}

/// The UI's own unit tests (vitest: span tree, critical path, URL state, formatting, sorting),
/// run from `cargo test` so the README's test command covers them.
#[test]
fn ui_unit_tests() {
    let ui = workspace_dir().join("ui");
    assert!(
        ui.join("node_modules/vitest").is_dir(),
        "{} has no vitest: the build's `npm ci` installs it (unless SIGHTLINE_SKIP_UI_BUILD \
         was set); run `npm ci` in ui/",
        ui.join("node_modules").display()
    );
    let output = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&ui)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run npm (Node.js 20.19 or later is needed): {error}")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "`npm test` in ui/ failed:\n{text}");
    println!("{text}");
}

#[test]
fn ui_walk_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: this test drives a real headless Chromium; install it with \
         `apt-get install -y --no-install-recommends chromium` (as .ci/run does)"
    );
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("sightline.toml");
    // Derived series (span metrics, the service graph) flushed every second, and unpaired
    // halves of a call expire after a second, so the map is there by the time the walk starts.
    // A rule file (read-only in the UI) whose alert stays pending, evaluated every second.
    let rules_dir = data.path().join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    std::fs::write(rules_dir.join("ui.yml"), FILE_RULES).unwrap();
    std::fs::write(
        &config,
        format!(
            "[collector]\nflush_interval_seconds = 1\nservice_graph_wait_seconds = 1\n\n\
             [alerting]\nrules_dir = {:?}\nevaluation_interval = \"1s\"\n",
            rules_dir.display().to_string()
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let server = TestServer::start_in(&data.path().join("data"), &["--config", &config_arg]);
    check_serving(&server);

    let client = reqwest::blocking::Client::new();
    let otlp = server.otlp_url("/v1/traces");
    let now = now_nanos();
    // Six checkouts (health needs at least five requests to judge), two of them declined.
    let checkout_ids: Vec<String> = (0..6).map(|seed| trace_id_hex(seed as u64 + 100)).collect();
    let checkout_start = |seed: usize| now - (60 - seed as u64 * 8) * 1_000 * MS;
    for (seed, trace_id) in checkout_ids.iter().enumerate() {
        let start = checkout_start(seed);
        let declined = seed % 3 == 1;
        let response = post_json(
            &client,
            &otlp,
            &checkout_trace(trace_id, seed, start, declined),
        );
        assert_eq!(response.status(), 200, "{}", response.text().unwrap());
    }
    for seed in 0..3 {
        let trace_id = trace_id_hex(seed as u64 + 200);
        let start = now - (50 - seed as u64 * 10) * 1_000 * MS;
        let response = post_json(&client, &otlp, &database_trace(&trace_id, seed, start));
        assert_eq!(response.status(), 200, "{}", response.text().unwrap());
    }
    let rich_id = trace_id_hex(7);
    let response = post_json(&client, &otlp, &rich_trace(&rich_id, now - 20_000 * MS));
    assert_eq!(response.status(), 200);
    let big_id = trace_id_hex(8);
    let (big, big_last_span) = big_trace(&big_id, now - 15_000 * MS);
    let response = post_json(&client, &otlp, &big);
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());
    wait_for_services(&server, &["frontend", "checkout", "payments", "importer"]);
    let map_edges = [
        ("user", "frontend", "virtual_node"),
        ("frontend", "checkout", ""),
        ("checkout", "payments", ""),
        ("checkout", "orders", "database"),
    ];
    wait_for_edges(&server, &map_edges);
    let [_, _, _, declined_charge, _] = checkout_span_ids(1);
    let logs = checkout_logs(now, &checkout_ids[1], &declined_charge);
    let response = post_json(&client, &server.otlp_url("/v1/logs"), &logs);
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());
    wait_for_logs(&server, "zebracorn");
    let response = post_json(&client, &server.otlp_url("/v1/logs"), &bulk_logs(now));
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());
    wait_for_log_total(&server, "importer", BULK_LOG_RECORDS);
    let [root, call, checkout, charge, payment] = checkout_span_ids(1);
    let logs = trace_logs(&checkout_ids[1], &root, checkout_start(1));
    let response = post_json(&client, &server.otlp_url("/v1/logs"), &logs);
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());
    wait_for_logs(&server, "slowly");

    let expect = json!({
        "services": ["frontend", "checkout", "payments", "importer"],
        // payments failed 2 of 6 charges; checkout served 6 without a failure.
        "health": {"payments": "unhealthy", "checkout": "healthy"},
        "search": {"service": "payments", "traceCount": 6, "errorTraceCount": 2},
        "trace": {
            "id": checkout_ids[1],
            "spanCount": 5,
            "rootSpanId": root,
            "criticalSpanIds": [&root, call, checkout, &charge, &payment],
            "errorSpanIds": [&charge, &payment],
            "detailsContain": ["card declined", "charge", "checkout"],
            // Its log records, oldest first: [span id ("" for none), severity, service, body].
            "logs": [
                [&root, "info", "frontend", "checkout request received"],
                ["", "info", "payments", "card network answered slowly"],
                [&charge, "error", "checkout", "charge failed: zebracorn card declined"],
            ],
            // Search within the trace: "charge" names the charge and its server span.
            "find": {"text": "charge", "spanIds": [&charge, &payment]},
            // An attribute value (payment.provider=stripe), in another case.
            "findAttribute": {"text": "STRIPE", "spanId": &payment},
        },
        "servicePage": {
            "name": "payments",
            "health": "unhealthy",
            "operations": ["POST /charge"],
            "errorTraceIds": [&checkout_ids[1], &checkout_ids[4]],
            "upstream": ["checkout"],
            // checkout's callees: [name, linked to a service page]
            "upstreamDownstream": [["payments", true], ["orders", false]],
        },
        "logs": {
            "token": "zebracorn",
            "traceId": &checkout_ids[1],
            "spanId": declined_charge,
            "warnOrAbove": 2,
            // The bulk import's records, all of service importer (see `bulk_logs`).
            "bulk": {"service": "importer", "count": BULK_LOG_RECORDS},
        },
        "metrics": {
            "query": "sum by (service) (rate(traces_span_metrics_calls_total[5m]))",
            "services": ["checkout", "payments"],
        },
        "alerts": {
            "fileRule": "AlwaysPending",
            // A quick rule on payments' error ratio (2 of 6 failed) fires at once.
            "quick": {"name": "PaymentsErrors", "service": "payments", "threshold": "5"},
        },
        "map": {
            // name → [kind, health]; frontend's health depends on the rich trace's error.
            "nodes": {
                "user": ["user", "healthy"],
                "frontend": ["service", null],
                "checkout": ["service", "healthy"],
                "payments": ["service", "unhealthy"],
                "orders": ["database", "healthy"],
            },
            "edges": map_edges
                .iter()
                .map(|(client, server, kind)| json!([client, server, kind]))
                .collect::<Vec<_>>(),
            // 2 of the 6 charges were declined.
            "failingEdge": {"client": "checkout", "server": "payments", "errorText": "33.3% err"},
        },
        "richTrace": {
            "id": rich_id,
            "spanId": "1111111111111111",
            "detailsContain": [
                "cart service failed", "http.route", "/cart/{id}", "exception", "boom",
                "b7ad6b7169203331", "host.name", "web-1", "frontend-lib", "3 events dropped",
            ],
        },
        "bigTrace": {
            "id": big_id,
            "spanCount": BIG_TRACE_SPANS,
            "rootSpanId": format!("{:016x}", 1),
            "lastSpanId": big_last_span,
            "leafName": "insert row",
            "leafCount": BIG_TRACE_SPANS - 1 - (BIG_TRACE_SPANS - 1) / (BIG_TRACE_FANOUT + 1),
        },
    });
    let screenshots = workspace_dir().join("target").join("ui-screenshots");
    let auth_server = start_server_with_auth(data.path());
    let (passed, output) = run_walk(&server, &auth_server, &expect, &screenshots);
    println!("{output}");
    assert!(
        passed,
        "the UI walk failed (screenshots in {}):\n{output}",
        screenshots.display()
    );
}
