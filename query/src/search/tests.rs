use super::*;

const NOW: u64 = 1_700_000_000_000_000_000;

fn params(pairs: &[(&str, &str)]) -> QueryParams {
    QueryParams::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn native(pairs: &[(&str, &str)]) -> Result<SpanQuery, Error> {
    parse_native_search(&params(pairs), &QueryConfig::default(), NOW)
}

fn jaeger(pairs: &[(&str, &str)]) -> Result<JaegerSearch, Error> {
    parse_jaeger_search(&params(pairs), &QueryConfig::default(), NOW)
}

fn bad_parameter(result: Result<impl std::fmt::Debug, Error>) -> &'static str {
    match result {
        Err(Error::InvalidParameter { name, .. }) => name,
        other => panic!("expected an invalid parameter, got {other:?}"),
    }
}

#[test]
fn native_defaults() {
    let query = native(&[]).unwrap();
    assert_eq!(query.limit, 20);
    assert_eq!(query.end_unix_nano, NOW);
    assert_eq!(query.start_unix_nano, NOW - DEFAULT_LOOKBACK_NANOS);
    assert_eq!(query.service, None);
    assert!(query.attributes.is_empty());
}

#[test]
fn native_full_query() {
    let query = native(&[
        ("service", "cart"),
        ("operation", "GET /cart"),
        ("spanKind", "server"),
        ("attributes", "http.route=/api/x db.system=redis"),
        ("attributes", "note=\"a b\""),
        ("minDuration", "1.5s"),
        ("maxDuration", "2000"),
        ("status", "error"),
        ("start", "2023-11-14T22:00:00Z"),
        ("end", "1700000000000000000"),
        ("limit", "1000"),
    ])
    .unwrap();
    assert_eq!(query.service.as_deref(), Some("cart"));
    assert_eq!(query.operation.as_deref(), Some("GET /cart"));
    assert_eq!(query.span_kind, Some(SpanKind::Server));
    assert_eq!(
        query.attributes,
        vec![
            ("http.route".to_string(), "/api/x".to_string()),
            ("db.system".to_string(), "redis".to_string()),
            ("note".to_string(), "a b".to_string()),
        ]
    );
    assert_eq!(query.min_duration_nanos, Some(1_500_000_000));
    assert_eq!(query.max_duration_nanos, Some(2_000_000_000));
    assert_eq!(query.status, Some(StatusCode::Error));
    assert_eq!(query.start_unix_nano, 1_699_999_200_000_000_000);
    assert_eq!(query.end_unix_nano, NOW);
    assert_eq!(query.limit, 1000);
}

#[test]
fn native_rejections_name_the_parameter() {
    assert_eq!(bad_parameter(native(&[("limit", "0")])), "limit");
    assert_eq!(bad_parameter(native(&[("limit", "1001")])), "limit");
    assert_eq!(bad_parameter(native(&[("limit", "ten")])), "limit");
    assert_eq!(
        bad_parameter(native(&[("minDuration", "fast")])),
        "minDuration"
    );
    assert_eq!(
        bad_parameter(native(&[("minDuration", "2s"), ("maxDuration", "1s")])),
        "minDuration"
    );
    assert_eq!(bad_parameter(native(&[("status", "broken")])), "status");
    assert_eq!(
        bad_parameter(native(&[("spanKind", "unspecified")])),
        "spanKind"
    );
    assert_eq!(
        bad_parameter(native(&[("attributes", "novalue")])),
        "attributes"
    );
    assert_eq!(bad_parameter(native(&[("start", "yesterday")])), "start");
    assert_eq!(
        bad_parameter(native(&[("start", "2"), ("end", "1")])),
        "start"
    );
}

#[test]
fn logfmt_pairs() {
    assert_eq!(
        parse_logfmt_pairs("  a=1   b= "),
        Ok(vec![("a".into(), "1".into()), ("b".into(), "".into())])
    );
    assert_eq!(
        parse_logfmt_pairs(r#"k="x \"y\" z""#),
        Ok(vec![("k".into(), r#"x "y" z"#.into())])
    );
    assert_eq!(
        parse_logfmt_pairs("url=a=b"),
        Ok(vec![("url".into(), "a=b".into())])
    );
    assert!(parse_logfmt_pairs("=v").is_err());
    assert!(parse_logfmt_pairs("k=\"open").is_err());
}

#[test]
fn jaeger_tags_as_json_logfmt_and_tag_params() {
    let search = jaeger(&[
        ("service", "cart"),
        ("tags", r#"{"http.status_code":"500","retry":true}"#),
        ("tags", "db.system=redis"),
        ("tag", "peer.service:db:primary"),
    ])
    .unwrap();
    assert_eq!(
        search.query.attributes,
        vec![
            ("http.status_code".to_string(), "500".to_string()),
            ("retry".to_string(), "true".to_string()),
            ("db.system".to_string(), "redis".to_string()),
            ("peer.service".to_string(), "db:primary".to_string()),
        ]
    );
    assert_eq!(
        bad_parameter(jaeger(&[("service", "a"), ("tags", "{not json")])),
        "tags"
    );
}

#[test]
fn jaeger_times_are_microseconds_with_lookback() {
    let search = jaeger(&[
        ("service", "cart"),
        ("end", "1700000000000000"),
        ("lookback", "2h"),
    ])
    .unwrap();
    assert_eq!(search.query.end_unix_nano, NOW);
    assert_eq!(
        search.query.start_unix_nano,
        NOW - 2 * DEFAULT_LOOKBACK_NANOS
    );
    let search = jaeger(&[
        ("service", "cart"),
        ("start", "1699999999000000"),
        ("lookback", "custom"),
    ])
    .unwrap();
    assert_eq!(search.query.start_unix_nano, NOW - 1_000_000_000);
}

#[test]
fn jaeger_requires_service_unless_trace_ids_and_caps_limit() {
    assert_eq!(bad_parameter(jaeger(&[])), "service");
    let search = jaeger(&[("traceID", "abc"), ("traceID", "def")]).unwrap();
    assert_eq!(search.trace_ids.len(), 2);
    assert_eq!(bad_parameter(jaeger(&[("traceID", "xyz")])), "traceID");
    let search = jaeger(&[("service", "a"), ("limit", "1500")]).unwrap();
    assert_eq!(search.query.limit, 1000);
    assert_eq!(
        bad_parameter(jaeger(&[("service", "a"), ("minDuration", "1 s")])),
        "minDuration"
    );
}
