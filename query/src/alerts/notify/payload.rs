//! What receivers are sent, as JSON: Alertmanager's `POST /api/v2/alerts` body (an array of
//! postable alerts) and Alertmanager's webhook payload (version 4), with RFC 3339 times.
//!
//! Shapes follow Alertmanager's `api/v2/openapi.yaml` (`postableAlerts`) and its
//! `notify/webhook` `Message` (the embedded `template.Data` plus `version`, `groupKey` and
//! `truncatedAlerts`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use sightline_model::time::civil_from_days;

/// Alertmanager's zero time, written for an alert without an end in webhook payloads (Go's
/// zero `time.Time`).
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// One alert as receivers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingAlert {
    /// Its labels, `alertname` included.
    pub labels: BTreeMap<String, String>,
    /// Its annotations, templates already expanded.
    pub annotations: BTreeMap<String, String>,
    /// When it became active, ms since the Unix epoch.
    pub starts_at_ms: i64,
    /// When it resolved (resolved alerts) or until when it is valid (firing alerts sent to
    /// Alertmanager: Prometheus sends `now + 4 × max(resend_delay, interval)`), ms since the
    /// Unix epoch. `None` omits `endsAt` for Alertmanager and writes Go's zero time
    /// (`0001-01-01T00:00:00Z`) in webhook payloads, as Alertmanager does.
    pub ends_at_ms: Option<i64>,
    /// The link back to the rule's expression.
    pub generator_url: String,
    /// Whether the alert has resolved.
    pub resolved: bool,
}

/// A group of alerts for webhook receivers: the evaluator sends one when a rule's alerts
/// change (an alert starts firing or resolves) or on its repeat interval.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertGroup {
    /// The group's key, such as `{}:{alertname="HighErrorRate"}`.
    pub group_key: String,
    /// The labels the group is formed by, such as `{alertname}`.
    pub group_labels: BTreeMap<String, String>,
    /// Its firing alerts and those just resolved.
    pub alerts: Vec<OutgoingAlert>,
}

/// One element of Alertmanager's `POST /api/v2/alerts` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert<'a> {
    labels: &'a BTreeMap<String, String>,
    annotations: &'a BTreeMap<String, String>,
    starts_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
}

/// Alertmanager's webhook payload, fields in the order Alertmanager writes them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookMessage<'a> {
    receiver: &'a str,
    status: &'static str,
    alerts: Vec<WebhookAlert<'a>>,
    group_labels: &'a BTreeMap<String, String>,
    common_labels: BTreeMap<&'a str, &'a str>,
    common_annotations: BTreeMap<&'a str, &'a str>,
    #[serde(rename = "externalURL")]
    external_url: &'a str,
    version: &'static str,
    group_key: &'a str,
    truncated_alerts: u64,
}

/// One alert of a webhook payload (Alertmanager's `template.Alert`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookAlert<'a> {
    status: &'static str,
    labels: &'a BTreeMap<String, String>,
    annotations: &'a BTreeMap<String, String>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    fingerprint: String,
}

/// Encodes the body of `POST /api/v2/alerts`: a JSON array of postable alerts.
pub(super) fn encode_postable_alerts(alerts: &[OutgoingAlert]) -> Vec<u8> {
    let postable: Vec<PostableAlert<'_>> = alerts
        .iter()
        .map(|alert| PostableAlert {
            labels: &alert.labels,
            annotations: &alert.annotations,
            starts_at: format_rfc3339_millis(alert.starts_at_ms),
            ends_at: alert.ends_at_ms.map(format_rfc3339_millis),
            generator_url: &alert.generator_url,
        })
        .collect();
    encode(&postable)
}

/// Encodes Alertmanager's webhook payload of `group` for `receiver`, keeping only the alerts
/// `keep` accepts; `None` when none is left.
pub(super) fn encode_webhook_message(
    group: &AlertGroup,
    receiver: &str,
    external_url: &str,
    keep: impl Fn(&OutgoingAlert) -> bool,
) -> Option<Vec<u8>> {
    let alerts: Vec<&OutgoingAlert> = group.alerts.iter().filter(|alert| keep(alert)).collect();
    if alerts.is_empty() {
        return None;
    }
    let any_firing = alerts.iter().any(|alert| !alert.resolved);
    let message = WebhookMessage {
        receiver,
        status: if any_firing { "firing" } else { "resolved" },
        common_labels: common_pairs(alerts.iter().map(|alert| &alert.labels)),
        common_annotations: common_pairs(alerts.iter().map(|alert| &alert.annotations)),
        alerts: alerts
            .iter()
            .map(|alert| WebhookAlert {
                status: if alert.resolved { "resolved" } else { "firing" },
                labels: &alert.labels,
                annotations: &alert.annotations,
                starts_at: format_rfc3339_millis(alert.starts_at_ms),
                ends_at: alert
                    .ends_at_ms
                    .map_or_else(|| ZERO_TIME.to_string(), format_rfc3339_millis),
                generator_url: &alert.generator_url,
                fingerprint: format!("{:016x}", label_fingerprint(&alert.labels)),
            })
            .collect(),
        group_labels: &group.group_labels,
        external_url,
        version: "4",
        group_key: &group.group_key,
        truncated_alerts: 0,
    };
    Some(encode(&message))
}

/// Serialises a value made only of strings, numbers and maps with string keys, which cannot
/// fail.
fn encode(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|error| {
        // Unreachable: every payload is strings, integers and string-keyed maps.
        tracing::error!(%error, "encoding an alert notification failed");
        b"[]".to_vec()
    })
}

/// The pairs every map has with the same value (Alertmanager's `commonLabels`).
fn common_pairs<'a>(
    mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<&'a str, &'a str> {
    let Some(first) = maps.next() else {
        return BTreeMap::new();
    };
    let mut common: BTreeMap<&str, &str> = first
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    for map in maps {
        common.retain(|key, value| map.get(*key).is_some_and(|other| other == value));
    }
    common
}

/// Returns the fingerprint Alertmanager gives a label set (`model.LabelSet.Fingerprint` of
/// `prometheus/common`): 64-bit FNV-1a over each label's name and value in name order, each
/// followed by the byte `0xff`. The empty set hashes to FNV's offset basis.
pub fn label_fingerprint(labels: &BTreeMap<String, String>) -> u64 {
    const OFFSET_BASIS: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    const SEPARATOR: u8 = 0xff;
    let mut hash = OFFSET_BASIS;
    let mut add = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for (name, value) in labels {
        add(name.as_bytes());
        add(&[SEPARATOR]);
        add(value.as_bytes());
        add(&[SEPARATOR]);
    }
    hash
}

/// Formats ms since the Unix epoch as RFC 3339 in UTC with milliseconds, such as
/// `2026-12-06T11:30:00.123Z`.
pub fn format_rfc3339_millis(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let ms_of_day = unix_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let mut text = String::with_capacity(24);
    // Writing to a String cannot fail.
    let _ = write!(
        text,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1_000 % 60,
        ms_of_day % 1_000
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_with_millis_in_utc() {
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339_millis(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            format_rfc3339_millis(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(format_rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_rfc3339_millis(1_796_556_600_123),
            "2026-12-06T11:30:00.123Z"
        );
        assert_eq!(
            format_rfc3339_millis(253_402_300_799_999),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn fingerprints_match_prometheus_common() {
        // Vectors of prometheus/common's `TestMetricToFingerprint`.
        assert_eq!(
            label_fingerprint(&BTreeMap::new()),
            14_695_981_039_346_656_037
        );
        let labels = BTreeMap::from([
            ("name".to_string(), "garland, briggs".to_string()),
            ("fear".to_string(), "love is not enough".to_string()),
        ]);
        assert_eq!(label_fingerprint(&labels), 5_799_056_148_416_392_346);
    }

    #[test]
    fn common_pairs_keep_only_shared_values() {
        let a = BTreeMap::from([
            ("alertname".to_string(), "X".to_string()),
            ("pod".to_string(), "a".to_string()),
        ]);
        let b = BTreeMap::from([
            ("alertname".to_string(), "X".to_string()),
            ("pod".to_string(), "b".to_string()),
        ]);
        let common = common_pairs([&a, &b].into_iter());
        assert_eq!(common, BTreeMap::from([("alertname", "X")]));
    }

    #[test]
    fn postable_alerts_omit_a_missing_end() {
        let alert = OutgoingAlert {
            labels: BTreeMap::from([("alertname".to_string(), "X".to_string())]),
            annotations: BTreeMap::new(),
            starts_at_ms: 0,
            ends_at_ms: None,
            generator_url: "http://g".to_string(),
            resolved: false,
        };
        let body: serde_json::Value =
            serde_json::from_slice(&encode_postable_alerts(&[alert])).unwrap();
        assert_eq!(
            body,
            serde_json::json!([{
                "labels": {"alertname": "X"},
                "annotations": {},
                "startsAt": "1970-01-01T00:00:00.000Z",
                "generatorURL": "http://g",
            }])
        );
    }
}
