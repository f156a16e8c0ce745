use super::*;
use crate::promql::{InMemorySeries, Labels};

const MINUTE: i64 = 60_000;

/// A counter rising by `per_minute` every minute from 0 at t=0 for ten minutes.
fn counter(source: &mut InMemorySeries, labels: &[(&str, &str)], per_minute: f64) {
    let samples = (0..=10).map(|i| (i * MINUTE, per_minute * i as f64));
    source.append(Labels::new(labels.iter().copied()), samples);
}

fn calls(source: &mut InMemorySeries, service: &str, kind: &str, status: &str, per_minute: f64) {
    counter(
        source,
        &[
            ("__name__", CALLS),
            ("service", service),
            ("span_name", "GET /"),
            ("span_kind", kind),
            ("status_code", status),
        ],
        per_minute,
    );
}

/// Buckets 0.1 and +Inf: `fast` of every `total` per minute under 100 ms.
fn durations(source: &mut InMemorySeries, service: &str, kind: &str, fast: f64, total: f64) {
    for (le, per_minute) in [("0.1", fast), ("+Inf", total)] {
        counter(
            source,
            &[
                ("__name__", DURATION_BUCKET),
                ("service", service),
                ("span_name", "GET /"),
                ("span_kind", kind),
                ("status_code", "STATUS_CODE_UNSET"),
                ("le", le),
            ],
            per_minute,
        );
    }
}

fn window() -> Window {
    Window {
        end_ms: 10 * MINUTE,
        length_ms: 10 * MINUTE,
    }
}

#[test]
fn services_are_measured_on_entry_spans_unless_they_have_none() {
    let mut source = InMemorySeries::new();
    calls(
        &mut source,
        "cart",
        "SPAN_KIND_SERVER",
        "STATUS_CODE_UNSET",
        9.0,
    );
    calls(&mut source, "cart", "SPAN_KIND_SERVER", ERROR_STATUS, 1.0);
    calls(&mut source, "cart", "SPAN_KIND_CLIENT", ERROR_STATUS, 5.0);
    durations(&mut source, "cart", "SPAN_KIND_SERVER", 5.0, 10.0);
    calls(
        &mut source,
        "cron",
        "SPAN_KIND_INTERNAL",
        "STATUS_CODE_OK",
        2.0,
    );
    let figures = span_red(&source, window(), &["service"], "").unwrap();
    let cart = &figures[&vec!["cart".to_string()]];
    assert!(cart.has_entry_spans());
    let measured = cart.measured();
    assert_eq!((measured.requests, measured.errors), (100.0, 10.0));
    assert_eq!(measured.error_ratio(), Some(0.1));
    assert_eq!(cart.all.requests, 150.0);
    // Half under 100 ms: the median is the first bucket's bound.
    assert_eq!(measured.quantile_seconds(0.5), Some(0.1));
    let cron = &figures[&vec!["cron".to_string()]];
    assert!(!cron.has_entry_spans());
    assert_eq!(cron.measured().requests, 20.0);
    assert_eq!(cron.measured().quantile_seconds(0.5), None);

    let selected = span_red(
        &source,
        window(),
        &["span_name", "span_kind"],
        &matchers(&[("service", "=", "cart")]),
    )
    .unwrap();
    let keys: Vec<&Vec<String>> = selected.keys().collect();
    assert_eq!(
        keys,
        [
            &vec!["GET /".to_string(), "SPAN_KIND_CLIENT".to_string()],
            &vec!["GET /".to_string(), "SPAN_KIND_SERVER".to_string()],
        ]
    );
}

#[test]
fn counts_start_from_the_baseline_before_the_window_and_survive_resets() {
    let mut source = InMemorySeries::new();
    let labels = Labels::new([("__name__", CALLS), ("service", "cart")]);
    // 100 before the window; +5, then a restart (reset to 0) and +3 inside it; a staleness
    // marker is skipped.
    source.append(
        labels,
        [
            (-MINUTE, 100.0),
            (MINUTE, 105.0),
            (2 * MINUTE, 0.0),
            (
                3 * MINUTE,
                f64::from_bits(crate::promql::value::STALE_NAN_BITS),
            ),
            (4 * MINUTE, 3.0),
        ],
    );
    let counted = counted_in_window(&source, CALLS, "", window()).unwrap();
    assert_eq!(counted.len(), 1);
    assert_eq!(counted[0].1, 8.0);
    // A series with nothing inside the window is left out.
    let later = Window {
        end_ms: 30 * MINUTE,
        length_ms: 10 * MINUTE,
    };
    assert!(counted_in_window(&source, CALLS, "", later)
        .unwrap()
        .is_empty());
}

#[test]
fn edges_take_server_latency_when_the_server_is_instrumented() {
    let mut source = InMemorySeries::new();
    let edge_labels = |name: &'static str, server: &'static str, kind: &'static str| {
        vec![
            ("__name__", name),
            ("client", "checkout"),
            ("server", server),
            ("connection_type", kind),
        ]
    };
    counter(
        &mut source,
        &edge_labels(EDGE_REQUESTS, "payments", ""),
        10.0,
    );
    counter(&mut source, &edge_labels(EDGE_FAILED, "payments", ""), 2.0);
    counter(
        &mut source,
        &edge_labels(EDGE_REQUESTS, "orders", "database"),
        4.0,
    );
    for (name, le, per_minute) in [
        (EDGE_SERVER_BUCKET, "0.5", 10.0),
        (EDGE_SERVER_BUCKET, "+Inf", 10.0),
        (EDGE_CLIENT_BUCKET, "1", 10.0),
        (EDGE_CLIENT_BUCKET, "+Inf", 10.0),
    ] {
        let mut labels = edge_labels(name, "payments", "");
        labels.push(("le", le));
        counter(&mut source, &labels, per_minute);
    }
    for le in ["2", "+Inf"] {
        let mut labels = edge_labels(EDGE_CLIENT_BUCKET, "orders", "database");
        labels.push(("le", le));
        counter(&mut source, &labels, 4.0);
    }
    let edges = edge_red(&source, window(), &[]).unwrap();
    let payments = &edges[&("checkout".into(), "payments".into(), String::new())];
    assert_eq!((payments.red.requests, payments.red.errors), (100.0, 20.0));
    assert_eq!(payments.latency().quantile_seconds(1.0), Some(0.5));
    let orders = &edges[&("checkout".into(), "orders".into(), "database".into())];
    assert_eq!(orders.latency().quantile_seconds(1.0), Some(2.0));
    assert_eq!(orders.latency().requests, 40.0);

    // Several selectors are joined with `or`.
    let only_orders =
        edge_red(&source, window(), &[matchers(&[("server", "=", "orders")])]).unwrap();
    assert_eq!(only_orders.len(), 1);
}

#[test]
fn red_series_has_rate_error_ratio_and_quantiles_per_step() {
    let mut source = InMemorySeries::new();
    calls(
        &mut source,
        "cart",
        "SPAN_KIND_SERVER",
        "STATUS_CODE_UNSET",
        54.0,
    );
    calls(&mut source, "cart", "SPAN_KIND_SERVER", ERROR_STATUS, 6.0);
    durations(&mut source, "cart", "SPAN_KIND_SERVER", 60.0, 60.0);
    let series = red_series(
        &Engine::default(),
        &source,
        &matchers(&[("service", "=", "cart")]),
        (5 * MINUTE, 10 * MINUTE, MINUTE),
        2 * MINUTE,
    )
    .unwrap();
    assert_eq!(series.rate.len(), 6);
    for &(_, rate) in &series.rate {
        assert!((rate - 1.0).abs() < 1e-9, "{rate}");
    }
    for &(_, ratio) in &series.error_ratio {
        assert!((ratio - 0.1).abs() < 1e-9, "{ratio}");
    }
    // Every observation under 100 ms: p99 interpolates inside the first bucket.
    assert_eq!(series.quantiles[2].len(), 6);
    assert!((series.quantiles[2][0].1 - 0.099).abs() < 1e-9);
}

#[test]
fn strings_are_quoted_for_promql() {
    assert_eq!(promql_string(r#"a"b\c"#), r#""a\"b\\c""#);
    assert_eq!(
        matchers(&[("service", "=", "cart"), ("span_kind", "=~", "A|B")]),
        r#"{service="cart",span_kind=~"A|B"}"#
    );
}
