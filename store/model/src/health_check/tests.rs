use super::*;

fn http(name: &str, url: &str) -> HealthCheckDefinition {
    HealthCheckDefinition {
        name: name.to_string(),
        service: "checkout".to_string(),
        probe: ProbeKind::Http,
        url: Some(url.to_string()),
        expected_status: None,
        address: None,
        grpc_service: None,
        interval: None,
        timeout: None,
        enabled: true,
    }
}

fn fields(problems: &[DefinitionProblem]) -> Vec<&'static str> {
    problems.iter().map(|problem| problem.field).collect()
}

#[test]
fn defaults_apply_and_round_trip() {
    let spec = http("web", "https://example.test:8443/healthz?x=1")
        .validate()
        .unwrap();
    assert_eq!(spec.interval, Duration::from_secs(15));
    assert_eq!(spec.timeout, Duration::from_secs(5));
    let definition = spec.to_definition();
    assert_eq!(definition.interval.as_deref(), Some("15s"));
    assert_eq!(definition.validate().unwrap(), spec);
    let short = HealthCheckDefinition {
        interval: Some("1s".to_string()),
        ..http("web", "http://127.0.0.1/")
    };
    assert_eq!(
        short.validate().unwrap().timeout,
        Duration::from_millis(500)
    );
}

#[test]
fn labels_are_the_contract() {
    let spec = HealthCheckDefinition {
        probe: ProbeKind::Grpc,
        url: None,
        address: Some("[::1]:50051".to_string()),
        grpc_service: Some("shop.Cart".to_string()),
        ..http("cart-grpc", "unused")
    }
    .validate()
    .unwrap();
    assert_eq!(
        spec.series_labels(),
        [
            ("job", "health_check"),
            ("check", "cart-grpc"),
            ("service", "checkout"),
            ("probe", "grpc"),
            ("instance", "[::1]:50051"),
        ]
    );
}

#[test]
fn every_bad_field_is_named() {
    let bad = HealthCheckDefinition {
        name: "has space".to_string(),
        service: " ".to_string(),
        expected_status: Some(42),
        address: Some("x:1".to_string()),
        interval: Some("500ms".to_string()),
        timeout: Some("1s".to_string()),
        ..http("x", "ftp://example.test/")
    };
    let problems = bad.validate().unwrap_err();
    assert_eq!(
        fields(&problems),
        [
            "name",
            "service",
            "interval",
            "address",
            "expected_status",
            "url"
        ],
        "{problems:?}"
    );
    let slow = HealthCheckDefinition {
        interval: Some("2s".to_string()),
        timeout: Some("2s".to_string()),
        ..http("x", "http://a/")
    };
    let problems = slow.validate().unwrap_err();
    assert_eq!(fields(&problems), ["timeout"]);
    assert!(
        problems[0].to_string().contains("below the interval"),
        "{problems:?}"
    );
}

#[test]
fn urls_and_addresses() {
    for good in [
        "http://a",
        "http://a:80/x",
        "https://[::1]:443/",
        "http://[::1]/p#f",
    ] {
        assert!(check_url(good).is_ok(), "{good}");
    }
    for bad in [
        "http://",
        "http://user:pw@a/",
        "http://a:0/",
        "http://a:x/",
        "http://a b/",
        "a:80",
        "http://[zz]/",
    ] {
        assert!(check_url(bad).is_err(), "{bad}");
    }
    for good in ["a:1", "10.0.0.1:65535", "[::1]:9"] {
        assert!(check_host_port(good).is_ok(), "{good}");
    }
    for bad in ["a", ":80", "a:70000", "a:0", "[::1]", "a/b:80"] {
        assert!(check_host_port(bad).is_err(), "{bad}");
    }
    let tcp = HealthCheckDefinition {
        probe: ProbeKind::Tcp,
        url: None,
        ..http("db", "unused")
    };
    assert_eq!(fields(&tcp.validate().unwrap_err()), ["address"]);
}

#[test]
fn durations_parse_and_format() {
    assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    for bad in ["", "5", "s", "1.5s", "5d", "-1s"] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    assert_eq!(format_duration(Duration::from_secs(60)), "60s");
}

#[test]
fn json_shape_is_flat_and_strict() {
    let definition: HealthCheckDefinition = serde_json::from_str(
        r#"{"name":"db","service":"orders","probe":"tcp","address":"db:5432","interval":"10s"}"#,
    )
    .unwrap();
    assert!(definition.enabled);
    assert!(definition.validate().is_ok());
    assert!(serde_json::from_str::<HealthCheckDefinition>(
        r#"{"name":"db","service":"orders","probe":"tcp","adress":"db:5432"}"#
    )
    .is_err());
}
