//! Evaluator tests over [`InMemoryLogs`].

use super::*;
use crate::logql::parser::parse;
use crate::logql::source::{InMemoryLogs, LogEntry};

const SECOND: u64 = 1_000_000_000;

fn tenant() -> TenantId {
    TenantId::default_tenant()
}

/// Two services; api logs a logfmt line every second from t=1s to t=10s (every third one an
/// error with status 500), db logs a JSON line every two seconds.
fn logs() -> InMemoryLogs {
    let logs = InMemoryLogs::new();
    for second in 1..=10u64 {
        let (level, status) = if second % 3 == 0 {
            ("error", 500)
        } else {
            ("info", 200)
        };
        logs.push(
            &tenant(),
            LogEntry {
                timestamp_unix_nano: second * SECOND,
                labels: Labels::new([("service_name", "api"), ("level", level)]),
                line: format!("status={status} took={second}ms msg=\"request {second}\""),
                metadata: Labels::new([("trace_id", format!("t{second}"))]),
            },
        );
        if second % 2 == 0 {
            logs.push_line(
                &tenant(),
                second * SECOND,
                Labels::new([("service_name", "db")]),
                format!(r#"{{"rows":{second},"op":"select"}}"#),
            );
        }
    }
    logs
}

fn run(logs: &InMemoryLogs, query: &str, params: QueryParams) -> Result<QueryResult, Error> {
    let expr = parse(query)?;
    Engine::new(logs, &tenant()).evaluate(&expr, &params)
}

fn log_params(limit: usize, direction: Direction) -> QueryParams {
    QueryParams {
        start_unix_nano: 0,
        end_unix_nano: 100 * SECOND,
        step_nanos: 0,
        limit,
        direction,
    }
}

fn lines(result: QueryResult) -> Vec<String> {
    match result {
        QueryResult::Streams(rows) => rows.into_iter().map(|row| row.line).collect(),
        other => panic!("expected streams, got {other:?}"),
    }
}

fn matrix(result: QueryResult) -> Vec<(String, Vec<(u64, f64)>)> {
    match result {
        QueryResult::Matrix(series) => series
            .into_iter()
            .map(|(labels, points)| {
                let points = points.into_iter().map(|(t, v)| (t / SECOND, v)).collect();
                (labels.to_string(), points)
            })
            .collect(),
        other => panic!("expected a matrix, got {other:?}"),
    }
}

#[test]
fn log_queries_filter_order_and_limit() {
    let logs = logs();
    let newest = run(
        &logs,
        r#"{service_name="api"} |= "status=500""#,
        log_params(2, Direction::Backward),
    )
    .unwrap();
    assert_eq!(
        lines(newest),
        [
            r#"status=500 took=9ms msg="request 9""#,
            r#"status=500 took=6ms msg="request 6""#
        ]
    );
    let oldest = run(
        &logs,
        r#"{service_name=~"api|db"} != "status=200""#,
        log_params(3, Direction::Forward),
    )
    .unwrap();
    assert_eq!(lines(oldest).len(), 3);

    // The limit counts lines that pass the whole pipeline, not lines read.
    let parsed = run(
        &logs,
        r#"{service_name="api"} | logfmt | took > 5ms | status = 200"#,
        log_params(100, Direction::Forward),
    )
    .unwrap();
    match parsed {
        QueryResult::Streams(rows) => {
            assert_eq!(rows.len(), 3);
            assert_eq!(rows[0].get("took"), Some("7ms"));
            assert_eq!(rows[0].get("trace_id"), Some("t7"));
        }
        other => panic!("{other:?}"),
    }
    let json = run(
        &logs,
        r#"{service_name="db"} | json | rows >= 8 | line_format "{{.op}} {{.rows}}""#,
        log_params(100, Direction::Backward),
    )
    .unwrap();
    assert_eq!(lines(json), ["select 10", "select 8"]);
}

#[test]
fn range_queries_count_per_step() {
    let logs = logs();
    let params = QueryParams {
        start_unix_nano: 2 * SECOND,
        end_unix_nano: 10 * SECOND,
        step_nanos: 4 * SECOND,
        limit: 0,
        direction: Direction::Backward,
    };
    let counts = run(
        &logs,
        r#"sum by (service_name) (count_over_time({service_name=~".+"}[4s]))"#,
        params,
    )
    .unwrap();
    // Windows (t-4s, t]: t=2 → api 1,2 / db 2; t=6 → api 3..6 / db 4,6; t=10 → api 7..10 / db 8,10.
    assert_eq!(
        matrix(counts),
        [
            (
                r#"{service_name="api"}"#.to_string(),
                vec![(2, 2.0), (6, 4.0), (10, 4.0)]
            ),
            (
                r#"{service_name="db"}"#.to_string(),
                vec![(2, 1.0), (6, 2.0), (10, 2.0)]
            ),
        ]
    );
    let rate = run(
        &logs,
        r#"sum(rate({service_name="api"} |= "status=500" [4s]))"#,
        params,
    )
    .unwrap();
    assert_eq!(
        matrix(rate),
        [("{}".to_string(), vec![(6, 0.5), (10, 0.25)])]
    );

    let bytes = run(
        &logs,
        r#"bytes_over_time({service_name="db"} | json | rows > 9 [4s])"#,
        params,
    )
    .unwrap();
    let line_len = r#"{"rows":10,"op":"select"}"#.len() as f64;
    assert_eq!(
        matrix(bytes),
        [(
            r#"{op="select", rows="10", service_name="db"}"#.to_string(),
            vec![(10, line_len)]
        )]
    );
    let offset = run(
        &logs,
        r#"count_over_time({service_name="db"}[4s] offset 4s)"#,
        params,
    )
    .unwrap();
    assert_eq!(
        matrix(offset),
        [(
            r#"{service_name="db"}"#.to_string(),
            vec![(6, 1.0), (10, 2.0)]
        )]
    );
}

#[test]
fn structured_metadata_splits_series_unless_summed() {
    let logs = logs();
    let params = QueryParams {
        start_unix_nano: 10 * SECOND,
        end_unix_nano: 10 * SECOND,
        step_nanos: SECOND,
        limit: 0,
        direction: Direction::Backward,
    };
    let raw = matrix(
        run(
            &logs,
            r#"count_over_time({service_name="api"}[10s])"#,
            params,
        )
        .unwrap(),
    );
    assert_eq!(raw.len(), 10, "one series per trace_id, as in Loki");
    let kept = matrix(
        run(
            &logs,
            r#"count_over_time({service_name="api"} | keep level [10s])"#,
            params,
        )
        .unwrap(),
    );
    assert_eq!(
        kept,
        [
            (r#"{level="error"}"#.to_string(), vec![(10, 3.0)]),
            (r#"{level="info"}"#.to_string(), vec![(10, 7.0)])
        ]
    );
}

#[test]
fn instant_queries_and_aggregations() {
    let logs = logs();
    let at_ten = QueryParams {
        start_unix_nano: 10 * SECOND,
        end_unix_nano: 10 * SECOND,
        step_nanos: 0,
        limit: 0,
        direction: Direction::Backward,
    };
    let top = run(
        &logs,
        r#"topk(1, sum by (service_name) (count_over_time({service_name=~".+"}[10s])))"#,
        at_ten,
    )
    .unwrap();
    assert_eq!(
        top,
        QueryResult::Vector(vec![(Labels::new([("service_name", "api")]), 10.0)])
    );
    let avg = run(
        &logs,
        r#"avg(sum by (level) (count_over_time({service_name="api"}[10s])))"#,
        at_ten,
    )
    .unwrap();
    assert_eq!(avg, QueryResult::Vector(vec![(Labels::default(), 5.0)]));
    let absent = run(
        &logs,
        r#"absent_over_time({service_name="nothing"}[10s])"#,
        at_ten,
    )
    .unwrap();
    assert_eq!(
        absent,
        QueryResult::Vector(vec![(Labels::new([("service_name", "nothing")]), 1.0)])
    );
}

#[test]
fn binary_operators() {
    let logs = logs();
    let at_ten = QueryParams {
        start_unix_nano: 10 * SECOND,
        end_unix_nano: 10 * SECOND,
        step_nanos: 0,
        limit: 0,
        direction: Direction::Backward,
    };
    let health = run(&logs, "vector(1)+vector(1)", at_ten).unwrap();
    assert_eq!(health, QueryResult::Vector(vec![(Labels::default(), 2.0)]));
    let ratio = run(
        &logs,
        r#"sum(count_over_time({service_name="api"} |= "status=500" [10s])) / sum(count_over_time({service_name="api"}[10s])) * 100"#,
        at_ten,
    )
    .unwrap();
    assert_eq!(ratio, QueryResult::Vector(vec![(Labels::default(), 30.0)]));
    let filtered = run(
        &logs,
        r#"sum by (level) (count_over_time({service_name="api"}[10s])) > 5"#,
        at_ten,
    )
    .unwrap();
    assert_eq!(
        filtered,
        QueryResult::Vector(vec![(Labels::new([("level", "info")]), 7.0)])
    );
    let booleans = run(
        &logs,
        r#"sum by (level) (count_over_time({service_name="api"}[10s])) > bool 5"#,
        at_ten,
    )
    .unwrap();
    match booleans {
        QueryResult::Vector(samples) => {
            assert_eq!(samples.iter().map(|s| s.1).collect::<Vec<_>>(), [0.0, 1.0]);
        }
        other => panic!("{other:?}"),
    }
    let scalar = run(&logs, "2 ^ 3 - 1", at_ten).unwrap();
    assert_eq!(scalar, QueryResult::Vector(vec![(Labels::default(), 7.0)]));
    assert!(matches!(
        run(&logs, "sum(2)", at_ten),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn metric_queries_refuse_pipeline_errors() {
    let logs = logs();
    let at_ten = QueryParams {
        start_unix_nano: 10 * SECOND,
        end_unix_nano: 10 * SECOND,
        step_nanos: 0,
        limit: 0,
        direction: Direction::Backward,
    };
    let error = run(
        &logs,
        r#"sum(count_over_time({service_name="api"} | json [10s]))"#,
        at_ten,
    )
    .unwrap_err();
    assert!(matches!(error, Error::Pipeline { .. }));
    assert!(error
        .to_string()
        .starts_with("pipeline error: 'JSONParserErr'"));
    let skipped = run(
        &logs,
        r#"sum(count_over_time({service_name="api"} | json | __error__="" [10s]))"#,
        at_ten,
    )
    .unwrap();
    assert_eq!(skipped, QueryResult::Vector(Vec::new()));
    let dropped = run(
        &logs,
        r#"sum(count_over_time({service_name="api"} | json | drop __error__, __error_details__ [10s]))"#,
        at_ten,
    )
    .unwrap();
    assert_eq!(
        dropped,
        QueryResult::Vector(vec![(Labels::default(), 10.0)])
    );
}

#[test]
fn limits_and_deadline() {
    let logs = InMemoryLogs::new();
    for i in 0..(MAX_SERIES as u64 + 1) {
        logs.push_line(
            &tenant(),
            SECOND,
            Labels::new([("app", "x".to_string()), ("i", i.to_string())]),
            "line",
        );
    }
    let params = QueryParams {
        start_unix_nano: SECOND,
        end_unix_nano: SECOND,
        step_nanos: SECOND,
        limit: 0,
        direction: Direction::Backward,
    };
    assert!(matches!(
        run(&logs, r#"count_over_time({app="x"}[1s])"#, params),
        Err(Error::TooManySeries { .. })
    ));
    // Summed, the same entries are one series.
    assert!(run(&logs, r#"sum(count_over_time({app="x"}[1s]))"#, params).is_ok());
    let many_steps = QueryParams {
        end_unix_nano: SECOND + (MAX_STEPS as u64 + 1) * SECOND,
        ..params
    };
    assert!(matches!(
        run(&logs, r#"sum(count_over_time({app="x"}[1s]))"#, many_steps),
        Err(Error::TooManySteps { .. })
    ));
    let expr = parse(r#"sum(count_over_time({app="x"}[1s]))"#).unwrap();
    let past = Instant::now();
    let timed = Engine::new(&logs, &tenant())
        .with_deadline(past)
        .evaluate(&expr, &params);
    assert!(matches!(timed, Err(Error::Timeout)));
}

#[test]
fn pushdown_takes_plain_contains_filters_before_line_format() {
    let Ok(Expr::Log(log)) =
        parse(r#"{a="b"} |= "x" |= "y" or "z" != "w" |= "" | line_format "{{.a}}" |= "after""#)
    else {
        panic!("not a log query");
    };
    assert_eq!(required_substrings(&log.pipeline), ["x"]);
}

#[test]
fn line_filter_only_pipelines_match_the_full_pipeline() {
    let logs = logs();
    let params = QueryParams {
        start_unix_nano: 2 * SECOND,
        end_unix_nano: 10 * SECOND,
        step_nanos: 2 * SECOND,
        limit: 0,
        direction: Direction::Backward,
    };
    // `| drop no_such_label` changes nothing but forces the general path.
    for (fast, full) in [
        (
            r#"count_over_time({service_name=~".+"} |= "s" [4s])"#,
            r#"count_over_time({service_name=~".+"} |= "s" | drop no_such_label [4s])"#,
        ),
        (
            r#"sum by (trace_id, level) (bytes_rate({service_name=~".+"} !~ "x" [4s]))"#,
            r#"sum by (trace_id, level) (bytes_rate({service_name=~".+"} !~ "x" | drop no_such_label [4s]))"#,
        ),
        (
            r#"sum without (trace_id) (count_over_time({service_name=~".+"}[4s]))"#,
            r#"sum without (trace_id) (count_over_time({service_name=~".+"} | drop no_such_label [4s]))"#,
        ),
    ] {
        assert_eq!(
            run(&logs, fast, params).unwrap(),
            run(&logs, full, params).unwrap(),
            "{fast}"
        );
    }
}

#[test]
fn unwrapped_range_aggregations() {
    let logs = logs();
    let at_ten = QueryParams {
        start_unix_nano: 10 * SECOND,
        end_unix_nano: 10 * SECOND,
        step_nanos: 0,
        limit: 0,
        direction: Direction::Backward,
    };
    // api's `took` is 1ms..10ms; errors (status 500) at 3, 6 and 9 s.
    let vector = |query: &str| match run(&logs, query, at_ten).unwrap() {
        QueryResult::Vector(samples) => samples
            .into_iter()
            .map(|(labels, value)| (labels.to_string(), value))
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        vector(
            r#"max_over_time({service_name="api"} | logfmt | unwrap duration(took) [10s]) by (level)"#
        ),
        [
            (r#"{level="error"}"#.to_string(), 0.009),
            (r#"{level="info"}"#.to_string(), 0.01)
        ]
    );
    assert_eq!(
        vector(r#"sum(sum_over_time({service_name="api"} | logfmt | unwrap status [10s]))"#),
        [("{}".to_string(), 3.0 * 500.0 + 7.0 * 200.0)]
    );
    let p50 = vector(
        r#"quantile_over_time(0.5, {service_name="api"} | logfmt | unwrap duration_seconds(took) [10s]) by (service_name)"#,
    );
    assert_eq!(p50.len(), 1);
    assert!((p50[0].1 - 0.0055).abs() < 1e-12, "{p50:?}");
    // The unwrapped label leaves the series' labels, so db's lines form one series.
    assert_eq!(
        vector(r#"avg_over_time({service_name="db"} | json | unwrap rows [10s])"#),
        [(r#"{op="select", service_name="db"}"#.to_string(), 6.0)]
    );
    // A value that does not convert fails the query unless filtered.
    let error = run(
        &logs,
        r#"sum(sum_over_time({service_name="api"} | logfmt | unwrap msg [10s]))"#,
        at_ten,
    )
    .unwrap_err();
    assert!(error.to_string().contains("SampleExtractionErr"), "{error}");
    assert_eq!(
        vector(
            r#"sum(sum_over_time({service_name="api"} | logfmt | unwrap msg | __error__="" [10s]))"#
        ),
        []
    );
}
