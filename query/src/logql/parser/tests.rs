//! Parser tests, mostly from the examples in Loki's LogQL documentation.

use super::*;
use crate::logql::ast::*;

fn log(text: &str) -> LogExpr {
    match parse(text) {
        Ok(Expr::Log(log)) => log,
        other => panic!("{text}: expected a log query, got {other:?}"),
    }
}

fn metric(text: &str) -> MetricExpr {
    match parse(text) {
        Ok(Expr::Metric(metric)) => metric,
        other => panic!("{text}: expected a metric query, got {other:?}"),
    }
}

/// The innermost range aggregation's function, range and offset.
fn range_of(metric: &MetricExpr) -> (RangeOp, u64, u64) {
    match metric {
        MetricExpr::Range {
            op,
            range_nanos,
            offset_nanos,
            ..
        } => (*op, *range_nanos, *offset_nanos),
        MetricExpr::Vector { inner, .. } => range_of(inner),
        other => panic!("no range aggregation in {other:?}"),
    }
}

fn unsupported(text: &str) -> String {
    match parse(text) {
        Err(Error::Unsupported { what }) => what,
        other => panic!("{text}: expected unsupported, got {other:?}"),
    }
}

fn parse_error(text: &str) -> String {
    match parse(text) {
        Err(error @ Error::Parse { .. }) => error.to_string(),
        other => panic!("{text}: expected a parse error, got {other:?}"),
    }
}

#[test]
fn stream_selectors() {
    let selector = log(r#"{app="mysql",name=~"mysql-backup"}"#);
    assert_eq!(selector.matchers.len(), 2);
    assert_eq!(selector.matchers[1].to_string(), r#"name=~"mysql-backup""#);
    assert!(selector.pipeline.is_empty());
    let all_ops = log(r#"{a="1", b!="2", c=~"3.*", d!~"4|5",}"#);
    let ops: Vec<MatchOp> = all_ops.matchers.iter().map(|m| m.op).collect();
    assert_eq!(
        ops,
        [
            MatchOp::Equal,
            MatchOp::NotEqual,
            MatchOp::Regex,
            MatchOp::NotRegex
        ]
    );
    assert_eq!(
        parse_selector(r#"{service_name="api"} |= "x""#)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn line_filters_chain() {
    let query =
        log(r#"{job="mysql"} |= "error" != "timeout" |~ "tsdb-ops.*io:2003" !~ `status \d+`"#);
    let ops: Vec<LineFilterOp> = query
        .pipeline
        .iter()
        .map(|stage| match stage {
            Stage::LineFilter(filter) => filter.op,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ops,
        [
            LineFilterOp::Contains,
            LineFilterOp::NotContains,
            LineFilterOp::Regex,
            LineFilterOp::NotRegex
        ]
    );
    let or = log(r#"{app="x"} |= "level=error" or "level=warn" |= "y""#);
    match &or.pipeline[0] {
        Stage::LineFilter(filter) => assert_eq!(filter.values, ["level=error", "level=warn"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(or.pipeline.len(), 2);
    assert!(matches!(
        parse(r#"{app="x"} |~ "(""#),
        Err(Error::InvalidRegex { .. })
    ));
}

#[test]
fn parsers_and_label_filters() {
    let query = log(
        r#"{cluster="ops-tools1", namespace="loki-dev", job="loki-dev/query-frontend"} |= "metrics.go" !="out of order" | logfmt | duration > 30s or status_code!="200""#,
    );
    assert_eq!(query.pipeline.len(), 4);
    assert_eq!(
        query.pipeline[2],
        Stage::Logfmt {
            strict: false,
            extractions: Vec::new()
        }
    );
    match &query.pipeline[3] {
        Stage::LabelFilter(LabelFilter::Or(left, right)) => {
            assert_eq!(
                **left,
                LabelFilter::Number {
                    name: "duration".into(),
                    op: CmpOp::Gt,
                    value: 30.0,
                    kind: NumberKind::Duration
                }
            );
            assert!(matches!(**right, LabelFilter::Matcher(_)));
        }
        other => panic!("{other:?}"),
    }

    // `and` and `or` bind equally, left to right (Loki's documented example); a comma and a
    // space also mean `and`.
    let left_to_right = log(
        r#"{app="x"} | json | duration >= 20ms or method="GET" and size <= 20KB, latency <= 1.5"#,
    );
    match &left_to_right.pipeline[1] {
        Stage::LabelFilter(LabelFilter::And(left, last)) => {
            assert!(matches!(
                **last,
                LabelFilter::Number {
                    kind: NumberKind::Number,
                    ..
                }
            ));
            match &**left {
                LabelFilter::And(or, size) => {
                    assert!(matches!(**or, LabelFilter::Or(..)));
                    assert!(matches!(
                        **size,
                        LabelFilter::Number {
                            kind: NumberKind::Bytes,
                            ..
                        }
                    ));
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    let grouped = log(r#"{app="x"} | logfmt | (status=~"5.." or status="429") level!="debug""#);
    assert!(matches!(
        grouped.pipeline[1],
        Stage::LabelFilter(LabelFilter::And(..))
    ));
    let negative = log(r#"{app="x"} | temp < -5"#);
    assert!(matches!(
        negative.pipeline[0],
        Stage::LabelFilter(LabelFilter::Number { value, .. }) if value == -5.0
    ));
}

#[test]
fn extraction_shorthands_and_logfmt_flags() {
    let query = log(
        r#"{a="b"} | json servers, ua="request.ua" | logfmt --strict --keep-empty host, fwd_ip="fwd""#,
    );
    assert_eq!(
        query.pipeline[0],
        Stage::Json(vec![
            Extraction {
                label: "servers".into(),
                path: vec![PathPart::Key("servers".into())]
            },
            Extraction {
                label: "ua".into(),
                path: vec![PathPart::Key("request".into()), PathPart::Key("ua".into())]
            },
        ])
    );
    assert_eq!(
        query.pipeline[1],
        Stage::Logfmt {
            strict: true,
            extractions: vec![
                Extraction {
                    label: "host".into(),
                    path: vec![PathPart::Key("host".into())]
                },
                Extraction {
                    label: "fwd_ip".into(),
                    path: vec![PathPart::Key("fwd".into())]
                },
            ]
        }
    );
}

#[test]
fn json_extractions() {
    let query = log(
        r#"{job="loki-ops/query-frontend"} | json first_server="servers[0]", ua="request.headers[\"User-Agent\"]""#,
    );
    assert_eq!(
        query.pipeline[0],
        Stage::Json(vec![
            Extraction {
                label: "first_server".into(),
                path: vec![PathPart::Key("servers".into()), PathPart::Index(0)]
            },
            Extraction {
                label: "ua".into(),
                path: vec![
                    PathPart::Key("request".into()),
                    PathPart::Key("headers".into()),
                    PathPart::Key("User-Agent".into())
                ]
            },
        ])
    );
    assert!(parse(r#"{a="b"} | json x="a..""#).is_err());
}

#[test]
fn format_and_label_selection_stages() {
    let query = log(
        r#"{container="frontend"} | logfmt | line_format "{{.query}} {{ .duration }}" | label_format dst=src, msg="{{ __line__ }}" | drop __error__, __error_details__ | keep level, app="x""#,
    );
    match &query.pipeline[1] {
        Stage::LineFormat(template) => assert_eq!(
            template.parts,
            [
                TemplatePart::Label("query".into()),
                TemplatePart::Text(" ".into()),
                TemplatePart::Label("duration".into())
            ]
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(&query.pipeline[2], Stage::LabelFormat(formats) if formats.len() == 2));
    assert!(matches!(&query.pipeline[3], Stage::Drop(names) if names.len() == 2));
    assert!(
        matches!(&query.pipeline[4], Stage::Keep(names) if matches!(names[1], LabelSelection::Matcher(_)))
    );
    assert!(unsupported(r#"{a="b"} | line_format "{{ .a | ToUpper }}""#).contains("ToUpper"));
}

#[test]
fn metric_queries() {
    let rate = metric(r#"rate({job="mysql"} |= "error" != "timeout" [5m])"#);
    assert!(matches!(
        rate,
        MetricExpr::Range {
            op: RangeOp::Rate,
            range_nanos: 300_000_000_000,
            offset_nanos: 0,
            ..
        }
    ));
    let summed = metric(
        r#"sum by (host) (rate({job="mysql"} |= "error" != "timeout" | json | duration > 10s [1m]))"#,
    );
    match summed {
        MetricExpr::Vector {
            op: VectorOp::Sum,
            grouping: Some(Grouping::By(labels)),
            inner,
            ..
        } => {
            assert_eq!(labels, ["host"]);
            assert_eq!(range_of(&inner).1, 60_000_000_000);
        }
        other => panic!("{other:?}"),
    }
    let trailing = metric(r#"sum(count_over_time({job="mysql"}[5m])) without (instance, pod)"#);
    assert!(matches!(
        trailing,
        MetricExpr::Vector {
            grouping: Some(Grouping::Without(_)),
            ..
        }
    ));
    let topk = metric(r#"topk(10,sum(rate({region="us-east1"}[5m])) by (name))"#);
    assert!(matches!(
        topk,
        MetricExpr::Vector {
            op: VectorOp::Topk,
            parameter: Some(10),
            ..
        }
    ));
    let offset = metric(r#"count_over_time(({job="mysql"} | json)[5m] offset 1h)"#);
    assert_eq!(range_of(&offset).2, 3_600_000_000_000);
    let bytes = metric(r#"bytes_over_time({app="x"}[1h30m])"#);
    assert_eq!(range_of(&bytes).0, RangeOp::BytesOverTime);
    let grafana = metric(
        r#"sum by (level, detected_level) (count_over_time({service_name="api"} | drop __error__[1m]))"#,
    );
    assert!(matches!(grafana, MetricExpr::Vector { .. }));
}

#[test]
fn unwrapped_range_aggregations() {
    let quantile = metric(
        r#"quantile_over_time(0.99, {cluster="ops-tools1",container="ingress-nginx"} | json | __error__ = "" | unwrap duration(request_time) | __error__="" [1m]) by (path)"#,
    );
    match quantile {
        MetricExpr::Range {
            op: RangeOp::QuantileOverTime,
            unwrap: Some(unwrap),
            parameter: Some(phi),
            grouping: Some(Grouping::By(labels)),
            log,
            ..
        } => {
            assert_eq!(phi, 0.99);
            assert_eq!(labels, ["path"]);
            assert_eq!(unwrap.label, "request_time");
            assert_eq!(unwrap.conversion, NumberKind::Duration);
            assert_eq!(unwrap.post_filters.len(), 1);
            assert_eq!(log.pipeline.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    let summed = metric(
        r#"sum by (org_id) (sum_over_time({cluster="ops-tools1",container="loki-dev"} |= "metrics.go" | logfmt | unwrap bytes_processed [1m]))"#,
    );
    assert!(matches!(summed, MetricExpr::Vector { .. }));
    let bytes = metric(r#"avg_over_time(({a="b"} | logfmt | unwrap bytes(size))[5m])"#);
    assert!(matches!(
        bytes,
        MetricExpr::Range {
            unwrap: Some(Unwrap {
                conversion: NumberKind::Bytes,
                ..
            }),
            ..
        }
    ));
    assert!(parse_error(r#"sum_over_time({a="b"}[1m])"#).contains("without unwrap"));
    assert!(parse_error(r#"count_over_time({a="b"} | unwrap x [1m])"#).contains("with unwrap"));
    assert!(parse_error(r#"count_over_time({a="b"}[1m]) by (x)"#).contains("grouping not allowed"));
    assert!(parse_error(r#"{a="b"} | unwrap x"#).contains("range aggregation"));
}

#[test]
fn binary_operators_and_literals() {
    // Grafana's data source health check.
    assert_eq!(
        metric("vector(1)+vector(1)"),
        MetricExpr::Binary {
            op: BinaryOp::Add,
            return_bool: false,
            left: Box::new(MetricExpr::VectorLiteral(1.0)),
            right: Box::new(MetricExpr::VectorLiteral(1.0)),
        }
    );
    // `*` binds tighter than `+`, `^` is right-associative, comparisons bind loosest.
    match metric("1 + 2 * 3 ^ 2 ^ 2 > bool 4") {
        MetricExpr::Binary {
            op: BinaryOp::Gt,
            return_bool: true,
            left,
            ..
        } => match *left {
            MetricExpr::Binary {
                op: BinaryOp::Add,
                right,
                ..
            } => match *right {
                MetricExpr::Binary {
                    op: BinaryOp::Mul,
                    right,
                    ..
                } => assert!(matches!(
                    *right,
                    MetricExpr::Binary { op: BinaryOp::Pow, ref right, .. }
                        if matches!(**right, MetricExpr::Binary { op: BinaryOp::Pow, .. })
                )),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    let ratio = metric(r#"sum(rate({app="x"} |= "error" [5m])) / sum(rate({app="x"}[5m])) * 100"#);
    assert!(matches!(
        ratio,
        MetricExpr::Binary {
            op: BinaryOp::Mul,
            ..
        }
    ));
    assert_eq!(metric("-2"), MetricExpr::Scalar(-2.0));
    assert!(matches!(
        metric(r#"(sum(count_over_time({a="b"}[1m])))"#),
        MetricExpr::Vector { .. }
    ));
    assert!(matches!(parse(r#"(({a="b"} |= "x"))"#), Ok(Expr::Log(_))));
}

#[test]
fn unsupported_constructs_are_named() {
    assert!(unsupported(r#"rate_counter({a="b"} | unwrap x [1m])"#).contains("rate_counter"));
    assert!(unsupported(r#"{a="b"} | pattern "<ip> <_>""#).contains("pattern"));
    assert!(unsupported(r#"{a="b"} | regexp "(?P<x>.*)""#).contains("regexp"));
    assert!(unsupported(r#"{a="b"} |> "<_> error""#).contains("pattern"));
    assert!(unsupported(r#"rate({a="b"}[1m]) and rate({c="d"}[1m])"#).contains("set operations"));
    assert!(unsupported(r#"rate({a="b"}[1m]) / on(x) rate({c="d"}[1m])"#).contains("on"));
    assert!(unsupported(r#"{a="b"} | addr = ip("10.0.0.0/8")"#).contains("ip()"));
    assert!(
        unsupported(r#"label_replace(rate({a="b"}[1m]), "x", "$1", "y", "(.*)")"#)
            .contains("label_replace")
    );
    assert!(parse_error(r#"{a="b"} | logfmt --lenient"#).contains("--lenient"));
}

#[test]
fn syntax_errors_point_at_the_token() {
    assert_eq!(
        parse_error(r#"{app="foo" |= "x""#),
        "parse error at line 1, col 12: syntax error: unexpected |=, expecting , or }"
    );
    assert_eq!(
        parse_error(r#"{app=foo}"#),
        "parse error at line 1, col 6: syntax error: unexpected IDENTIFIER foo, expecting STRING"
    );
    assert!(parse_error(r#"{app=~".*"}"#).contains("at least one"));
    assert!(parse_error("{}").contains("unexpected }"));
    assert!(parse_error(r#"rate({a="b"})"#).contains("expecting ["));
    assert!(parse_error(r#"{a="b"}[5m]"#).contains("unexpected ["));
    assert!(parse_error(r#"topk(x, rate({a="b"}[1m]))"#).contains("positive integer"));
    assert!(parse_error(r#"foo({a="b"})"#).contains("IDENTIFIER foo"));
    assert!(parse_error("").contains("end of input"));
    assert!(parse_error(r#"{a="b"} | 5"#).contains("unexpected NUMBER"));
}
