//! OTLP/gRPC `opentelemetry.proto.collector.logs.v1.LogsService/Export`, served next to the
//! trace and metrics services by [`super::otlp_routes`].
//!
//! The same budget layer, size limit and compression as for traces apply; validation runs
//! on the blocking pool for large messages, then the records go to
//! [`LogStore::append`](sightline_store::LogStore::append). Rejected records are answered in
//! `partial_success.rejected_log_records`.

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use sightline_store::otlp::logs::logs_from_otlp;
use tonic::codec::CompressionEncoding;

use super::{answer, max_message_bytes, receive, Received, PROTOCOL};
use crate::decode::convert_off_reactor;
use crate::error::Error;
use crate::handoff::otlp_logs::{hand_off_logs, record_logs_success, LogsExportOutcome};
use crate::Collector;

/// Builds the tonic logs service with compression and the decoded-size limit set.
pub(crate) fn logs_service(collector: Collector) -> LogsServiceServer<GrpcLogsService> {
    let max_message_bytes = max_message_bytes(&collector);
    LogsServiceServer::new(GrpcLogsService { collector })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes)
}

/// The `LogsService` implementation.
pub(crate) struct GrpcLogsService {
    collector: Collector,
}

#[tonic::async_trait]
impl LogsService for GrpcLogsService {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        answer(export(&self.collector, request).await, |outcome| {
            record_logs_success(PROTOCOL, outcome);
            outcome.to_response()
        })
    }
}

async fn export(
    collector: &Collector,
    request: tonic::Request<ExportLogsServiceRequest>,
) -> Result<LogsExportOutcome, Error> {
    let Received {
        tenant,
        reservation,
        message,
        encoded_len,
    } = receive(collector, "logs", request)?;
    let decoded = convert_off_reactor(message, encoded_len, logs_from_otlp).await?;
    collector.charge_items(&tenant, decoded.accepted_records);
    let outcome = hand_off_logs(&collector.inner.logs, &tenant, PROTOCOL, decoded).await?;
    drop(reservation);
    Ok(outcome)
}

#[cfg(test)]
mod tests;
