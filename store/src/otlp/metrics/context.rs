//! What a resource, a scope and an exemplar contribute to series labels: `job` and `instance`
//! from the resource (with its other attributes in `target_info`), `otel_scope_name` and
//! `otel_scope_version` from the scope, and exemplars' trace ids and filtered attributes.

use opentelemetry_proto::tonic::common::v1 as proto_common;
use opentelemetry_proto::tonic::metrics::v1 as proto_metrics;
use opentelemetry_proto::tonic::resource::v1 as proto_resource;
use sightline_model::{Exemplar, Labels, SpanId, TraceId, METRIC_NAME_LABEL};

use super::naming::{self, attributes_to_label_pairs};
use super::{nanos_to_millis, TARGET_INFO};

/// OpenMetrics' limit on the characters of an exemplar's label names and values together.
const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

/// What a resource contributes: `job` and `instance`, and its `target_info` labels.
pub(super) struct ResourceContext {
    pub(super) identity_labels: Vec<(String, String)>,
    pub(super) target_info: Option<Labels>,
}

impl ResourceContext {
    pub(super) fn new(resource: Option<proto_resource::Resource>) -> Self {
        let attributes = resource
            .map(|resource| resource.attributes)
            .unwrap_or_default();
        let text = |key: &str| {
            attributes
                .iter()
                .find(|kv| kv.key == key)
                .map(|kv| naming::attribute_value_text(kv.value.as_ref()))
        };
        let mut identity_labels = Vec::new();
        if let Some(service_name) = text("service.name") {
            let job = match text("service.namespace").filter(|ns| !ns.is_empty()) {
                Some(namespace) => format!("{namespace}/{service_name}"),
                None => service_name,
            };
            identity_labels.push(("job".to_string(), job));
        }
        if let Some(instance) = text("service.instance.id") {
            identity_labels.push(("instance".to_string(), instance));
        }
        let others: Vec<proto_common::KeyValue> = attributes
            .iter()
            .filter(|kv| {
                !matches!(
                    kv.key.as_str(),
                    "service.name" | "service.namespace" | "service.instance.id"
                )
            })
            .cloned()
            .collect();
        let info_pairs = attributes_to_label_pairs(&others);
        let target_info = info_pairs
            .iter()
            .any(|(_, value)| !value.is_empty())
            .then(|| {
                let mut labels = Labels::new(info_pairs.into_iter().chain(identity_labels.clone()));
                labels.set(METRIC_NAME_LABEL, TARGET_INFO.to_string());
                labels
            });
        Self {
            identity_labels,
            target_info,
        }
    }
}

/// The labels every point of a scope shares, in the order that decides collisions: the
/// point's attributes, then the scope's labels, then `job` and `instance`.
pub(super) struct PointContext<'a> {
    pub(super) scope_labels: &'a [(String, String); 2],
    pub(super) resource: &'a ResourceContext,
}

impl PointContext<'_> {
    pub(super) fn labels(&self, attributes: &[proto_common::KeyValue]) -> Labels {
        Labels::new(
            attributes_to_label_pairs(attributes)
                .into_iter()
                .chain(self.scope_labels.iter().cloned())
                .chain(self.resource.identity_labels.iter().cloned()),
        )
    }
}

/// Converts an exemplar; `None` without a value. Its timestamp defaults to the point's.
pub(super) fn exemplar_from_otlp(
    exemplar: proto_metrics::Exemplar,
    point_timestamp_ms: i64,
) -> Option<Exemplar> {
    use proto_metrics::exemplar::Value;
    let value = match exemplar.value? {
        Value::AsDouble(value) => value,
        Value::AsInt(value) => value as f64,
    };
    let trace_id = TraceId::from_slice(&exemplar.trace_id).ok();
    let span_id = SpanId::from_slice(&exemplar.span_id).ok();
    let mut pairs = attributes_to_label_pairs(&exemplar.filtered_attributes);
    let id_pairs: Vec<(String, String)> = [
        trace_id.map(|id| ("trace_id".to_string(), id.to_hex())),
        span_id.map(|id| ("span_id".to_string(), id.to_hex())),
    ]
    .into_iter()
    .flatten()
    .collect();
    let chars = |pairs: &[(String, String)]| -> usize {
        pairs
            .iter()
            .map(|(name, value)| name.chars().count() + value.chars().count())
            .sum()
    };
    if chars(&pairs) + chars(&id_pairs) > MAX_EXEMPLAR_LABEL_CHARS {
        pairs.clear();
    }
    let timestamp_ms = if exemplar.time_unix_nano == 0 {
        point_timestamp_ms
    } else {
        nanos_to_millis(exemplar.time_unix_nano)
    };
    Some(Exemplar {
        labels: Labels::new(pairs.into_iter().chain(id_pairs)),
        timestamp_ms,
        value,
        trace_id,
        span_id,
    })
}
