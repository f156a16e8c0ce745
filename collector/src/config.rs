//! [`CollectorConfig`]: receiver limits, tenancy, and the processors that derive span metrics
//! and the service graph. The binary layers file, env and flags on top of
//! [`CollectorConfig::default`].

use serde::Deserialize;

/// One mebibyte, for the defaults.
const MIB: u64 = 1024 * 1024;

/// Tempo's default duration buckets: 2 ms doubling twelve times, up to 4.096 s.
const DEFAULT_HISTOGRAM_BUCKETS: [f64; 12] = [
    0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
];

/// Settings of the OTLP receivers (gRPC and HTTP) and of the span processors.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// Largest accepted export request body in bytes, checked against the declared length, the
    /// bytes received and, for gzip bodies, the decompressed size. Larger requests get HTTP 413 or
    /// gRPC RESOURCE_EXHAUSTED. Default 16 MiB.
    pub max_body_size_bytes: u64,
    /// Global budget of request bytes being read, decoded and handed off at once. A request
    /// reserves its size (or `max_body_size_bytes` when the size is unknown or the body is
    /// compressed) before its body is read. Default 256 MiB.
    pub max_in_flight_bytes: u64,
    /// How long a request waits for room in the in-flight budget before it is refused with HTTP
    /// 429 (`Retry-After: 1`) or gRPC RESOURCE_EXHAUSTED, in milliseconds. Default 500.
    pub budget_wait_millis: u64,
    /// When true, the `X-Scope-OrgID` HTTP header or gRPC metadata names the tenant and is
    /// required; when false, every span goes to the `default` tenant. Default false.
    pub multi_tenancy: bool,
    /// OTLP delta metric streams (delta sums and histograms being added up into cumulative
    /// series) tracked at most. When full, the least recently used stream is forgotten and its
    /// next point starts a new total, which queries see as a counter reset. Default 100000.
    pub max_delta_streams: usize,
    /// Seconds after which a delta metric stream without new points is forgotten. Default
    /// 600.
    pub delta_stream_stale_after_secs: u64,
    /// Derives `traces_span_metrics_calls_total` and the `traces_span_metrics_duration_seconds`
    /// histogram from every accepted span, by service, span name, kind and status. Default
    /// true.
    pub span_metrics_enabled: bool,
    /// Derives the service graph (`traces_service_graph_request_total`, `..._failed_total`,
    /// `..._request_server_seconds`, `..._request_client_seconds`) from client/server and
    /// producer/consumer span pairs. Default true.
    pub service_graph_enabled: bool,
    /// Extra span-metrics labels: attribute keys (such as `http.route` or
    /// `deployment.environment`) looked up on the span, then on its resource, and sanitised
    /// into label names (`http_route`). Every distinct value makes new series. Default none.
    pub span_metrics_dimensions: Vec<String>,
    /// Upper bounds, in seconds, of the duration histograms' buckets (span metrics and the
    /// service graph), ascending; `+Inf` is implied. Default Tempo's: 0.002 doubling to 4.096.
    pub histogram_buckets: Vec<f64>,
    /// Seconds between writes of the derived series to the metric store; every series is
    /// written with its running total each time, stamped with the write time. Default 15.
    pub flush_interval_seconds: u64,
    /// Seconds a client or server span waits for the other half of its service-graph edge.
    /// Unpaired spans then expire (`sightline_service_graph_expired_total`); a client span
    /// naming its peer (`peer.service`, `messaging.system`, `server.address`) becomes an edge
    /// to a virtual node. Default 10.
    pub service_graph_wait_seconds: u64,
    /// Unpaired spans held per tenant while they wait; further ones are dropped and counted in
    /// `sightline_service_graph_dropped_total`. Default 10000.
    pub service_graph_max_items: usize,
    /// Derived series (each `_bucket`, `_sum` and `_count` counts) kept per tenant by both
    /// processors together; spans that would start a series beyond it are left out of the
    /// derived metrics and counted in `sightline_processors_series_refused_total`. Default
    /// 100000.
    pub max_series_per_tenant: usize,
    /// Request bytes per second each tenant may send (OTLP and remote write together, as
    /// received, before decompression is not counted: the decoded message size is); beyond
    /// it exports are refused with HTTP 429 / gRPC RESOURCE_EXHAUSTED and a retry delay.
    /// 0 = unlimited. Default 0.
    pub tenant_ingest_bytes_per_second: u64,
    /// Items (spans, log records, metric points and samples) per second each tenant may send;
    /// refused as for bytes. 0 = unlimited. Default 0.
    pub tenant_ingest_items_per_second: u64,
    /// Seconds of the rates above a tenant may send at once after a quiet spell (the token
    /// buckets' size). Default 2.
    pub tenant_ingest_burst_seconds: u64,
    /// Per-tenant rates replacing the two above (`[collector.tenant_limits.<tenant>]` with
    /// `bytes_per_second` and/or `items_per_second`; 0 = unlimited).
    pub tenant_limits: std::collections::BTreeMap<String, TenantIngestLimits>,
}

/// One tenant's ingest rates, replacing the defaults where given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantIngestLimits {
    /// Request bytes per second (0 = unlimited).
    pub bytes_per_second: Option<u64>,
    /// Items per second (0 = unlimited).
    pub items_per_second: Option<u64>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            max_body_size_bytes: 16 * MIB,
            max_in_flight_bytes: 256 * MIB,
            budget_wait_millis: 500,
            multi_tenancy: false,
            max_delta_streams: 100_000,
            delta_stream_stale_after_secs: 600,
            span_metrics_enabled: true,
            service_graph_enabled: true,
            span_metrics_dimensions: Vec::new(),
            histogram_buckets: DEFAULT_HISTOGRAM_BUCKETS.to_vec(),
            flush_interval_seconds: 15,
            service_graph_wait_seconds: 10,
            service_graph_max_items: 10_000,
            max_series_per_tenant: 100_000,
            tenant_ingest_bytes_per_second: 0,
            tenant_ingest_items_per_second: 0,
            tenant_ingest_burst_seconds: 2,
            tenant_limits: std::collections::BTreeMap::new(),
        }
    }
}

impl CollectorConfig {
    /// Checks the processor settings and returns one line per problem, naming the key.
    /// [`Collector::new`](crate::Collector::new) runs with the defaults in place of values
    /// found wrong here (and logs why), so the binary should refuse to start on them first.
    ///
    /// # Errors
    /// Every problem found.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if let Err(problem) = crate::processors::check_histogram_buckets(&self.histogram_buckets) {
            problems.push(format!("invalid collector.histogram_buckets: {problem}"));
        }
        for (key, value) in [
            ("flush_interval_seconds", self.flush_interval_seconds),
            (
                "service_graph_wait_seconds",
                self.service_graph_wait_seconds,
            ),
            (
                "service_graph_max_items",
                self.service_graph_max_items as u64,
            ),
            ("max_series_per_tenant", self.max_series_per_tenant as u64),
            (
                "tenant_ingest_burst_seconds",
                self.tenant_ingest_burst_seconds,
            ),
        ] {
            if value == 0 {
                problems.push(format!(
                    "invalid value 0 for collector.{key}: must be at least 1"
                ));
            }
        }
        for tenant in self.tenant_limits.keys() {
            if let Err(error) = sightline_model::TenantId::new(tenant) {
                problems.push(format!("invalid collector.tenant_limits.{tenant}: {error}"));
            }
        }
        problems.extend(
            crate::processors::check_dimensions(&self.span_metrics_dimensions)
                .into_iter()
                .map(|problem| format!("invalid collector.span_metrics_dimensions: {problem}")),
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_the_default_and_unknown_keys_are_refused() {
        let parsed: CollectorConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, CollectorConfig::default());
        let parsed: CollectorConfig = serde_json::from_str(r#"{"multi_tenancy":true}"#).unwrap();
        assert!(parsed.multi_tenancy);
        assert!(serde_json::from_str::<CollectorConfig>(r#"{"max_body_size":1}"#).is_err());
    }

    #[test]
    fn processor_settings_are_validated() {
        assert_eq!(CollectorConfig::default().validate(), Ok(()));
        let config = CollectorConfig {
            histogram_buckets: vec![0.5, 0.1],
            flush_interval_seconds: 0,
            span_metrics_dimensions: vec!["http.route".into(), "span.name".into(), "!".into()],
            ..CollectorConfig::default()
        };
        let problems = config.validate().unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].contains("histogram_buckets"));
        assert!(problems[1].contains("flush_interval_seconds"));
        assert!(problems[2].contains("span.name"), "{problems:?}");
        assert!(problems[3].contains("\"!\""), "{problems:?}");
    }
}
