//! Evaluator tests over [`InMemorySeries`]: selectors, modifiers, subqueries, operators,
//! aggregations, name dropping and errors. The conformance scripts cover the breadth; these
//! pin the pieces down one at a time.

use sightline_model::ErrorClass;

use crate::promql::value::stale_nan;
use crate::promql::{Engine, Error, InMemorySeries, Labels, Value};

const MINUTE_MS: i64 = 60_000;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied())
}

/// `m{a="1"}` and `m{a="2"}`, one sample a minute from 0: values 0,1,2,… and 0,2,4,….
fn source() -> InMemorySeries {
    let mut source = InMemorySeries::new();
    for (a, factor) in [("1", 1.0), ("2", 2.0)] {
        let points = (0..=10).map(|i| (i * MINUTE_MS, i as f64 * factor));
        source.append(labels(&[("__name__", "m"), ("a", a)]), points);
    }
    source
}

fn instant(source: &InMemorySeries, query: &str, time_ms: i64) -> Vec<(String, f64)> {
    match Engine::default()
        .instant_query(source, query, time_ms)
        .unwrap()
    {
        Value::Vector(vector) => {
            let mut out: Vec<_> = vector
                .into_iter()
                .map(|s| (s.labels.to_string(), s.value))
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            out
        }
        Value::Scalar { value, .. } => vec![(String::new(), value)],
        other => panic!("unexpected {other:?}"),
    }
}

fn error(source: &InMemorySeries, query: &str) -> Error {
    Engine::default()
        .instant_query(source, query, 10 * MINUTE_MS)
        .unwrap_err()
}

#[test]
fn instant_selector_uses_lookback_and_staleness() {
    let mut source = InMemorySeries::new();
    source.append(
        labels(&[("__name__", "s")]),
        [(0, 1.0), (MINUTE_MS, stale_nan())],
    );
    assert_eq!(instant(&source, "s", 30_000), vec![("s{}".into(), 1.0)]);
    assert!(instant(&source, "s", MINUTE_MS).is_empty());
    let mut lone = InMemorySeries::new();
    lone.append(labels(&[("__name__", "s")]), [(0, 1.0)]);
    assert_eq!(instant(&lone, "s", 5 * MINUTE_MS - 1).len(), 1);
    assert!(instant(&lone, "s", 5 * MINUTE_MS).is_empty());
}

#[test]
fn matchers_offset_and_at() {
    let source = source();
    assert_eq!(
        instant(&source, r#"m{a!="1"}"#, 5 * MINUTE_MS),
        vec![(r#"m{a="2"}"#.into(), 10.0)]
    );
    assert_eq!(
        instant(&source, r#"m{a=~"1|3"} offset 2m"#, 5 * MINUTE_MS),
        vec![(r#"m{a="1"}"#.into(), 3.0)]
    );
    assert_eq!(
        instant(&source, r#"m{a!~"2"} @ 120"#, 9 * MINUTE_MS),
        vec![(r#"m{a="1"}"#.into(), 2.0)]
    );
    assert_eq!(
        instant(&source, r#"m{a="1"} @ start()"#, 4 * MINUTE_MS),
        vec![(r#"m{a="1"}"#.into(), 4.0)]
    );
}

#[test]
fn range_selectors_are_left_open() {
    let source = source();
    let counts = instant(&source, r#"count_over_time(m{a="1"}[2m])"#, 4 * MINUTE_MS);
    assert_eq!(counts, vec![(r#"{a="1"}"#.into(), 2.0)]);
}

#[test]
fn rate_and_subquery() {
    let source = source();
    let rates = instant(&source, "rate(m[5m])", 10 * MINUTE_MS);
    assert_eq!(
        rates,
        vec![
            (r#"{a="1"}"#.into(), 1.0 / 60.0),
            (r#"{a="2"}"#.into(), 2.0 / 60.0)
        ]
    );
    // Steps at 6m..10m aligned to the minute: five points.
    let steps = instant(
        &source,
        r#"count_over_time(m{a="1"}[5m:1m])"#,
        10 * MINUTE_MS,
    );
    assert_eq!(steps, vec![(r#"{a="1"}"#.into(), 5.0)]);
}

#[test]
fn operators_match_and_drop_names() {
    let source = source();
    let sums = instant(&source, "m + m", 3 * MINUTE_MS);
    assert_eq!(
        sums,
        vec![(r#"{a="1"}"#.into(), 6.0), (r#"{a="2"}"#.into(), 12.0)]
    );
    assert_eq!(
        instant(&source, "m > 4", 3 * MINUTE_MS),
        vec![(r#"m{a="2"}"#.into(), 6.0)]
    );
    assert_eq!(
        instant(&source, "m > bool 4", 3 * MINUTE_MS)[0],
        (r#"{a="1"}"#.into(), 0.0)
    );
    assert_eq!(instant(&source, r#"m{a="1"} or m"#, 3 * MINUTE_MS).len(), 2);
    assert_eq!(
        instant(&source, r#"m unless m{a="1"}"#, 3 * MINUTE_MS).len(),
        1
    );
    assert_eq!(instant(&source, "2 ^ 3 % 5", 0), vec![(String::new(), 3.0)]);
    let message = error(&source, "m + on() m").to_string();
    assert!(
        message.contains("many-to-many matching not allowed"),
        "{message}"
    );
}

#[test]
fn aggregations_group_by_and_without() {
    let source = source();
    assert_eq!(
        instant(&source, "sum(m)", 3 * MINUTE_MS),
        vec![("{}".into(), 9.0)]
    );
    assert_eq!(
        instant(&source, "max by (a) (m)", 3 * MINUTE_MS)[1],
        (r#"{a="2"}"#.into(), 6.0)
    );
    assert_eq!(
        instant(&source, "count without (a) (m)", 3 * MINUTE_MS),
        vec![("{}".into(), 2.0)]
    );
    assert_eq!(
        instant(&source, "topk(1, m)", 3 * MINUTE_MS),
        vec![(r#"m{a="2"}"#.into(), 6.0)]
    );
    assert_eq!(
        instant(&source, "quantile(0.5, m)", 3 * MINUTE_MS),
        vec![("{}".into(), 4.5)]
    );
}

#[test]
fn delayed_name_removal_lets_label_replace_read_the_name() {
    let source = source();
    let out = instant(
        &source,
        r#"label_replace(rate(m{a="1"}[5m]), "n", "$1", "__name__", "(.*)")"#,
        10 * MINUTE_MS,
    );
    assert_eq!(out, vec![(r#"{a="1", n="m"}"#.into(), 1.0 / 60.0)]);
    let duplicate = error(&source, r#"label_replace(m, "a", "x", "a", ".*")"#);
    assert_eq!(
        duplicate.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn range_query_joins_steps_by_labels() {
    let source = source();
    let matrix = Engine::default()
        .range_query(&source, r#"m{a="1"} * 2"#, 0, 2 * MINUTE_MS, MINUTE_MS)
        .unwrap();
    assert_eq!(matrix.len(), 1);
    assert_eq!(matrix[0].labels, labels(&[("a", "1")]));
    assert_eq!(
        matrix[0].points,
        vec![(0, 0.0), (MINUTE_MS, 2.0), (2 * MINUTE_MS, 4.0)]
    );
    let scalar = Engine::default()
        .range_query(&source, "time()", 0, MINUTE_MS, MINUTE_MS)
        .unwrap();
    assert_eq!(scalar[0].points, vec![(0, 0.0), (MINUTE_MS, 60.0)]);
    let invalid = Engine::default()
        .range_query(&source, "m", 0, 1, 0)
        .unwrap_err();
    assert!(matches!(
        invalid,
        Error::InvalidParameter { name: "step", .. }
    ));
    assert!(Engine::default()
        .range_query(&source, "m[1m]", 0, 1, 1)
        .is_err());
}

#[test]
fn errors_are_typed_and_classed() {
    let source = source();
    let parse = error(&source, "sum(");
    assert!(matches!(parse, Error::Parse { .. }));
    assert_eq!(parse.class(), ErrorClass::InvalidInput);
    let unsupported = error(&source, "info(m)");
    assert!(
        matches!(unsupported, Error::Unsupported { .. }),
        "{unsupported}"
    );
    assert_eq!(unsupported.class(), ErrorClass::InvalidInput);
}

#[test]
fn odd_queries_never_panic() {
    let source = source();
    let engine = Engine::default();
    let queries = [
        "m[10000y]",
        "rate(m[300y])",
        "m @ -1e15",
        "m offset -300y",
        "m[5m:1ms] offset 1y",
        "max_over_time(m[1y:1ms])",
        "topk(1e300, m)",
        "round(m, 0)",
        "histogram_quantile(0.5, m)",
        "label_replace(m, \"x\", \"$9\", \"a\", \"(\")",
        "count_values(\"\", m)",
        "predict_linear(m[5m], 1e308)",
        "day_of_week(vector(1e300))",
        "-m or -m",
        "sort_by_label(m, \"a\", \"b\")",
        "absent(nothing{a=\"1\", a=\"2\"})",
    ];
    for query in queries {
        let _ = engine.instant_query(&source, query, i64::MAX);
        let _ = engine.instant_query(&source, query, i64::MIN);
        let _ = engine.instant_query(&source, query, 0);
        let _ = engine.range_query(&source, query, i64::MIN, i64::MAX, i64::MAX);
    }
}

/// Counts the source's reads.
struct CountingSource {
    inner: InMemorySeries,
    reads: std::sync::atomic::AtomicUsize,
}

impl crate::promql::SeriesSource for CountingSource {
    fn select_series(
        &self,
        matchers: &[crate::promql::Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<crate::promql::source::SelectedSeries>, Error> {
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.select_series(matchers, start_ms, end_ms)
    }
}

#[test]
fn range_queries_read_each_selector_once() {
    let source = CountingSource {
        inner: source(),
        reads: Default::default(),
    };
    let query = r#"rate(m[2m]) + on(a) max_over_time(m[3m:1m] offset 1m) + m @ 60"#;
    let matrix = Engine::default()
        .range_query(&source, query, 0, 10 * MINUTE_MS, MINUTE_MS)
        .unwrap();
    assert_eq!(matrix.len(), 2);
    // `rate` and the subquery read once each; the `@` selector is read directly per step.
    assert_eq!(
        source.reads.load(std::sync::atomic::Ordering::Relaxed),
        2 + 11
    );
}

fn instant_in_order(source: &InMemorySeries, query: &str, time_ms: i64) -> Vec<String> {
    match Engine::default()
        .instant_query(source, query, time_ms)
        .unwrap()
    {
        Value::Vector(vector) => vector.iter().map(|s| s.labels.to_string()).collect(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn sort_functions_order_results() {
    let mut source = InMemorySeries::new();
    for (instance, value) in [("a10", 1.0), ("a2", f64::NAN), ("a1", 3.0)] {
        source.append(labels(&[("__name__", "s"), ("i", instance)]), [(0, value)]);
    }
    let by_value = instant_in_order(&source, "sort(s)", 0);
    assert_eq!(by_value, [r#"s{i="a10"}"#, r#"s{i="a1"}"#, r#"s{i="a2"}"#]);
    let descending = instant_in_order(&source, "sort_desc(s)", 0);
    assert_eq!(
        descending,
        [r#"s{i="a1"}"#, r#"s{i="a10"}"#, r#"s{i="a2"}"#]
    );
    let natural = instant_in_order(&source, r#"sort_by_label(s, "i")"#, 0);
    assert_eq!(natural, [r#"s{i="a1"}"#, r#"s{i="a2"}"#, r#"s{i="a10"}"#]);
    let reversed = instant_in_order(&source, r#"sort_by_label_desc(s, "i")"#, 0);
    assert_eq!(reversed, [r#"s{i="a10"}"#, r#"s{i="a2"}"#, r#"s{i="a1"}"#]);
}

#[test]
fn limitk_count_values_absent_and_histogram_quantile() {
    let source = source();
    assert_eq!(
        instant(&source, "count(limitk(1, m))", 0),
        vec![("{}".into(), 1.0)]
    );
    let counted = instant(&source, r#"count_values("v", m)"#, 2 * MINUTE_MS);
    assert_eq!(
        counted,
        vec![(r#"{v="2"}"#.into(), 1.0), (r#"{v="4"}"#.into(), 1.0)]
    );
    let absent = instant(&source, r#"absent(nothing{job="x", env=~"y"})"#, 0);
    assert_eq!(absent, vec![(r#"{job="x"}"#.into(), 1.0)]);
    assert!(instant(&source, "absent(m)", 0).is_empty());
    let mut buckets = InMemorySeries::new();
    for (le, count) in [("0.1", 10.0), ("1", 20.0), ("+Inf", 20.0)] {
        buckets.append(
            labels(&[("__name__", "h_bucket"), ("le", le)]),
            [(0, count)],
        );
    }
    let median = instant(&buckets, "histogram_quantile(0.5, h_bucket)", 0);
    assert_eq!(median, vec![("{}".into(), 0.1)]);
}

#[test]
fn deep_nesting_is_evaluated_or_rejected_without_overflow() {
    let source = source();
    // Nested subqueries multiply their steps; a small budget ends them quickly.
    let engine = Engine {
        max_samples: 100_000,
        ..Engine::default()
    };
    let depth = crate::promql::engine::MAX_EXPRESSION_DEPTH / 2 - 1;
    let nested = [
        format!("{}m{}", "abs(".repeat(depth), ")".repeat(depth)),
        format!("{}m{}", "sum(".repeat(depth), ")".repeat(depth)),
        format!("{}m{}", "(-".repeat(depth), ")".repeat(depth)),
        format!("m{}", " or m".repeat(depth * 2 - 2)),
        format!(
            "{}m{}",
            "max_over_time(".repeat(depth),
            "[2m:1m])".repeat(depth)
        ),
    ];
    for query in &nested {
        let _ = engine.instant_query(&source, query, 0);
        let _ = engine.range_query(&source, query, 0, MINUTE_MS, MINUTE_MS);
    }
    let too_deep = format!("{}m{}", "abs(".repeat(300), ")".repeat(300));
    let error = engine.instant_query(&source, &too_deep, 0).unwrap_err();
    assert!(matches!(error, Error::Parse { .. }), "{error}");
}

#[test]
fn huge_queries_are_rejected_before_parsing() {
    let source = source();
    let engine = Engine::default();
    let limit = crate::promql::engine::MAX_OPERATORS_AND_BRACKETS;
    let parens = format!("{}m{}", "(".repeat(100_000), ")".repeat(100_000));
    let chain = format!("m{}", " or m".repeat(100_000));
    for query in [parens, chain] {
        let error = engine.instant_query(&source, &query, 0).unwrap_err();
        assert!(error.to_string().contains(&limit.to_string()), "{error}");
    }
    // Operators inside strings do not count.
    let long_regex = format!(r#"m{{a=~"{}"}}"#, "1|".repeat(10_000));
    assert_eq!(instant(&source, &long_regex, 0).len(), 1);
    // Just under the limit parses (and is too deep to evaluate, not too big to parse).
    let under = format!("m{}", "+m".repeat(limit - 1));
    assert!(matches!(
        engine.instant_query(&source, &under, 0).unwrap_err(),
        Error::Parse { .. }
    ));
}

#[test]
fn the_sample_limit_bounds_each_step_not_the_whole_range_query() {
    let mut source = InMemorySeries::new();
    source.append(
        Labels::new([("__name__", "c")]),
        (0..=600).map(|i| (i * 15_000, i as f64)),
    );
    // Each step's `rate(c[5m])` reads 20 samples; 121 steps read 2,420 in all.
    let engine = Engine {
        max_samples: 100,
        ..Engine::default()
    };
    let matrix = engine
        .range_query(
            &source,
            "rate(c[5m])",
            30 * MINUTE_MS,
            150 * MINUTE_MS,
            MINUTE_MS,
        )
        .unwrap();
    assert_eq!(matrix[0].points.len(), 121);
    // One step over the limit still fails.
    let error = engine
        .range_query(
            &source,
            "rate(c[1h])",
            90 * MINUTE_MS,
            90 * MINUTE_MS,
            MINUTE_MS,
        )
        .unwrap_err();
    assert!(error.to_string().contains("too many samples"), "{error}");
}
