//! Decoded OTLP logs → the store: counts the records received and rejected, appends the
//! accepted ones with [`LogStore::append`] (which resolves once they are durable), and turns
//! what validation rejected into `partial_success`.

use metrics::counter;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use sightline_model::{ErrorClass, TenantId};
use sightline_store::otlp::logs::DecodedLogs;
use sightline_store::LogStore;

use crate::error::Error;
use crate::limits::LogThrottle;

/// The `signal` label of `sightline_dropped_total` for logs.
const SIGNAL: &str = "logs";

/// Rejected-record warnings are logged at most this often.
static REJECTION_LOG: LogThrottle = LogThrottle::new(1_000);

/// What a successful logs export answers: how many records were rejected, and why the first
/// one was.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct LogsExportOutcome {
    /// Records dropped by validation.
    pub(crate) rejected_records: usize,
    /// The first rejection reason.
    pub(crate) first_rejection: Option<String>,
}

impl LogsExportOutcome {
    /// Builds OTLP's response: `partial_success` only when something was rejected.
    pub(crate) fn to_response(&self) -> ExportLogsServiceResponse {
        let partial_success = (self.rejected_records > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: i64::try_from(self.rejected_records).unwrap_or(i64::MAX),
            error_message: self.first_rejection.clone().unwrap_or_default(),
        });
        ExportLogsServiceResponse { partial_success }
    }
}

/// Records metrics for a decoded request and appends its accepted records to the store.
///
/// # Errors
/// [`Error::Store`] when the store could not make the records durable (or is overloaded);
/// nothing is acknowledged.
pub(crate) async fn hand_off_logs(
    store: &LogStore,
    tenant: &TenantId,
    protocol: &'static str,
    decoded: DecodedLogs,
) -> Result<LogsExportOutcome, Error> {
    let received = decoded.accepted_records + decoded.rejected_records;
    counter!("sightline_collector_records_received_total", "protocol" => protocol, "signal" => SIGNAL)
        .increment(received as u64);
    for (reason, count) in &decoded.rejected_by_reason {
        counter!("sightline_collector_records_rejected_total", "signal" => SIGNAL, "reason" => *reason)
            .increment(*count as u64);
        counter!("sightline_dropped_total", "signal" => SIGNAL, "reason" => *reason)
            .increment(*count as u64);
    }
    if decoded.rejected_records > 0 && REJECTION_LOG.allow() {
        tracing::warn!(
            %tenant,
            protocol,
            rejected = decoded.rejected_records,
            accepted = decoded.accepted_records,
            first_rejection = decoded.first_rejection.as_deref().unwrap_or_default(),
            "log records rejected"
        );
    }
    let accepted = decoded.accepted_records;
    if accepted > 0 {
        if let Err(error) = store.append(tenant, decoded.batch).await {
            let reason = match error.class() {
                ErrorClass::Unavailable => "store_unavailable",
                _ => "store_error",
            };
            counter!("sightline_dropped_total", "signal" => SIGNAL, "reason" => reason)
                .increment(accepted as u64);
            return Err(error.into());
        }
    }
    Ok(LogsExportOutcome {
        rejected_records: decoded.rejected_records,
        first_rejection: decoded.first_rejection,
    })
}

/// Counts a successful logs request in `sightline_collector_requests_total`.
pub(crate) fn record_logs_success(protocol: &'static str, outcome: &LogsExportOutcome) {
    let label = if outcome.rejected_records > 0 {
        "partial_success"
    } else {
        "success"
    };
    counter!("sightline_collector_requests_total", "protocol" => protocol, "outcome" => label)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_success_only_when_records_were_rejected() {
        assert_eq!(
            LogsExportOutcome::default().to_response().partial_success,
            None
        );
        let outcome = LogsExportOutcome {
            rejected_records: 2,
            first_rejection: Some("log record 0 of scope '': invalid trace id".into()),
        };
        let partial = outcome.to_response().partial_success.unwrap();
        assert_eq!(partial.rejected_log_records, 2);
        assert!(partial.error_message.contains("invalid trace id"));
    }
}
