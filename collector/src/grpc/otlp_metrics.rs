//! OTLP/gRPC `opentelemetry.proto.collector.metrics.v1.MetricsService/Export`, and
//! [`OtlpGrpcRoutes`], which serves it next to the trace service on one tonic server.
//!
//! The same budget layer, size limit and compression as for traces apply; translation runs
//! on the blocking pool for large messages, then the samples go to
//! [`MetricStore::append`](sightline_store::MetricStore::append).

use std::convert::Infallible;
use std::task::{Context, Poll};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::LogsServiceServer;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
use sightline_store::otlp::metrics::metrics_from_otlp;
use tonic::codec::CompressionEncoding;
use tonic::codegen::{BoxFuture, StdError};
use tonic::server::NamedService;
use tower::Service;

use super::otlp_logs::{logs_service, GrpcLogsService};
use super::{
    answer, failure_status, max_message_bytes, receive, trace_service, GrpcTraceService, Received,
    PROTOCOL,
};
use crate::decode::convert_off_reactor;
use crate::error::Error;
use crate::handoff::otlp_metrics::{
    hand_off_metrics, record_metrics_success, MetricsExportOutcome,
};
use crate::Collector;

/// Builds the tonic metrics service with compression and the decoded-size limit set.
pub(crate) fn metrics_service(collector: Collector) -> MetricsServiceServer<GrpcMetricsService> {
    let max_message_bytes = max_message_bytes(&collector);
    MetricsServiceServer::new(GrpcMetricsService { collector })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes)
}

/// The `MetricsService` implementation.
pub(crate) struct GrpcMetricsService {
    collector: Collector,
}

#[tonic::async_trait]
impl MetricsService for GrpcMetricsService {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        answer(export(&self.collector, request).await, |outcome| {
            record_metrics_success(PROTOCOL, outcome);
            outcome.to_response()
        })
    }
}

async fn export(
    collector: &Collector,
    request: tonic::Request<ExportMetricsServiceRequest>,
) -> Result<MetricsExportOutcome, Error> {
    let Received {
        tenant,
        reservation,
        message,
        encoded_len,
    } = receive(collector, "metrics", request)?;
    let deltas = collector.inner.deltas.clone();
    let translation_tenant = tenant.clone();
    let decoded = convert_off_reactor(message, encoded_len, move |message| {
        metrics_from_otlp(message, &translation_tenant, &deltas)
    })
    .await?;
    collector.charge_items(&tenant, decoded.accepted_points);
    let outcome = hand_off_metrics(&collector.inner.metrics, &tenant, PROTOCOL, decoded).await?;
    drop(reservation);
    Ok(outcome)
}

/// The OTLP gRPC services on one server, routed by path: metrics exports to the metrics
/// service, logs exports to the logs service, everything else to the trace service (which
/// answers UNIMPLEMENTED for unknown methods). A match instead of tonic's router, which needs
/// an extra feature.
#[derive(Clone)]
pub(crate) struct OtlpGrpcRoutes {
    traces: TraceServiceServer<GrpcTraceService>,
    metrics: MetricsServiceServer<GrpcMetricsService>,
    logs: LogsServiceServer<GrpcLogsService>,
    /// For refusing log exports before they are read while the log store is over its budget.
    collector: Collector,
}

/// Builds the routes for a collector.
pub(crate) fn otlp_routes(collector: Collector) -> OtlpGrpcRoutes {
    OtlpGrpcRoutes {
        traces: trace_service(collector.clone()),
        metrics: metrics_service(collector.clone()),
        logs: logs_service(collector.clone()),
        collector,
    }
}

impl<B> Service<http::Request<B>> for OtlpGrpcRoutes
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The generated services are always ready; poll them anyway, as the contract asks.
        match Service::<http::Request<B>>::poll_ready(&mut self.traces, context) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        match Service::<http::Request<B>>::poll_ready(&mut self.metrics, context) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        Service::<http::Request<B>>::poll_ready(&mut self.logs, context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let is_service = |name: &str| {
            path.strip_prefix('/')
                .and_then(|rest| rest.strip_prefix(name))
                .is_some_and(|rest| rest.starts_with('/'))
        };
        if is_service(<MetricsServiceServer<GrpcMetricsService> as NamedService>::NAME) {
            self.metrics.call(request)
        } else if is_service(<LogsServiceServer<GrpcLogsService> as NamedService>::NAME) {
            // An overloaded log store refuses here, before the message is read and decoded:
            // under sustained overload most exports are retries, and decoding each only to
            // refuse it took the CPU the index commits needed to drain the backlog.
            if let Err(error) = self.collector.inner.logs.admit() {
                let status = failure_status(&Error::Store(error));
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
            self.logs.call(request)
        } else {
            self.traces.call(request)
        }
    }
}

#[cfg(test)]
mod tests;
