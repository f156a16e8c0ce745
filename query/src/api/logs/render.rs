//! The JSON shapes of the native log API.
//!
//! A record: `time` (RFC 3339, nanoseconds), `time_unix_nano` and `observed_time_unix_nano`
//! (decimal strings, as JavaScript numbers cannot hold them; the observed time is null when
//! the record has none, OTLP's 0), `severity_number`,
//! `severity_text`, `body` (typed: a string stays a string, a map an object, numbers numbers,
//! bytes a hex string) with `body_type`, `attributes`, `resource` (`service_name`,
//! `attributes`), `scope` (`name`, `version`), `trace_id` and `span_id` (hex, or null),
//! `flags`, `event_name`, and `cursor` (the position after this record).

use std::collections::BTreeMap;

use serde::Serialize;
use sightline_model::{AnyValue, KeyValue};
use sightline_store::logs::{LogHistogram, LogHit, LogPage};

/// One page of search results.
#[derive(Debug, Serialize)]
pub(crate) struct PageJson {
    /// The records, in the requested order.
    pub(crate) records: Vec<RecordJson>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub(crate) next_cursor: Option<String>,
}

impl PageJson {
    pub(crate) fn from_page(page: &LogPage) -> Self {
        Self {
            records: page.hits.iter().map(RecordJson::from_hit).collect(),
            next_cursor: page.next_cursor.map(|cursor| cursor.to_string()),
        }
    }
}

/// The records of a trace.
#[derive(Debug, Serialize)]
pub(crate) struct TraceLogsJson {
    pub(crate) trace_id: String,
    pub(crate) records: Vec<RecordJson>,
}

/// A resource as the explorer shows it.
#[derive(Debug, Serialize)]
pub(crate) struct ResourceJson {
    service_name: String,
    attributes: BTreeMap<String, serde_json::Value>,
}

/// A scope as the explorer shows it.
#[derive(Debug, Serialize)]
pub(crate) struct ScopeJson {
    name: String,
    version: String,
}

/// One record.
#[derive(Debug, Serialize)]
pub(crate) struct RecordJson {
    pub(crate) time: String,
    pub(crate) time_unix_nano: String,
    pub(crate) observed_time_unix_nano: Option<String>,
    pub(crate) severity_number: i32,
    pub(crate) severity_text: String,
    pub(crate) body: serde_json::Value,
    pub(crate) body_type: &'static str,
    pub(crate) attributes: BTreeMap<String, serde_json::Value>,
    pub(crate) resource: ResourceJson,
    pub(crate) scope: ScopeJson,
    pub(crate) trace_id: Option<String>,
    pub(crate) span_id: Option<String>,
    pub(crate) flags: u32,
    pub(crate) event_name: String,
    pub(crate) cursor: String,
}

impl RecordJson {
    pub(crate) fn from_hit(hit: &LogHit) -> Self {
        let record = &hit.row.record;
        let body = record.body.as_ref();
        Self {
            time: rfc3339(hit.timestamp_unix_nano),
            time_unix_nano: hit.timestamp_unix_nano.to_string(),
            observed_time_unix_nano: (record.observed_time_unix_nano != 0)
                .then(|| record.observed_time_unix_nano.to_string()),
            severity_number: record.severity_number,
            severity_text: record.severity_text.clone(),
            body: body.map_or(serde_json::Value::Null, AnyValue::to_json),
            body_type: body.map_or("empty", value_type),
            attributes: attributes(&record.attributes),
            resource: ResourceJson {
                service_name: hit.row.service_name().to_string(),
                attributes: attributes(&hit.row.resource.attributes),
            },
            scope: ScopeJson {
                name: hit.row.scope.name.clone(),
                version: hit.row.scope.version.clone(),
            },
            trace_id: record.trace_id.map(|id| id.to_hex()),
            span_id: record.span_id.map(|id| id.to_hex()),
            flags: record.flags,
            event_name: record.event_name.clone(),
            cursor: hit.cursor().to_string(),
        }
    }
}

/// Matches per bucket.
#[derive(Debug, Serialize)]
pub(crate) struct HistogramJson {
    pub(crate) start_unix_nano: String,
    pub(crate) step_nanos: String,
    pub(crate) buckets: Vec<BucketJson>,
    pub(crate) total: u64,
}

/// One bucket.
#[derive(Debug, Serialize)]
pub(crate) struct BucketJson {
    pub(crate) start_unix_nano: String,
    pub(crate) time: String,
    pub(crate) count: u64,
}

impl HistogramJson {
    pub(crate) fn from_histogram(histogram: &LogHistogram) -> Self {
        let buckets = histogram
            .counts
            .iter()
            .enumerate()
            .map(|(index, count)| {
                let start = histogram
                    .start_unix_nano
                    .saturating_add(histogram.step_nanos.saturating_mul(index as u64));
                BucketJson {
                    start_unix_nano: start.to_string(),
                    time: rfc3339(start),
                    count: *count,
                }
            })
            .collect();
        Self {
            start_unix_nano: histogram.start_unix_nano.to_string(),
            step_nanos: histogram.step_nanos.to_string(),
            total: histogram.counts.iter().sum(),
            buckets,
        }
    }
}

fn attributes(pairs: &[KeyValue]) -> BTreeMap<String, serde_json::Value> {
    pairs
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.to_json()))
        .collect()
}

/// The OTLP type name of a value.
pub(crate) fn value_type(value: &AnyValue) -> &'static str {
    match value {
        AnyValue::Empty => "empty",
        AnyValue::String(_) => "string",
        AnyValue::Bool(_) => "bool",
        AnyValue::Int(_) => "int",
        AnyValue::Double(_) => "double",
        AnyValue::Bytes(_) => "bytes",
        AnyValue::Array(_) => "array",
        AnyValue::KvList(_) => "kvlist",
    }
}

/// Formats unix nanoseconds as RFC 3339 in UTC with nanoseconds.
pub(crate) fn rfc3339(unix_nano: u64) -> String {
    let seconds = unix_nano / 1_000_000_000;
    let nanos = unix_nano % 1_000_000_000;
    let days = (seconds / 86_400) as i64;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = sightline_model::time::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_render_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
    }
}
