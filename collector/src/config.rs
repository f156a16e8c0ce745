//! [`CollectorConfig`]: receiver limits and tenancy. The binary layers file, env and flags on
//! top of [`CollectorConfig::default`].

use serde::Deserialize;

/// One mebibyte, for the defaults.
const MIB: u64 = 1024 * 1024;

/// Settings of the OTLP receivers (gRPC and HTTP).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
}
