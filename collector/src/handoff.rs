//! Decoded spans → the store: counts what was received and rejected, appends the accepted spans
//! with [`SpanStore::append`] (which resolves once they are durable), feeds them to the span
//! processors once they are, and records the outcome of every request for both protocols.
//! [`otlp_metrics`] does the same for OTLP metrics, and [`otlp_logs`] for OTLP logs.

pub(crate) mod otlp_logs;
pub(crate) mod otlp_metrics;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use metrics::counter;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use sightline_model::{ErrorClass, SpanBatch, TenantId};
use sightline_store::otlp::DecodedSpans;
use sightline_store::SpanStore;

use crate::error::{class_label, Error};
use crate::limits::LogThrottle;
use crate::processors::{PreparedSpans, Processors, PREPARE_INLINE_MAX_SPANS};

/// The `signal` label of `sightline_dropped_total` for spans.
const SIGNAL: &str = "traces";

/// Client-triggered failures are logged at most this often.
static CLIENT_FAILURE_LOG: LogThrottle = LogThrottle::new(1_000);
/// Rejected-span warnings are logged at most this often.
static REJECTION_LOG: LogThrottle = LogThrottle::new(1_000);
/// Numbers internal failures so that a client's message can be matched with the log.
static NEXT_FAILURE_ID: AtomicU64 = AtomicU64::new(1);

/// What a successful export answers: how many spans were rejected, and the first reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ExportOutcome {
    /// Spans dropped by validation.
    pub(crate) rejected_spans: usize,
    /// The first rejection reason.
    pub(crate) first_rejection: Option<String>,
}

impl ExportOutcome {
    /// Builds OTLP's response: `partial_success` only when something was rejected.
    pub(crate) fn to_response(&self) -> ExportTraceServiceResponse {
        let partial_success = (self.rejected_spans > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(self.rejected_spans).unwrap_or(i64::MAX),
            error_message: self.first_rejection.clone().unwrap_or_default(),
        });
        ExportTraceServiceResponse { partial_success }
    }
}

/// Where accepted spans go: the span store, then (once durable) the processors that derive
/// span metrics and the service graph from them.
pub(crate) struct SpanSink {
    store: SpanStore,
    processors: Option<Arc<Processors>>,
}

impl SpanSink {
    /// Pairs the store with the processors, if any are enabled.
    pub(crate) fn new(store: SpanStore, processors: Option<Arc<Processors>>) -> Self {
        Self { store, processors }
    }

    /// Returns the processors, if any are enabled.
    pub(crate) fn processors(&self) -> Option<&Arc<Processors>> {
        self.processors.as_ref()
    }

    /// Runs the processors' per-span work on an export, on the blocking pool when it is large.
    /// Returns the batch untouched, for the append.
    async fn prepare(&self, batch: SpanBatch, spans: usize) -> (SpanBatch, Option<PreparedSpans>) {
        let Some(processors) = &self.processors else {
            return (batch, None);
        };
        if spans <= PREPARE_INLINE_MAX_SPANS {
            let prepared = processors.prepare(&batch);
            return (batch, Some(prepared));
        }
        let processors = processors.clone();
        let shared = Arc::new(batch);
        let for_task = shared.clone();
        let prepared = tokio::task::spawn_blocking(move || processors.prepare(&for_task)).await;
        // The task has finished and dropped its handle, so the batch is ours alone again.
        let batch = Arc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone());
        match prepared {
            Ok(prepared) => (batch, Some(prepared)),
            Err(error) => {
                tracing::error!(%error, "span processors failed to prepare an export; its spans are not in the derived metrics");
                (batch, None)
            }
        }
    }
}

/// Records metrics for a decoded request, appends its accepted spans to the store, and once
/// they are durable counts them in the span processors.
///
/// # Errors
/// [`Error::Store`] when the store could not make the spans durable; nothing is acknowledged,
/// and the processors count nothing.
pub(crate) async fn hand_off_spans(
    sink: &SpanSink,
    tenant: &TenantId,
    protocol: &'static str,
    decoded: DecodedSpans,
) -> Result<ExportOutcome, Error> {
    let received = decoded.accepted_spans + decoded.rejected_spans;
    counter!("sightline_collector_spans_received_total", "protocol" => protocol)
        .increment(received as u64);
    for (reason, count) in &decoded.rejected_by_reason {
        counter!("sightline_collector_spans_rejected_total", "reason" => *reason)
            .increment(*count as u64);
        counter!("sightline_dropped_total", "signal" => SIGNAL, "reason" => *reason)
            .increment(*count as u64);
    }
    if decoded.rejected_spans > 0 && REJECTION_LOG.allow() {
        tracing::warn!(
            %tenant,
            protocol,
            rejected = decoded.rejected_spans,
            accepted = decoded.accepted_spans,
            first_rejection = decoded.first_rejection.as_deref().unwrap_or_default(),
            "spans rejected"
        );
    }
    let accepted = decoded.accepted_spans;
    if accepted > 0 {
        let (batch, prepared) = sink.prepare(decoded.batch, accepted).await;
        if let Err(error) = sink.store.append(tenant, batch).await {
            let reason = match error.class() {
                ErrorClass::Unavailable => "store_unavailable",
                _ => "store_error",
            };
            counter!("sightline_dropped_total", "signal" => SIGNAL, "reason" => reason)
                .increment(accepted as u64);
            return Err(error.into());
        }
        if let (Some(processors), Some(prepared)) = (&sink.processors, prepared) {
            processors.commit(tenant, prepared, Instant::now());
        }
    }
    Ok(ExportOutcome {
        rejected_spans: decoded.rejected_spans,
        first_rejection: decoded.first_rejection,
    })
}

/// Counts a successful request.
pub(crate) fn record_success(protocol: &'static str, outcome: &ExportOutcome) {
    let label = if outcome.rejected_spans > 0 {
        "partial_success"
    } else {
        "success"
    };
    counter!("sightline_collector_requests_total", "protocol" => protocol, "outcome" => label)
        .increment(1);
}

/// Counts and logs a failed request and returns the message the client may see: the error
/// itself, or for internal errors a generic text with an id that points into the log.
pub(crate) fn record_failure(protocol: &'static str, error: &Error) -> String {
    let class = error.class();
    counter!(
        "sightline_collector_requests_total",
        "protocol" => protocol,
        "outcome" => class_label(class)
    )
    .increment(1);
    match class {
        ErrorClass::Internal => {
            let failure_id = NEXT_FAILURE_ID.fetch_add(1, Ordering::Relaxed);
            tracing::error!(protocol, failure_id, error = %error, "export failed");
            format!("internal error (failure id {failure_id}); see the server log")
        }
        ErrorClass::Unavailable => {
            if CLIENT_FAILURE_LOG.allow() {
                tracing::warn!(protocol, error = %error, "export refused: store unavailable");
            }
            error.to_string()
        }
        _ => {
            if CLIENT_FAILURE_LOG.allow() {
                tracing::debug!(protocol, class = class_label(class), error = %error, "export refused");
            }
            error.to_string()
        }
    }
}

/// Counts request bytes received.
pub(crate) fn record_request_bytes(protocol: &'static str, bytes: usize) {
    counter!("sightline_collector_request_bytes_total", "protocol" => protocol)
        .increment(bytes as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_success_only_when_spans_were_rejected() {
        assert_eq!(ExportOutcome::default().to_response().partial_success, None);
        let outcome = ExportOutcome {
            rejected_spans: 2,
            first_rejection: Some("span 0 of scope '': invalid span id".into()),
        };
        let partial = outcome.to_response().partial_success.unwrap();
        assert_eq!(partial.rejected_spans, 2);
        assert!(partial.error_message.contains("invalid span id"));
    }

    #[test]
    fn internal_failures_answer_generically() {
        let error = Error::Serve {
            protocol: "grpc",
            reason: "/secret/path".into(),
        };
        let message = record_failure("grpc", &error);
        assert!(message.starts_with("internal error"), "{message}");
        assert!(!message.contains("secret"));
    }
}
