//! Tests against the compatibility spec's examples and Prometheus' OTLP receiver behaviour.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, number_data_point, AggregationTemporality, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use sightline_model::{SeriesSamples, SpanId, TraceId};

use super::delta::DeltaValue;
use super::exponential::{self, ExponentialBuckets};

use super::naming::*;
use super::*;

const T0: u64 = 1_700_000_000_000_000_000;
const SECOND: u64 = 1_000_000_000;
const T0_MS: i64 = 1_700_000_000_000;
const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x3, 0x81, 0x3, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0xc,
];
const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];

fn kv(key: &str, value: ProtoValue) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, ProtoValue::StringValue(value.to_string()))
}

fn service_resource() -> Resource {
    Resource {
        attributes: vec![
            text("service.name", "checkout"),
            text("service.namespace", "shop"),
            text("service.instance.id", "pod-1"),
            text("host.name", "node-a"),
        ],
        ..Resource::default()
    }
}

fn request(resource: Resource, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.http".into(),
                    version: "1.2.0".into(),
                    ..InstrumentationScope::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        description: format!("about {name}"),
        unit: unit.into(),
        metadata: Vec::new(),
        data: Some(data),
    }
}

fn number(time: u64, value: f64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: T0 - 60 * SECOND,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..NumberDataPoint::default()
    }
}

fn delta_number(start: u64, time: u64, value: f64) -> NumberDataPoint {
    NumberDataPoint {
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsInt(value as i64)),
        ..NumberDataPoint::default()
    }
}

fn sum(points: Vec<NumberDataPoint>, monotonic: bool, temporality: AggregationTemporality) -> Data {
    Data::Sum(Sum {
        data_points: points,
        aggregation_temporality: temporality as i32,
        is_monotonic: monotonic,
    })
}

fn exemplar(value: f64) -> proto_metrics::Exemplar {
    proto_metrics::Exemplar {
        filtered_attributes: vec![text("user.id", "42")],
        time_unix_nano: T0 - SECOND,
        span_id: SPAN_ID.to_vec(),
        trace_id: TRACE_ID.to_vec(),
        value: Some(exemplar::Value::AsDouble(value)),
    }
}

fn histogram_point(bounds: Vec<f64>, counts: Vec<u64>, sum: f64) -> HistogramDataPoint {
    HistogramDataPoint {
        start_time_unix_nano: T0 - 60 * SECOND,
        time_unix_nano: T0,
        count: counts.iter().sum(),
        sum: Some(sum),
        bucket_counts: counts,
        explicit_bounds: bounds,
        ..HistogramDataPoint::default()
    }
}

fn histogram(points: Vec<HistogramDataPoint>, temporality: AggregationTemporality) -> Data {
    Data::Histogram(Histogram {
        data_points: points,
        aggregation_temporality: temporality as i32,
    })
}

fn translate(request: ExportMetricsServiceRequest) -> DecodedMetrics {
    metrics_from_otlp(request, &TenantId::default_tenant(), &deltas())
}

fn deltas() -> DeltaToCumulative {
    DeltaToCumulative::new(DeltaToCumulativeConfig::default())
}

/// The samples of the series printed as `name{a="1", …}`.
fn samples(decoded: &DecodedMetrics, series: &str) -> Vec<(i64, f64)> {
    find(decoded, series)
        .samples
        .iter()
        .map(|sample| (sample.timestamp_ms, sample.value))
        .collect()
}

fn find<'a>(decoded: &'a DecodedMetrics, series: &str) -> &'a SeriesSamples {
    decoded
        .batch
        .series
        .iter()
        .find(|one| one.labels.to_string() == series)
        .unwrap_or_else(|| panic!("no series {series} in {:#?}", series_names(decoded)))
}

fn series_names(decoded: &DecodedMetrics) -> Vec<String> {
    decoded
        .batch
        .series
        .iter()
        .map(|one| one.labels.to_string())
        .collect()
}

/// The `job` and `instance` labels of [`service_resource`].
const IDENTITY: &str = r#"instance="pod-1", job="shop/checkout""#;
/// The scope labels of [`request`].
const SCOPE: &str = r#"otel_scope_name="io.opentelemetry.http", otel_scope_version="1.2.0""#;
/// Series labels shared by every point of [`request`] with [`service_resource`].
const COMMON: &str = r#"instance="pod-1", job="shop/checkout", otel_scope_name="io.opentelemetry.http", otel_scope_version="1.2.0""#;

#[test]
fn metric_names_follow_the_spec_and_prometheus() {
    let cases = [
        (
            "http.server.duration",
            "s",
            NameKind::Other,
            "http_server_duration_seconds",
        ),
        (
            "system.filesystem.usage",
            "By",
            NameKind::Gauge,
            "system_filesystem_usage_bytes",
        ),
        (
            "system.network.dropped",
            "{packets}",
            NameKind::MonotonicCounter,
            "system_network_dropped_total",
        ),
        (
            "system.network.dropped",
            "packets",
            NameKind::Gauge,
            "system_network_dropped_packets",
        ),
        (
            "system.memory.utilization",
            "1",
            NameKind::Gauge,
            "system_memory_utilization_ratio",
        ),
        (
            "requests",
            "1",
            NameKind::MonotonicCounter,
            "requests_total",
        ),
        (
            "(lambda).function.executions(#)",
            "",
            NameKind::Other,
            "lambda_function_executions",
        ),
        ("foo__bar...baz_", "", NameKind::Other, "foo_bar_baz"),
        ("2xx.responses", "", NameKind::Gauge, "_2xx_responses"),
        (
            "process.cpu.time",
            "s",
            NameKind::MonotonicCounter,
            "process_cpu_time_seconds_total",
        ),
        (
            "requests_total",
            "",
            NameKind::MonotonicCounter,
            "requests_total",
        ),
        (
            "total.requests",
            "",
            NameKind::MonotonicCounter,
            "requests_total",
        ),
        (
            "network.io",
            "By/s",
            NameKind::Gauge,
            "network_io_bytes_per_second",
        ),
        (
            "db.latency",
            "ms",
            NameKind::Other,
            "db_latency_milliseconds",
        ),
        ("duration_seconds", "s", NameKind::Other, "duration_seconds"),
        (
            "throughput",
            "{request}/s",
            NameKind::Gauge,
            "throughput_per_second",
        ),
        ("speed", "m/s", NameKind::Gauge, "speed_meters_per_second"),
        ("cpu.ratio", "1", NameKind::Gauge, "cpu_ratio"),
        ("job:rate5m", "", NameKind::Gauge, "job:rate5m"),
        ("memory", "MiBy", NameKind::Gauge, "memory_mebibytes"),
        ("temperature", "Cel", NameKind::Gauge, "temperature_celsius"),
    ];
    for (name, unit, kind, expected) in cases {
        assert_eq!(
            prometheus_metric_name(name, unit, kind).as_deref(),
            Some(expected),
            "{name} [{unit}] {kind:?}"
        );
    }
    assert_eq!(prometheus_metric_name("...", "s", NameKind::Gauge), None);
    assert_eq!(prometheus_metric_name("", "", NameKind::Gauge), None);
}

#[test]
fn units_in_prometheus_words() {
    for (unit, expected) in [
        ("ms", "milliseconds"),
        ("s", "seconds"),
        ("By", "bytes"),
        ("By/s", "bytes_per_second"),
        ("{packet}", ""),
        ("{request}/s", "per_second"),
        ("1", ""),
        ("%", "percent"),
        ("", ""),
        ("widgets", "widgets"),
    ] {
        assert_eq!(prometheus_unit(unit), expected, "{unit}");
    }
}

#[test]
fn label_names_are_sanitised_and_reserved_prefixes_kept_out() {
    for (key, expected) in [
        ("http.method", Some("http_method")),
        (
            "http.response.status_code",
            Some("http_response_status_code"),
        ),
        ("123invalid", Some("key_123invalid")),
        ("_private", Some("key_private")),
        ("__name__", Some("key_name_")),
        ("__reserved", Some("key_reserved")),
        ("foo..bar", Some("foo_bar")),
        ("a__b", Some("a_b")),
        ("ütf8", Some("key_tf8")),
        ("...", None),
        ("", None),
    ] {
        assert_eq!(sanitize_label_name(key).as_deref(), expected, "{key:?}");
    }
}

#[test]
fn colliding_label_names_join_values_in_key_order() {
    let pairs = attributes_to_label_pairs(&[
        text("foo.bar", "dot"),
        text("foo_bar", "underscore"),
        text("foo-bar", "dash"),
        text("other", "x"),
    ]);
    assert_eq!(
        pairs,
        vec![
            ("foo_bar".to_string(), "dash;dot;underscore".to_string()),
            ("other".to_string(), "x".to_string()),
        ]
    );
}

#[test]
fn attribute_values_become_text_by_the_attribute_spec() {
    let value = |value: ProtoValue| attribute_value_text(Some(&AnyValue { value: Some(value) }));
    assert_eq!(value(ProtoValue::BoolValue(true)), "true");
    assert_eq!(value(ProtoValue::IntValue(-7)), "-7");
    assert_eq!(value(ProtoValue::DoubleValue(1.5)), "1.5");
    assert_eq!(value(ProtoValue::BytesValue(vec![1, 2, 255])), "AQL/");
    assert_eq!(value(ProtoValue::BytesValue(b"Ma".to_vec())), "TWE=");
    assert_eq!(value(ProtoValue::BytesValue(b"M".to_vec())), "TQ==");
    let array = ProtoValue::ArrayValue(ArrayValue {
        values: vec![
            AnyValue {
                value: Some(ProtoValue::IntValue(1)),
            },
            AnyValue {
                value: Some(ProtoValue::StringValue("x".into())),
            },
        ],
    });
    assert_eq!(value(array), r#"[1,"x"]"#);
    let map = ProtoValue::KvlistValue(KeyValueList {
        values: vec![kv("k", ProtoValue::BoolValue(false))],
    });
    assert_eq!(value(map), r#"{"k":false}"#);
    assert_eq!(attribute_value_text(None), "");
    assert_eq!(format_float(f64::INFINITY), "+Inf");
    assert_eq!(format_float(0.005), "0.005");
    assert_eq!(format_float(1e21), "1000000000000000000000");
    assert_eq!(format_float(10.0), "10");
}

#[test]
fn gauge_gets_resource_scope_and_target_info() {
    let gauge = Data::Gauge(Gauge {
        data_points: vec![number(
            T0 + 123_456_789,
            0.25,
            vec![text("cpu", "0"), text("job", "overridden")],
        )],
    });
    let decoded = translate(request(
        service_resource(),
        vec![metric("system.cpu.utilization", "1", gauge)],
    ));
    assert_eq!((decoded.accepted_points, decoded.rejected_points), (1, 0));
    let series = format!("system_cpu_utilization_ratio{{cpu=\"0\", {COMMON}}}");
    // Nanoseconds become milliseconds.
    assert_eq!(samples(&decoded, &series), vec![(T0_MS + 123, 0.25)]);
    let target_info = r#"target_info{host_name="node-a", instance="pod-1", job="shop/checkout"}"#;
    assert_eq!(samples(&decoded, target_info), vec![(T0_MS + 123, 1.0)]);
    assert_eq!(
        decoded.batch.metadata,
        vec![
            MetricMetadata {
                metric_family: "system_cpu_utilization_ratio".into(),
                metric_type: MetricType::Gauge,
                help: "about system.cpu.utilization".into(),
                unit: String::new(),
            },
            MetricMetadata {
                metric_family: "target_info".into(),
                metric_type: MetricType::Info,
                help: "Target metadata".into(),
                unit: String::new(),
            },
        ]
    );
}

#[test]
fn target_info_only_when_other_resource_attributes_exist() {
    let resource = Resource {
        attributes: vec![text("service.name", "checkout")],
        ..Resource::default()
    };
    let gauge = Data::Gauge(Gauge {
        data_points: vec![number(T0, 1.0, Vec::new())],
    });
    let decoded = translate(request(resource, vec![metric("up", "", gauge)]));
    assert_eq!(
        series_names(&decoded),
        vec![
            r#"up{job="checkout", otel_scope_name="io.opentelemetry.http", otel_scope_version="1.2.0"}"#
        ]
    );
}

#[test]
fn monotonic_sum_is_a_counter_with_exemplars() {
    let mut point = number(T0, 42.0, vec![text("http.route", "/cart")]);
    point.exemplars = vec![exemplar(0.5)];
    let decoded = translate(request(
        service_resource(),
        vec![metric(
            "http.server.requests",
            "{request}",
            sum(vec![point], true, AggregationTemporality::Cumulative),
        )],
    ));
    let series = find(
        &decoded,
        &format!("http_server_requests_total{{http_route=\"/cart\", {COMMON}}}"),
    );
    assert_eq!(series.samples[0].value, 42.0);
    let exemplar = &series.exemplars[0];
    assert_eq!(exemplar.trace_id, Some(TraceId(TRACE_ID)));
    assert_eq!(exemplar.span_id, Some(SpanId(SPAN_ID)));
    assert_eq!(exemplar.timestamp_ms, T0_MS - 1000);
    assert_eq!(exemplar.value, 0.5);
    assert_eq!(
        exemplar.labels.to_string(),
        r#"{span_id="eee19b7ec3c1b174", trace_id="5b8efff798038103d269b633813fc60c", user_id="42"}"#
    );
    assert_eq!(decoded.batch.metadata[0].metric_type, MetricType::Counter);
    assert_eq!(
        decoded.batch.metadata[0].metric_family,
        "http_server_requests_total"
    );
}

#[test]
fn non_monotonic_sum_is_a_gauge_without_exemplars() {
    let mut point = number(T0, -3.0, Vec::new());
    point.exemplars = vec![exemplar(1.0)];
    let decoded = translate(request(
        service_resource(),
        vec![metric(
            "queue.depth",
            "{item}",
            sum(vec![point], false, AggregationTemporality::Cumulative),
        )],
    ));
    let series = find(&decoded, &format!("queue_depth{{{COMMON}}}"));
    assert_eq!(series.samples[0].value, -3.0);
    assert!(series.exemplars.is_empty());
    assert_eq!(decoded.batch.metadata[0].metric_type, MetricType::Gauge);
}

#[test]
fn histogram_becomes_cumulative_buckets_sum_and_count() {
    let mut point = histogram_point(vec![0.1, 0.5, 1.0], vec![2, 3, 0, 1], 3.7);
    point.exemplars = vec![exemplar(0.3), exemplar(7.0)];
    let decoded = translate(request(
        service_resource(),
        vec![metric(
            "http.server.duration",
            "s",
            histogram(vec![point], AggregationTemporality::Cumulative),
        )],
    ));
    let bucket = |le: &str| {
        format!("http_server_duration_seconds_bucket{{{IDENTITY}, le=\"{le}\", {SCOPE}}}")
    };
    for (le, expected) in [("0.1", 2.0), ("0.5", 5.0), ("1", 5.0), ("+Inf", 6.0)] {
        assert_eq!(
            samples(&decoded, &bucket(le)),
            vec![(T0_MS, expected)],
            "le={le}"
        );
    }
    assert_eq!(find(&decoded, &bucket("0.5")).exemplars.len(), 1);
    assert_eq!(find(&decoded, &bucket("+Inf")).exemplars[0].value, 7.0);
    assert!(find(&decoded, &bucket("0.1")).exemplars.is_empty());
    let sum = format!("http_server_duration_seconds_sum{{{COMMON}}}");
    let count = format!("http_server_duration_seconds_count{{{COMMON}}}");
    assert_eq!(samples(&decoded, &sum), vec![(T0_MS, 3.7)]);
    assert_eq!(samples(&decoded, &count), vec![(T0_MS, 6.0)]);
    assert_eq!(
        decoded.batch.metadata[0],
        MetricMetadata {
            metric_family: "http_server_duration_seconds".into(),
            metric_type: MetricType::Histogram,
            help: "about http.server.duration".into(),
            unit: "seconds".into(),
        }
    );
}

#[test]
fn histogram_without_buckets_has_only_inf_sum_and_count() {
    let mut point = histogram_point(Vec::new(), Vec::new(), 1.0);
    point.count = 4;
    point.sum = None;
    let decoded = translate(request(
        Resource::default(),
        vec![metric(
            "rpc.duration",
            "ms",
            histogram(vec![point], AggregationTemporality::Cumulative),
        )],
    ));
    let scope = r#"otel_scope_name="io.opentelemetry.http", otel_scope_version="1.2.0""#;
    assert_eq!(
        series_names(&decoded),
        vec![
            format!("rpc_duration_milliseconds_bucket{{le=\"+Inf\", {scope}}}"),
            format!("rpc_duration_milliseconds_count{{{scope}}}"),
        ]
    );
}

#[test]
fn invalid_points_are_rejected_with_counted_reasons() {
    let mismatched = histogram_point(vec![1.0, 2.0, 3.0], vec![1, 2, 3], 1.0);
    let unsorted = histogram_point(vec![2.0, 1.0], vec![1, 1, 1], 1.0);
    let good = histogram_point(vec![1.0], vec![1, 1], 1.0);
    let mut no_value = number(T0, 1.0, Vec::new());
    no_value.value = None;
    let no_time = number(0, 1.0, Vec::new());
    let decoded = translate(request(
        service_resource(),
        vec![
            metric(
                "latency",
                "s",
                histogram(
                    vec![mismatched, unsorted, good],
                    AggregationTemporality::Cumulative,
                ),
            ),
            metric(
                "",
                "",
                Data::Gauge(Gauge {
                    data_points: vec![number(T0, 1.0, Vec::new()); 2],
                }),
            ),
            Metric {
                name: "no.data".into(),
                ..Metric::default()
            },
            metric(
                "g",
                "",
                Data::Gauge(Gauge {
                    data_points: vec![no_value, no_time],
                }),
            ),
            metric(
                "s",
                "",
                sum(
                    vec![number(T0, 1.0, Vec::new())],
                    true,
                    AggregationTemporality::Unspecified,
                ),
            ),
        ],
    ));
    assert_eq!(decoded.accepted_points, 1);
    assert_eq!(decoded.rejected_points, 8);
    assert_eq!(
        decoded.first_rejection.as_deref(),
        Some("metric 'latency' point 0: 3 bucket counts for 3 explicit bounds: want one more count than bounds")
    );
    let reasons: Vec<(&str, usize)> = decoded.rejected_by_reason.into_iter().collect();
    assert_eq!(
        reasons,
        vec![
            ("bucket_count_mismatch", 1),
            ("empty_metric_name", 2),
            ("invalid_bucket_bounds", 1),
            ("missing_timestamp", 1),
            ("missing_value", 1),
            ("unknown_data_type", 1),
            ("unspecified_temporality", 1),
        ]
    );
    // Only the families with accepted points get metadata.
    let families: Vec<&str> = decoded
        .batch
        .metadata
        .iter()
        .map(|metadata| metadata.metric_family.as_str())
        .collect();
    assert_eq!(families, vec!["latency_seconds", "target_info"]);
}

#[test]
fn summary_becomes_quantiles_sum_and_count() {
    let point = SummaryDataPoint {
        time_unix_nano: T0,
        count: 10,
        sum: 12.5,
        quantile_values: vec![
            ValueAtQuantile {
                quantile: 0.99,
                value: 3.0,
            },
            ValueAtQuantile {
                quantile: 0.5,
                value: 1.0,
            },
        ],
        ..SummaryDataPoint::default()
    };
    let mut bad = point.clone();
    bad.quantile_values.push(ValueAtQuantile {
        quantile: 1.5,
        value: 0.0,
    });
    let decoded = translate(request(
        Resource::default(),
        vec![metric(
            "gc.pause",
            "s",
            Data::Summary(Summary {
                data_points: vec![point, bad],
            }),
        )],
    ));
    let scope = r#"otel_scope_name="io.opentelemetry.http", otel_scope_version="1.2.0""#;
    assert_eq!(
        series_names(&decoded),
        vec![
            format!("gc_pause_seconds{{{scope}, quantile=\"0.5\"}}"),
            format!("gc_pause_seconds{{{scope}, quantile=\"0.99\"}}"),
            format!("gc_pause_seconds_sum{{{scope}}}"),
            format!("gc_pause_seconds_count{{{scope}}}"),
        ]
    );
    assert_eq!(
        samples(&decoded, &format!("gc_pause_seconds_count{{{scope}}}")),
        vec![(T0_MS, 10.0)]
    );
    assert_eq!(decoded.rejected_by_reason.get("invalid_quantile"), Some(&1));
    assert_eq!(decoded.batch.metadata[0].metric_type, MetricType::Summary);
}

#[test]
fn no_recorded_value_becomes_the_staleness_marker() {
    let mut gauge_point = number(T0, 5.0, Vec::new());
    gauge_point.flags = 1;
    gauge_point.value = None;
    let mut histogram_point = histogram_point(vec![1.0], vec![0, 0], 0.0);
    histogram_point.flags = 1;
    histogram_point.sum = None;
    let decoded = translate(request(
        Resource::default(),
        vec![
            metric(
                "temp",
                "",
                Data::Gauge(Gauge {
                    data_points: vec![gauge_point],
                }),
            ),
            metric(
                "lat",
                "",
                histogram(vec![histogram_point], AggregationTemporality::Cumulative),
            ),
        ],
    ));
    assert_eq!(decoded.accepted_points, 2);
    assert_eq!(
        decoded.batch.series.len(),
        5,
        "{:#?}",
        series_names(&decoded)
    );
    for series in &decoded.batch.series {
        assert_eq!(
            series.samples[0].value.to_bits(),
            STALE_NAN_BITS,
            "{}",
            series.labels
        );
    }
}

#[test]
fn delta_sums_accumulate_reset_on_a_gap_and_drop_late_points() {
    let deltas = deltas();
    let tenant = TenantId::default_tenant();
    let export = |points: Vec<NumberDataPoint>| {
        let data = sum(points, true, AggregationTemporality::Delta);
        metrics_from_otlp(
            request(Resource::default(), vec![metric("jobs.done", "", data)]),
            &tenant,
            &deltas,
        )
    };
    let series =
        r#"jobs_done_total{otel_scope_name="io.opentelemetry.http", otel_scope_version="1.2.0"}"#;
    // Two consecutive intervals, sent out of order in one request: they still add up.
    let decoded = export(vec![
        delta_number(T0 + 10 * SECOND, T0 + 20 * SECOND, 5.0),
        delta_number(T0, T0 + 10 * SECOND, 3.0),
    ]);
    assert_eq!(
        samples(&decoded, series),
        vec![(T0_MS + 10_000, 3.0), (T0_MS + 20_000, 8.0)]
    );
    // The next interval adds on; a retry of it gives the same total again.
    let next = delta_number(T0 + 20 * SECOND, T0 + 30 * SECOND, 2.0);
    assert_eq!(
        samples(&export(vec![next.clone()]), series),
        vec![(T0_MS + 30_000, 10.0)]
    );
    assert_eq!(
        samples(&export(vec![next]), series),
        vec![(T0_MS + 30_000, 10.0)]
    );
    // A gap (the start time changed: the process restarted) resets the total.
    let restarted = delta_number(T0 + 40 * SECOND, T0 + 50 * SECOND, 4.0);
    assert_eq!(
        samples(&export(vec![restarted]), series),
        vec![(T0_MS + 50_000, 4.0)]
    );
    let next = delta_number(T0 + 50 * SECOND, T0 + 60 * SECOND, 1.0);
    assert_eq!(
        samples(&export(vec![next]), series),
        vec![(T0_MS + 60_000, 5.0)]
    );
    // A point that ends before the stream started is dropped.
    let late = delta_number(T0, T0 + 5 * SECOND, 9.0);
    let decoded = export(vec![late]);
    assert_eq!(
        decoded.rejected_by_reason.get("delta_out_of_order"),
        Some(&1)
    );
    assert!(decoded.batch.series.is_empty());
    assert_eq!(deltas.stream_count(), 1);
}

#[test]
fn delta_histograms_accumulate_and_reset_when_bounds_change() {
    let deltas = deltas();
    let tenant = TenantId::default_tenant();
    let export = |bounds: Vec<f64>, counts: Vec<u64>, start: u64, end: u64| {
        let mut point = histogram_point(bounds, counts, 1.0);
        point.start_time_unix_nano = start;
        point.time_unix_nano = end;
        let data = histogram(vec![point], AggregationTemporality::Delta);
        metrics_from_otlp(
            request(Resource::default(), vec![metric("lat", "s", data)]),
            &tenant,
            &deltas,
        )
    };
    let scope = r#"otel_scope_name="io.opentelemetry.http", otel_scope_version="1.2.0""#;
    let inf = format!("lat_seconds_bucket{{le=\"+Inf\", {scope}}}");
    let one = format!("lat_seconds_bucket{{le=\"1\", {scope}}}");
    export(vec![1.0], vec![1, 2], T0, T0 + SECOND);
    let decoded = export(vec![1.0], vec![3, 0], T0 + SECOND, T0 + 2 * SECOND);
    assert_eq!(samples(&decoded, &one), vec![(T0_MS + 2000, 4.0)]);
    assert_eq!(samples(&decoded, &inf), vec![(T0_MS + 2000, 6.0)]);
    assert_eq!(
        samples(&decoded, &format!("lat_seconds_sum{{{scope}}}")),
        vec![(T0_MS + 2000, 2.0)]
    );
    let decoded = export(vec![2.0], vec![1, 0], T0 + 2 * SECOND, T0 + 3 * SECOND);
    assert_eq!(samples(&decoded, &inf), vec![(T0_MS + 3000, 1.0)]);
}

fn exponential_point(
    scale: i32,
    zero_count: u64,
    negative: Vec<u64>,
    positive: Vec<u64>,
) -> ExponentialHistogramDataPoint {
    let count = zero_count + negative.iter().sum::<u64>() + positive.iter().sum::<u64>();
    ExponentialHistogramDataPoint {
        start_time_unix_nano: T0 - SECOND,
        time_unix_nano: T0,
        count,
        sum: Some(10.0),
        scale,
        zero_count,
        positive: Some(Buckets {
            offset: 0,
            bucket_counts: positive,
        }),
        negative: Some(Buckets {
            offset: 0,
            bucket_counts: negative,
        }),
        ..ExponentialHistogramDataPoint::default()
    }
}

#[test]
fn exponential_histograms_become_classic_buckets() {
    // Scale 0: base 2. Positive buckets (1,2], (2,4], (4,8]; negative [-2,-1).
    let mut point = exponential_point(0, 1, vec![2], vec![1, 2, 3]);
    point.exemplars = vec![exemplar(3.0)];
    let data = Data::ExponentialHistogram(ExponentialHistogram {
        data_points: vec![point],
        aggregation_temporality: AggregationTemporality::Cumulative as i32,
    });
    let decoded = translate(request(
        Resource::default(),
        vec![metric("size", "By", data)],
    ));
    let scope = r#"otel_scope_name="io.opentelemetry.http", otel_scope_version="1.2.0""#;
    let bucket = |le: &str| format!("size_bytes_bucket{{le=\"{le}\", {scope}}}");
    for (le, expected) in [
        ("-1", 2.0),
        ("0", 3.0),
        ("2", 4.0),
        ("4", 6.0),
        ("8", 9.0),
        ("+Inf", 9.0),
    ] {
        assert_eq!(
            samples(&decoded, &bucket(le)),
            vec![(T0_MS, expected)],
            "le={le}"
        );
    }
    assert_eq!(find(&decoded, &bucket("4")).exemplars.len(), 1);
    assert_eq!(
        samples(&decoded, &format!("size_bytes_count{{{scope}}}")),
        vec![(T0_MS, 9.0)]
    );
    assert_eq!(decoded.batch.metadata[0].metric_type, MetricType::Histogram);
}

#[test]
fn exponential_buckets_downscale_and_add() {
    // Scale 10 is downscaled to 8: four buckets of scale 10 become one of scale 8.
    let point = exponential_point(10, 0, Vec::new(), vec![1, 1, 1, 1]);
    let buckets = ExponentialBuckets::from_otlp(&point).unwrap();
    assert_eq!(buckets.scale, 8);
    assert_eq!(
        buckets.positive.into_iter().collect::<Vec<_>>(),
        vec![(0, 4)]
    );
    // A delta at scale 1 added to one at scale 0 lands at scale 0.
    let mut total =
        ExponentialBuckets::from_otlp(&exponential_point(0, 1, Vec::new(), vec![1, 1])).unwrap();
    let finer =
        ExponentialBuckets::from_otlp(&exponential_point(1, 0, Vec::new(), vec![1, 1, 1, 1]))
            .unwrap();
    assert!(total.add(&finer));
    assert_eq!(total.scale, 0);
    assert_eq!(
        total
            .positive
            .iter()
            .map(|(i, c)| (*i, *c))
            .collect::<Vec<_>>(),
        vec![(0, 3), (1, 3)]
    );
    assert_eq!((total.count, total.zero_count), (7, 1));
    assert_eq!(total.to_classic(), vec![(0.0, 1), (2.0, 4), (4.0, 7)]);
    // A histogram spanning more than the bucket limit is downscaled until it fits.
    let wide = exponential_point(3, 0, Vec::new(), vec![1; 1000]);
    let wide = ExponentialBuckets::from_otlp(&wide).unwrap();
    assert!(wide.positive.len() <= exponential::MAX_BUCKETS_PER_SIGN as usize);
    assert_eq!(wide.positive.values().sum::<u64>(), 1000);
    // Invalid scales are refused.
    let invalid = exponential_point(21, 0, Vec::new(), vec![1]);
    assert_eq!(
        ExponentialBuckets::from_otlp(&invalid),
        Err(ExponentialError::Scale(21))
    );
}

#[test]
fn bounds_inside_the_zero_threshold_fold_into_it() {
    let mut point = exponential_point(0, 2, Vec::new(), vec![1, 1]);
    // Positive bucket 0 is (1, 2], inside a zero threshold of 3.
    point.zero_threshold = 3.0;
    let buckets = ExponentialBuckets::from_otlp(&point).unwrap();
    assert_eq!(buckets.to_classic(), vec![(3.0, 3), (4.0, 4)]);
}

#[test]
fn delta_exponential_histograms_accumulate() {
    let deltas = deltas();
    let tenant = TenantId::default_tenant();
    let export = |point: ExponentialHistogramDataPoint| {
        let data = Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![point],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        });
        metrics_from_otlp(
            request(Resource::default(), vec![metric("size", "By", data)]),
            &tenant,
            &deltas,
        )
    };
    export(exponential_point(0, 1, Vec::new(), vec![1]));
    let mut next = exponential_point(0, 0, Vec::new(), vec![2]);
    next.start_time_unix_nano = T0;
    next.time_unix_nano = T0 + SECOND;
    let decoded = export(next);
    let scope = r#"otel_scope_name="io.opentelemetry.http", otel_scope_version="1.2.0""#;
    assert_eq!(
        samples(&decoded, &format!("size_bytes_bucket{{le=\"2\", {scope}}}")),
        vec![(T0_MS + 1000, 4.0)]
    );
    assert_eq!(
        samples(&decoded, &format!("size_bytes_sum{{{scope}}}")),
        vec![(T0_MS + 1000, 20.0)]
    );
}

#[test]
fn delta_streams_are_bounded_and_expire() {
    let deltas = DeltaToCumulative::new(DeltaToCumulativeConfig {
        max_streams: 2,
        stale_after: Duration::from_secs(60),
    });
    let tenant = TenantId::default_tenant();
    let stream = |name: &str| Labels::new([("__name__", name)]);
    let add = |name: &str, start: u64, value: f64| {
        deltas.accumulate(
            &tenant,
            &stream(name),
            start,
            start + SECOND,
            DeltaValue::Sum(value),
        )
    };
    add("a", T0, 1.0);
    add("b", T0, 1.0);
    // "a" is used again, so "b" is the least recently used when "c" needs room.
    assert_eq!(add("a", T0 + SECOND, 1.0), Some(DeltaValue::Sum(2.0)));
    add("c", T0, 1.0);
    assert_eq!(deltas.stream_count(), 2);
    assert_eq!(add("a", T0 + 2 * SECOND, 1.0), Some(DeltaValue::Sum(3.0)));
    // "b" was evicted: it starts over.
    assert_eq!(add("b", T0 + SECOND, 5.0), Some(DeltaValue::Sum(5.0)));
    assert_eq!(deltas.expire_stale_at(Instant::now()), 0);
    assert_eq!(
        deltas.expire_stale_at(Instant::now() + Duration::from_secs(61)),
        2
    );
    assert_eq!(deltas.stream_count(), 0);
}

#[test]
fn tenants_keep_separate_delta_streams() {
    let deltas = deltas();
    let labels = Labels::new([("__name__", "x_total")]);
    let team_a = TenantId::new("team-a").unwrap();
    let team_b = TenantId::new("team-b").unwrap();
    deltas.accumulate(&team_a, &labels, T0, T0 + SECOND, DeltaValue::Sum(1.0));
    let total = deltas.accumulate(&team_b, &labels, T0, T0 + SECOND, DeltaValue::Sum(7.0));
    assert_eq!(total, Some(DeltaValue::Sum(7.0)));
    let total = deltas.accumulate(
        &team_a,
        &labels,
        T0 + SECOND,
        T0 + 2 * SECOND,
        DeltaValue::Sum(1.0),
    );
    assert_eq!(total, Some(DeltaValue::Sum(2.0)));
}

#[test]
fn same_series_and_timestamp_keeps_the_last_sample() {
    let gauge = Data::Gauge(Gauge {
        data_points: vec![
            number(T0 + SECOND, 2.0, Vec::new()),
            number(T0, 1.0, Vec::new()),
            number(T0 + SECOND, 3.0, Vec::new()),
        ],
    });
    let decoded = translate(request(Resource::default(), vec![metric("g", "", gauge)]));
    let series = r#"g{otel_scope_name="io.opentelemetry.http", otel_scope_version="1.2.0"}"#;
    assert_eq!(
        samples(&decoded, series),
        vec![(T0_MS, 1.0), (T0_MS + 1000, 3.0)]
    );
    assert_eq!(decoded.accepted_points, 3);
}
