//! Translated OTLP metrics → the store: counts the data points received and rejected, appends
//! the samples with [`MetricStore::append`] (which resolves once they are durable), and turns
//! what was refused, by translation or by the store's series limit, into `partial_success`.

use metrics::counter;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use sightline_model::{ErrorClass, TenantId};
use sightline_store::otlp::metrics::DecodedMetrics;
use sightline_store::MetricStore;

use crate::error::Error;
use crate::limits::LogThrottle;

/// The `signal` label of `sightline_dropped_total` for metrics.
const SIGNAL: &str = "metrics";
/// The reason label of samples refused by the store's series limit.
const SERIES_LIMIT: &str = "series_limit";

/// Rejected-point warnings are logged at most this often.
static REJECTION_LOG: LogThrottle = LogThrottle::new(1_000);

/// What a successful metrics export answers: how many data points were rejected, and why the
/// first one was.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MetricsExportOutcome {
    /// Data points dropped by translation, plus samples the store refused (capped so that the
    /// total never passes the points received).
    pub(crate) rejected_points: usize,
    /// The first rejection reason.
    pub(crate) first_rejection: Option<String>,
}

impl MetricsExportOutcome {
    /// Builds OTLP's response: `partial_success` only when something was rejected.
    pub(crate) fn to_response(&self) -> ExportMetricsServiceResponse {
        let partial_success = (self.rejected_points > 0).then(|| ExportMetricsPartialSuccess {
            rejected_data_points: i64::try_from(self.rejected_points).unwrap_or(i64::MAX),
            error_message: self.first_rejection.clone().unwrap_or_default(),
        });
        ExportMetricsServiceResponse { partial_success }
    }
}

/// Records metrics for a translated request and appends its samples to the store.
///
/// Samples refused by the store's series limit count as rejected points: a histogram point is
/// several samples, so one refused histogram may count more than once, up to the number of
/// points received.
///
/// # Errors
/// [`Error::Store`] when the store could not make the samples durable; nothing is
/// acknowledged.
pub(crate) async fn hand_off_metrics(
    store: &MetricStore,
    tenant: &TenantId,
    protocol: &'static str,
    decoded: DecodedMetrics,
) -> Result<MetricsExportOutcome, Error> {
    let received = decoded.accepted_points + decoded.rejected_points;
    counter!("sightline_collector_points_received_total", "protocol" => protocol)
        .increment(received as u64);
    for (reason, count) in &decoded.rejected_by_reason {
        count_rejected(reason, *count);
    }
    let mut outcome = MetricsExportOutcome {
        rejected_points: decoded.rejected_points,
        first_rejection: decoded.first_rejection,
    };
    if !decoded.batch.is_empty() {
        match store.append(tenant, decoded.batch).await {
            Ok(appended) if appended.rejected_samples > 0 => {
                count_rejected(SERIES_LIMIT, appended.rejected_samples);
                outcome.rejected_points =
                    (outcome.rejected_points + appended.rejected_samples).min(received.max(1));
                if outcome.first_rejection.is_none() {
                    outcome.first_rejection = appended.first_rejection;
                }
            }
            Ok(_) => {}
            Err(error) => {
                let reason = match error.class() {
                    ErrorClass::Unavailable => "store_unavailable",
                    _ => "store_error",
                };
                counter!("sightline_dropped_total", "signal" => SIGNAL, "reason" => reason)
                    .increment(decoded.accepted_points as u64);
                return Err(error.into());
            }
        }
    }
    if outcome.rejected_points > 0 && REJECTION_LOG.allow() {
        tracing::warn!(
            %tenant,
            protocol,
            rejected = outcome.rejected_points,
            accepted = decoded.accepted_points,
            first_rejection = outcome.first_rejection.as_deref().unwrap_or_default(),
            "metric points rejected"
        );
    }
    Ok(outcome)
}

/// Counts a successful metrics request in `sightline_collector_requests_total`.
pub(crate) fn record_metrics_success(protocol: &'static str, outcome: &MetricsExportOutcome) {
    let label = if outcome.rejected_points > 0 {
        "partial_success"
    } else {
        "success"
    };
    counter!("sightline_collector_requests_total", "protocol" => protocol, "outcome" => label)
        .increment(1);
}

fn count_rejected(reason: &'static str, count: usize) {
    counter!("sightline_collector_points_rejected_total", "reason" => reason)
        .increment(count as u64);
    counter!("sightline_dropped_total", "signal" => SIGNAL, "reason" => reason)
        .increment(count as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_success_only_when_points_were_rejected() {
        let none = MetricsExportOutcome::default().to_response();
        assert_eq!(none.partial_success, None);
        let outcome = MetricsExportOutcome {
            rejected_points: 3,
            first_rejection: Some("metric 'x': data point has no value".into()),
        };
        let partial = outcome.to_response().partial_success.unwrap();
        assert_eq!(partial.rejected_data_points, 3);
        assert!(partial.error_message.contains("no value"));
    }
}
