//! Prometheus remote write 1.0 receiver: `POST /prometheus/api/v1/write`
//! (<https://prometheus.io/docs/specs/remote_write_spec/>).
//!
//! A body is a protobuf `prometheus.WriteRequest`, snappy-compressed in the *block* format
//! (not the framed one). The messages are declared in [`prompb`] by hand with prost derives.
//!
//! Order of work per request, cheapest refusal first: content type and encoding (415),
//! tenant (401/400), declared length (413), byte budget (429 with `Retry-After: 1`), body
//! read with a limit (413), the decompressed length from the snappy header (413 over
//! `max_body_size_bytes`, checked before anything is inflated), byte budget for the
//! decompressed bytes (429), decompress and decode off the reactor (400), per-series
//! validation, then [`MetricStore::append`](sightline_store::MetricStore::append), awaited
//! until durable (503 with `Retry-After` when retryable, 500 generic otherwise).
//!
//! Answers follow the spec's retry rules (senders retry 5xx and may retry 429, never other
//! 4xx): 204 when everything was stored. When some series are refused (invalid labels,
//! native histograms, the per-metric series limit) the *other* series are still stored and
//! the answer is 400 with a message, as Prometheus' own receiver does for out-of-bounds
//! samples: a retry would be refused the same way. Bodies are plain text.
//!
//! A missing `Content-Type` or `Content-Encoding` is taken as 1.0's
//! `application/x-protobuf` and `snappy`, as Prometheus' receiver does for old senders.
//!
//! Why one file of about 750 lines: it is the whole 1.0 protocol, from wire messages to
//! response, and reads top to bottom in request order. The first split, when remote write 2.0
//! comes, moves [`prompb`] to `remote_write/prompb.rs` next to a `v2` sibling.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use metrics::counter;
use prost::Message;
use sightline_model::{
    ErrorClass, Exemplar, Labels, MetricBatch, MetricMetadata, MetricSample, MetricType,
    SeriesSamples, SpanId, TenantId, TraceId, METRIC_NAME_LABEL,
};
use sightline_store::MetricStore;

use crate::decode::BLOCKING_DECODE_THRESHOLD_BYTES;
use crate::error::{class_label, http_status_for_class, Error};
use crate::handoff::{record_failure, record_request_bytes, record_success, ExportOutcome};
use crate::limits::LogThrottle;
use crate::tenant::{AUTHORIZATION_HEADER, TENANT_HEADER};
use crate::Collector;

/// The remote write path, under the Prometheus-compatible API prefix.
pub const REMOTE_WRITE_PATH: &str = "/prometheus/api/v1/write";

/// The `protocol` label of the collector's request metrics.
const PROTOCOL: &str = "remote_write";
/// The `signal` label of `sightline_dropped_total`.
const SIGNAL: &str = "metrics";
/// The only message this receiver decodes (remote write 2.0 names its own in `proto=`).
const WRITE_REQUEST_MESSAGE: &str = "prometheus.WriteRequest";

/// Refused-series warnings are logged at most this often.
static REFUSAL_LOG: LogThrottle = LogThrottle::new(1_000);
/// Refused requests are logged at most this often.
static FAILURE_LOG: LogThrottle = LogThrottle::new(1_000);

/// Prometheus' remote write 1.0 protobuf messages (`prompb/remote.proto` and
/// `prompb/types.proto`), declared by hand with only the fields 1.0 defines; prost skips any
/// other field.
///
/// Label names and values are bytes, not `string`, so that one series with invalid UTF-8 is
/// refused alone instead of failing the decode of the whole request.
pub(crate) mod prompb {
    /// The request body: series and metric family metadata (tag 2 is reserved).
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct WriteRequest {
        /// The series, each with its full label set.
        #[prost(message, repeated, tag = "1")]
        pub(crate) timeseries: Vec<TimeSeries>,
        /// Metadata of metric families; Prometheus sends it in requests of its own.
        #[prost(message, repeated, tag = "3")]
        pub(crate) metadata: Vec<MetricMetadata>,
    }

    /// One series: labels sorted by name, samples sorted by time.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct TimeSeries {
        /// The label set, `__name__` included.
        #[prost(message, repeated, tag = "1")]
        pub(crate) labels: Vec<Label>,
        /// Float samples.
        #[prost(message, repeated, tag = "2")]
        pub(crate) samples: Vec<Sample>,
        /// Exemplars of this series.
        #[prost(message, repeated, tag = "3")]
        pub(crate) exemplars: Vec<Exemplar>,
        /// Native histogram samples.
        #[prost(message, repeated, tag = "4")]
        pub(crate) histograms: Vec<Histogram>,
    }

    /// A label's name and value, as raw bytes (see the module doc).
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Label {
        /// The name.
        #[prost(bytes = "vec", tag = "1")]
        pub(crate) name: Vec<u8>,
        /// The value.
        #[prost(bytes = "vec", tag = "2")]
        pub(crate) value: Vec<u8>,
    }

    /// A float sample.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Sample {
        /// The value (a staleness marker is a NaN with a special bit pattern).
        #[prost(double, tag = "1")]
        pub(crate) value: f64,
        /// Milliseconds since the Unix epoch.
        #[prost(int64, tag = "2")]
        pub(crate) timestamp: i64,
    }

    /// An exemplar: its own labels (often `trace_id`), value and time.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Exemplar {
        /// The exemplar's labels.
        #[prost(message, repeated, tag = "1")]
        pub(crate) labels: Vec<Label>,
        /// The measured value.
        #[prost(double, tag = "2")]
        pub(crate) value: f64,
        /// Milliseconds since the Unix epoch.
        #[prost(int64, tag = "3")]
        pub(crate) timestamp: i64,
    }

    /// A native histogram sample. Only its timestamp is declared: such samples are refused,
    /// so their buckets are never read.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Histogram {
        /// Milliseconds since the Unix epoch.
        #[prost(int64, tag = "15")]
        pub(crate) timestamp: i64,
    }

    /// Metadata of a metric family.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct MetricMetadata {
        /// `MetricMetadata.MetricType`: 0 unknown, 1 counter, 2 gauge, 3 histogram,
        /// 4 gauge histogram, 5 summary, 6 info, 7 state set.
        #[prost(int32, tag = "1")]
        pub(crate) r#type: i32,
        /// The family name.
        #[prost(string, tag = "2")]
        pub(crate) metric_family_name: String,
        /// The description.
        #[prost(string, tag = "4")]
        pub(crate) help: String,
        /// The unit.
        #[prost(string, tag = "5")]
        pub(crate) unit: String,
    }
}

/// Why a remote write request was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RemoteWriteError {
    /// The `Content-Type` is not `application/x-protobuf`.
    #[error(
        "unsupported content type {content_type:?}: remote write 1.0 sends application/x-protobuf"
    )]
    UnsupportedContentType {
        /// The content type received.
        content_type: String,
    },
    /// The `Content-Type` names a message other than `prometheus.WriteRequest`.
    #[error("unsupported remote write message {message:?}: only prometheus.WriteRequest (remote write 1.0) is accepted")]
    UnsupportedMessage {
        /// The `proto` parameter received.
        message: String,
    },
    /// The `Content-Encoding` is not `snappy`.
    #[error(
        "unsupported content encoding {encoding:?}: remote write bodies are snappy-compressed"
    )]
    UnsupportedContentEncoding {
        /// The encoding received.
        encoding: String,
    },
    /// The body is not a valid snappy block.
    #[error("invalid snappy body (remote write uses the block format): {source}")]
    Snappy {
        /// The decompression error.
        source: snap::Error,
    },
    /// The decompressed body is not a valid `prometheus.WriteRequest`.
    #[error("invalid protobuf prometheus.WriteRequest: {source}")]
    Protobuf {
        /// The decode error.
        source: prost::DecodeError,
    },
    /// A refusal shared with the OTLP receivers: tenant, size, budget, store.
    #[error(transparent)]
    Collector(#[from] Error),
}

impl RemoteWriteError {
    /// Returns the class of this error, for the HTTP mapping.
    pub(crate) fn class(&self) -> ErrorClass {
        match self {
            Self::UnsupportedContentType { .. }
            | Self::UnsupportedMessage { .. }
            | Self::UnsupportedContentEncoding { .. } => ErrorClass::UnsupportedMediaType,
            Self::Snappy { .. } | Self::Protobuf { .. } => ErrorClass::InvalidInput,
            Self::Collector(error) => error.class(),
        }
    }
}

/// Why a series, or some of its samples, was refused: the bounded `reason` label of
/// `sightline_dropped_total{signal="metrics"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RefusalReason {
    /// No `__name__` label, or an empty one.
    MissingMetricName,
    /// A label name or value is not UTF-8.
    InvalidUtf8,
    /// A label with an empty name.
    EmptyLabelName,
    /// The same label name twice.
    DuplicateLabelName,
    /// Label names not in ascending order, which the spec requires of senders.
    UnsortedLabels,
    /// Native histogram samples, which the store cannot hold yet.
    NativeHistogram,
    /// A new series over its metric's series limit, refused by the store.
    SeriesLimit,
}

impl RefusalReason {
    fn label(self) -> &'static str {
        match self {
            Self::MissingMetricName => "missing_metric_name",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::EmptyLabelName => "empty_label_name",
            Self::DuplicateLabelName => "duplicate_label_name",
            Self::UnsortedLabels => "unsorted_labels",
            Self::NativeHistogram => "native_histogram",
            Self::SeriesLimit => "series_limit",
        }
    }
}

/// What a request lost to refusals, by reason, and the first message.
#[derive(Debug, Default, PartialEq)]
struct Refusals {
    samples_by_reason: BTreeMap<RefusalReason, usize>,
    refused_samples: usize,
    first_message: Option<String>,
}

impl Refusals {
    fn add(&mut self, reason: RefusalReason, samples: usize, message: impl FnOnce() -> String) {
        *self.samples_by_reason.entry(reason).or_default() += samples;
        self.refused_samples += samples;
        if self.first_message.is_none() {
            self.first_message = Some(message());
        }
    }

    fn is_empty(&self) -> bool {
        self.first_message.is_none()
    }
}

/// A decoded request: what goes to the store, and what was refused before it.
#[derive(Debug, Default)]
struct DecodedWrite {
    batch: MetricBatch,
    received_samples: usize,
    dropped_exemplars: usize,
    refusals: Refusals,
}

/// What a request stored and refused.
#[derive(Debug, Default, PartialEq)]
struct WriteOutcome {
    received_samples: usize,
    accepted_samples: usize,
    refusals: Refusals,
}

/// Builds the router with `POST /prometheus/api/v1/write`.
pub(crate) fn remote_write_router(collector: Collector) -> Router {
    Router::new()
        .route(REMOTE_WRITE_PATH, post(receive_remote_write))
        .with_state(collector)
}

async fn receive_remote_write(State(collector): State<Collector>, request: Request) -> Response {
    match write(&collector, request).await {
        Ok(outcome) => {
            record_success(
                PROTOCOL,
                &ExportOutcome {
                    rejected_spans: outcome.refusals.refused_samples,
                    first_rejection: outcome.refusals.first_message.clone(),
                },
            );
            outcome_response(&outcome)
        }
        Err(error) => {
            let message = record_remote_write_failure(&error);
            error_response(&error, message)
        }
    }
}

async fn write(collector: &Collector, request: Request) -> Result<WriteOutcome, RemoteWriteError> {
    let config = collector.config();
    let (parts, body) = request.into_parts();
    check_content_type(header_text(&parts.headers, CONTENT_TYPE))?;
    check_content_encoding(header_text(&parts.headers, CONTENT_ENCODING))?;
    let tenant = collector.ingest_tenant(
        parts
            .headers
            .get(AUTHORIZATION_HEADER)
            .map(HeaderValue::as_bytes),
        parts.headers.get(TENANT_HEADER).map(HeaderValue::as_bytes),
    )?;
    let limit_bytes = config.max_body_size_bytes;
    let declared_bytes = header_text(&parts.headers, CONTENT_LENGTH)
        .and_then(|text| text.trim().parse::<u64>().ok());
    if declared_bytes.is_some_and(|declared| declared > limit_bytes) {
        return Err(Error::BodyTooLarge {
            which: "declared",
            limit_bytes,
        }
        .into());
    }
    let wait = Duration::from_millis(config.budget_wait_millis);
    let reserved_bytes = declared_bytes.unwrap_or(limit_bytes);
    let mut reservation = collector.budget().reserve(reserved_bytes, wait).await?;
    let body = read_body_with_limit(body, limit_bytes).await?;
    record_request_bytes(PROTOCOL, body.len());
    // The snappy header states the decompressed length: refuse a bomb before inflating it.
    let decompressed_bytes =
        snap::raw::decompress_len(&body).map_err(|source| RemoteWriteError::Snappy { source })?;
    if decompressed_bytes as u64 > limit_bytes {
        return Err(Error::BodyTooLarge {
            which: "decompressed",
            limit_bytes,
        }
        .into());
    }
    let needed_bytes = body.len() as u64 + decompressed_bytes as u64;
    if needed_bytes <= reserved_bytes {
        reservation.shrink_to(needed_bytes);
    } else {
        // Never wait for more while holding some: give back, then reserve the whole need.
        drop(reservation);
        reservation = collector.budget().reserve(needed_bytes, wait).await?;
    }
    collector.admit(&tenant, "metrics", body.len())?;
    let decoded = decode_write_request_off_reactor(body, decompressed_bytes).await?;
    collector.charge_items(&tenant, decoded.received_samples);
    let outcome = hand_off_write(&collector.inner.metrics, &tenant, decoded).await?;
    drop(reservation);
    Ok(outcome)
}

/// Accepts a missing content type (1.0 senders predate the header) and
/// `application/x-protobuf`, with `proto=prometheus.WriteRequest` if a `proto` is named.
fn check_content_type(content_type: Option<&str>) -> Result<(), RemoteWriteError> {
    let Some(raw) = content_type.filter(|raw| !raw.trim().is_empty()) else {
        return Ok(());
    };
    let mut parts = raw.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(RemoteWriteError::UnsupportedContentType {
            content_type: raw.to_string(),
        });
    }
    for parameter in parts {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        let message = value.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("proto") && message != WRITE_REQUEST_MESSAGE {
            return Err(RemoteWriteError::UnsupportedMessage {
                message: message.to_string(),
            });
        }
    }
    Ok(())
}

/// Accepts `snappy`, or no encoding at all (taken as snappy, as 1.0 senders mean).
fn check_content_encoding(encoding: Option<&str>) -> Result<(), RemoteWriteError> {
    match encoding.map(str::trim) {
        None | Some("") => Ok(()),
        Some(value) if value.eq_ignore_ascii_case("snappy") => Ok(()),
        Some(value) => Err(RemoteWriteError::UnsupportedContentEncoding {
            encoding: value.to_string(),
        }),
    }
}

/// Reads the whole body, refusing it as soon as it passes `max_bytes`.
async fn read_body_with_limit(body: Body, max_bytes: u64) -> Result<Bytes, Error> {
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Error::BodyTooLarge {
                which: "received",
                limit_bytes: max_bytes,
            })
        }
        Err(error) => Err(Error::ReadBody {
            reason: error.to_string(),
        }),
    }
}

/// Runs [`decode_write_request`] inline for small bodies and on the blocking pool (with the
/// current tracing span) for large ones.
async fn decode_write_request_off_reactor(
    body: Bytes,
    decompressed_bytes: usize,
) -> Result<DecodedWrite, RemoteWriteError> {
    if decompressed_bytes < BLOCKING_DECODE_THRESHOLD_BYTES {
        return decode_write_request(&body, decompressed_bytes);
    }
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        decode_write_request(&body, decompressed_bytes)
    })
    .await
    .map_err(|error| RemoteWriteError::from(Error::from(error)))?
}

/// Inflates a snappy block of `decompressed_bytes` (already checked against the limit),
/// decodes the `WriteRequest` and converts it.
fn decode_write_request(
    body: &[u8],
    decompressed_bytes: usize,
) -> Result<DecodedWrite, RemoteWriteError> {
    let mut inflated = vec![0; decompressed_bytes];
    let written = snap::raw::Decoder::new()
        .decompress(body, &mut inflated)
        .map_err(|source| RemoteWriteError::Snappy { source })?;
    inflated.truncate(written);
    let request = prompb::WriteRequest::decode(inflated.as_slice())
        .map_err(|source| RemoteWriteError::Protobuf { source })?;
    Ok(convert_write_request(request))
}

/// Converts a decoded request into a batch, refusing invalid series one by one.
fn convert_write_request(request: prompb::WriteRequest) -> DecodedWrite {
    let mut decoded = DecodedWrite::default();
    decoded.batch.series.reserve(request.timeseries.len());
    for series in request.timeseries {
        decoded.received_samples += series.samples.len() + series.histograms.len();
        let labels = match labels_from_prompb(&series.labels) {
            Ok(labels) => labels,
            Err((reason, why)) => {
                let samples = series.samples.len() + series.histograms.len();
                decoded.refusals.add(reason, samples, || {
                    format!("series {} refused: {why}", raw_labels_text(&series.labels))
                });
                continue;
            }
        };
        if !series.histograms.is_empty() {
            decoded
                .refusals
                .add(RefusalReason::NativeHistogram, series.histograms.len(), || {
                    format!(
                        "{} native histogram samples of series {labels} refused: native histograms are not supported yet; send classic histograms",
                        series.histograms.len()
                    )
                });
        }
        let mut samples: Vec<MetricSample> = series
            .samples
            .iter()
            .map(|sample| MetricSample {
                timestamp_ms: sample.timestamp,
                value: sample.value,
            })
            .collect();
        if !samples.is_sorted_by_key(|sample| sample.timestamp_ms) {
            samples.sort_by_key(|sample| sample.timestamp_ms);
        }
        let total_exemplars = series.exemplars.len();
        let exemplars: Vec<Exemplar> = series
            .exemplars
            .into_iter()
            .filter_map(exemplar_from_prompb)
            .collect();
        decoded.dropped_exemplars += total_exemplars - exemplars.len();
        if samples.is_empty() && exemplars.is_empty() {
            continue;
        }
        decoded.batch.series.push(SeriesSamples {
            labels,
            samples,
            exemplars,
        });
    }
    decoded.batch.metadata = request
        .metadata
        .into_iter()
        .filter_map(metadata_from_prompb)
        .collect();
    decoded
}

/// Validates a series' label set as the spec requires of senders: UTF-8, non-empty names,
/// names unique and sorted, `__name__` present. Empty values are dropped, as Prometheus
/// treats them as absent labels.
fn labels_from_prompb(labels: &[prompb::Label]) -> Result<Labels, (RefusalReason, String)> {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(labels.len());
    for label in labels {
        let (Ok(name), Ok(value)) = (
            std::str::from_utf8(&label.name),
            std::str::from_utf8(&label.value),
        ) else {
            return Err((
                RefusalReason::InvalidUtf8,
                "a label name or value is not valid UTF-8".to_string(),
            ));
        };
        if name.is_empty() {
            return Err((
                RefusalReason::EmptyLabelName,
                "a label has an empty name".to_string(),
            ));
        }
        if let Some((previous, _)) = pairs.last() {
            match (*previous).cmp(name) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => {
                    return Err((
                        RefusalReason::DuplicateLabelName,
                        format!("label name {name:?} appears twice"),
                    ))
                }
                std::cmp::Ordering::Greater => {
                    return Err((
                        RefusalReason::UnsortedLabels,
                        format!("label names are not sorted ({previous:?} before {name:?})"),
                    ))
                }
            }
        }
        pairs.push((name, value));
    }
    let labels = Labels::new(pairs);
    if labels.metric_name().is_none() {
        return Err((
            RefusalReason::MissingMetricName,
            format!("no {METRIC_NAME_LABEL} label"),
        ));
    }
    Ok(labels)
}

/// Renders raw labels for a refusal message, invalid UTF-8 replaced.
fn raw_labels_text(labels: &[prompb::Label]) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|label| {
            format!(
                "{}={:?}",
                String::from_utf8_lossy(&label.name),
                String::from_utf8_lossy(&label.value)
            )
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Converts an exemplar; `trace_id` (32 hex characters) and `span_id` (16) labels also fill
/// the typed ids. `None` when a label is not UTF-8 or has an empty name.
fn exemplar_from_prompb(exemplar: prompb::Exemplar) -> Option<Exemplar> {
    let mut pairs = Vec::with_capacity(exemplar.labels.len());
    for label in exemplar.labels {
        let name = String::from_utf8(label.name).ok()?;
        let value = String::from_utf8(label.value).ok()?;
        if name.is_empty() {
            return None;
        }
        pairs.push((name, value));
    }
    let labels = Labels::new(pairs);
    let trace_id = labels
        .get("trace_id")
        .filter(|hex| hex.len() == 2 * TraceId::LEN)
        .and_then(|hex| hex.parse().ok());
    let span_id = labels
        .get("span_id")
        .filter(|hex| hex.len() == 2 * SpanId::LEN)
        .and_then(|hex| hex.parse().ok());
    Some(Exemplar {
        labels,
        timestamp_ms: exemplar.timestamp,
        value: exemplar.value,
        trace_id,
        span_id,
    })
}

/// Converts metadata; `None` without a family name. Gauge histograms and state sets have no
/// [`MetricType`] of their own and become `Unknown`.
fn metadata_from_prompb(metadata: prompb::MetricMetadata) -> Option<MetricMetadata> {
    if metadata.metric_family_name.is_empty() {
        return None;
    }
    let metric_type = match metadata.r#type {
        1 => MetricType::Counter,
        2 => MetricType::Gauge,
        3 => MetricType::Histogram,
        5 => MetricType::Summary,
        6 => MetricType::Info,
        _ => MetricType::Unknown,
    };
    Some(MetricMetadata {
        metric_family: metadata.metric_family_name,
        metric_type,
        help: metadata.help,
        unit: metadata.unit,
    })
}

/// Counts a decoded request and appends its batch, awaited until durable; adds the store's
/// refusals (series limit) to those of validation.
async fn hand_off_write(
    store: &MetricStore,
    tenant: &TenantId,
    decoded: DecodedWrite,
) -> Result<WriteOutcome, RemoteWriteError> {
    counter!("sightline_remote_write_samples_received_total")
        .increment(decoded.received_samples as u64);
    if decoded.dropped_exemplars > 0 {
        counter!("sightline_dropped_total", "signal" => SIGNAL, "reason" => "invalid_exemplar")
            .increment(decoded.dropped_exemplars as u64);
    }
    let mut refusals = decoded.refusals;
    count_refusals(&refusals);
    let mut accepted_samples = 0;
    if !decoded.batch.is_empty() {
        let samples = decoded.batch.sample_count();
        match store.append(tenant, decoded.batch).await {
            Ok(appended) => {
                accepted_samples = appended.accepted_samples;
                if appended.rejected_samples > 0 {
                    counter!("sightline_dropped_total", "signal" => SIGNAL, "reason" => RefusalReason::SeriesLimit.label())
                        .increment(appended.rejected_samples as u64);
                    let first = appended.first_rejection;
                    refusals.add(
                        RefusalReason::SeriesLimit,
                        appended.rejected_samples,
                        || first.unwrap_or_else(|| "series refused by the store".to_string()),
                    );
                }
            }
            Err(error) => {
                let reason = match error.class() {
                    ErrorClass::Unavailable => "store_unavailable",
                    _ => "store_error",
                };
                counter!("sightline_dropped_total", "signal" => SIGNAL, "reason" => reason)
                    .increment(samples as u64);
                return Err(Error::Store(error).into());
            }
        }
    }
    if !refusals.is_empty() && REFUSAL_LOG.allow() {
        tracing::warn!(
            %tenant,
            refused = refusals.refused_samples,
            accepted = accepted_samples,
            first_refusal = refusals.first_message.as_deref().unwrap_or_default(),
            "remote write samples refused"
        );
    }
    Ok(WriteOutcome {
        received_samples: decoded.received_samples,
        accepted_samples,
        refusals,
    })
}

fn count_refusals(refusals: &Refusals) {
    for (reason, samples) in &refusals.samples_by_reason {
        counter!("sightline_dropped_total", "signal" => SIGNAL, "reason" => reason.label())
            .increment(*samples as u64);
    }
}

/// Counts and logs a refused request and returns the message the client may see (generic,
/// with a failure id, for internal errors).
fn record_remote_write_failure(error: &RemoteWriteError) -> String {
    if let RemoteWriteError::Collector(inner) = error {
        return record_failure(PROTOCOL, inner);
    }
    let class = class_label(error.class());
    counter!("sightline_collector_requests_total", "protocol" => PROTOCOL, "outcome" => class)
        .increment(1);
    if FAILURE_LOG.allow() {
        tracing::debug!(protocol = PROTOCOL, class, %error, "remote write refused");
    }
    error.to_string()
}

fn header_text(headers: &HeaderMap, name: http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// 204 when everything was stored; 400 with the counts and the first reason otherwise.
fn outcome_response(outcome: &WriteOutcome) -> Response {
    let refusals = &outcome.refusals;
    let Some(first) = refusals.first_message.as_deref() else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let reasons: Vec<String> = refusals
        .samples_by_reason
        .iter()
        .map(|(reason, samples)| format!("{}: {samples}", reason.label()))
        .collect();
    let message = format!(
        "{} of {} samples refused, the others were stored ({}); first: {first}",
        refusals.refused_samples,
        outcome.received_samples,
        reasons.join(", ")
    );
    text_response(StatusCode::BAD_REQUEST, message)
}

fn error_response(error: &RemoteWriteError, message: String) -> Response {
    let mut response = text_response(http_status_for_class(error.class()), message);
    let retry_after_seconds = match error {
        RemoteWriteError::Collector(error) => error.retry_after_seconds(),
        _ => error.class().is_retryable().then_some(1),
    };
    if let Some(seconds) = retry_after_seconds {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn text_response(status: StatusCode, message: String) -> Response {
    (
        status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        message,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
