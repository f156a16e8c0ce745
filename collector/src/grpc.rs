//! OTLP/gRPC receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export`
//! (<https://opentelemetry.io/docs/specs/otlp/#otlpgrpc>), gzip accepted and offered, and
//! [`otlp_metrics`]: `MetricsService/Export` and [`otlp_logs`]: `LogsService/Export` on the same
//! server ([`otlp_routes`]).
//!
//! Budget before bytes: tonic reads and decodes the message before the handler runs, so a tower
//! layer ([`GrpcBudgetLayer`]) reserves `max_body_size_bytes` from the byte budget before tonic
//! touches the body (gRPC requests carry no usable length, and gzip ones may inflate to the
//! limit), and passes the reservation to the handler in the request extensions. The handler
//! shrinks it to the decoded message's size and holds it until the hand-off is done. tonic
//! enforces `max_body_size_bytes` on the decompressed message (it answers OUT_OF_RANGE) and answers
//! undecodable messages with INVALID_ARGUMENT itself; that decode runs on the reactor.

mod otlp_logs;
mod otlp_metrics;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use crate::decode::validate_off_reactor;
use crate::error::{grpc_code_for_class, Error};
use crate::handoff::{
    hand_off_spans, record_failure, record_request_bytes, record_success, ExportOutcome,
};
use crate::limits::{BudgetReservation, ByteBudget};
use crate::tenant::{AUTHORIZATION_HEADER, TENANT_HEADER};
use crate::Collector;

pub(crate) use otlp_metrics::otlp_routes;

/// The `protocol` metric label.
const PROTOCOL: &str = "grpc";

/// The largest decoded message the gRPC services accept (`max_body_size_bytes`).
pub(crate) fn max_message_bytes(collector: &Collector) -> usize {
    usize::try_from(collector.config().max_body_size_bytes).unwrap_or(usize::MAX)
}

/// Records a failed export and turns it into the status its class maps to; a retryable one
/// carries `google.rpc.RetryInfo` with the delay (the OTLP specification's throttling answer).
pub(crate) fn failure_status(error: &Error) -> tonic::Status {
    let message = record_failure(PROTOCOL, error);
    let code = grpc_code_for_class(error.class());
    match error.retry_after() {
        Some(delay) => tonic::Status::with_error_details(
            code,
            message,
            ErrorDetails::with_retry_info(Some(delay)),
        ),
        None => tonic::Status::new(code, message),
    }
}

/// Answers an export: `respond` (which records the success) on its outcome, or the status
/// of its failure.
pub(crate) fn answer<O, R>(
    result: Result<O, Error>,
    respond: impl FnOnce(&O) -> R,
) -> Result<tonic::Response<R>, tonic::Status> {
    match result {
        Ok(outcome) => Ok(tonic::Response::new(respond(&outcome))),
        Err(error) => Err(failure_status(&error)),
    }
}

/// Builds the tonic service with compression and the decoded-size limit set.
pub(crate) fn trace_service(collector: Collector) -> TraceServiceServer<GrpcTraceService> {
    let max_message_bytes = max_message_bytes(&collector);
    TraceServiceServer::new(GrpcTraceService { collector })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes)
}

/// The `TraceService` implementation.
pub(crate) struct GrpcTraceService {
    collector: Collector,
}

#[tonic::async_trait]
impl TraceService for GrpcTraceService {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        answer(export(&self.collector, request).await, |outcome| {
            record_success(PROTOCOL, outcome);
            outcome.to_response()
        })
    }
}

async fn export(
    collector: &Collector,
    request: tonic::Request<ExportTraceServiceRequest>,
) -> Result<ExportOutcome, Error> {
    let Received {
        tenant,
        reservation,
        message,
        encoded_len,
    } = receive(collector, "traces", request)?;
    let decoded = validate_off_reactor(message, encoded_len).await?;
    collector.charge_items(&tenant, decoded.accepted_spans);
    let outcome = hand_off_spans(collector.store(), &tenant, PROTOCOL, decoded).await?;
    drop(reservation);
    Ok(outcome)
}

/// What every OTLP export handler starts with: the tenant, the request's budget reservation
/// (shrunk to the decoded message's size), the message and that size.
struct Received<M> {
    tenant: sightline_model::TenantId,
    reservation: Option<BudgetReservation>,
    message: M,
    encoded_len: usize,
}

/// Resolves the tenant, takes the reservation [`GrpcBudgetService`] made, and records the
/// request's size; shared by the trace, metric and log services.
fn receive<M: Message>(
    collector: &Collector,
    signal: &'static str,
    request: tonic::Request<M>,
) -> Result<Received<M>, Error> {
    let metadata = request.metadata();
    let tenant = collector.ingest_tenant(
        metadata
            .get(AUTHORIZATION_HEADER)
            .map(|value| value.as_encoded_bytes()),
        metadata
            .get(TENANT_HEADER)
            .map(|value| value.as_encoded_bytes()),
    )?;
    let mut reservation = request
        .extensions()
        .get::<ReservationSlot>()
        .and_then(ReservationSlot::take);
    let message = request.into_inner();
    let encoded_len = message.encoded_len();
    record_request_bytes(PROTOCOL, encoded_len);
    collector.admit(&tenant, signal, encoded_len)?;
    if let Some(reservation) = reservation.as_mut() {
        reservation.shrink_to(encoded_len as u64);
    }
    Ok(Received {
        tenant,
        reservation,
        message,
        encoded_len,
    })
}

/// Carries a budget reservation from [`GrpcBudgetService`] to the handler. Request extensions
/// must be `Clone`, hence the shared slot; the handler takes the reservation out once.
#[derive(Clone, Default)]
struct ReservationSlot(Arc<Mutex<Option<BudgetReservation>>>);

impl ReservationSlot {
    fn take(&self) -> Option<BudgetReservation> {
        // A poisoned lock only means another holder panicked; the slot itself stays valid.
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.take()
    }
}

/// Tower layer that reserves request bytes before tonic reads and decodes the body.
#[derive(Clone)]
pub(crate) struct GrpcBudgetLayer {
    budget: ByteBudget,
    reserve_bytes: u64,
    wait: Duration,
}

impl GrpcBudgetLayer {
    /// Creates the layer for a collector's budget and limits.
    pub(crate) fn new(collector: &Collector) -> Self {
        let config = collector.config();
        Self {
            budget: collector.budget().clone(),
            reserve_bytes: config.max_body_size_bytes,
            wait: Duration::from_millis(config.budget_wait_millis),
        }
    }
}

impl<S> Layer<S> for GrpcBudgetLayer {
    type Service = GrpcBudgetService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcBudgetService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`GrpcBudgetLayer`] wraps around tonic's routes.
#[derive(Clone)]
pub(crate) struct GrpcBudgetService<S> {
    inner: S,
    layer: GrpcBudgetLayer,
}

type BoxedResponseFuture<E> =
    Pin<Box<dyn Future<Output = Result<http::Response<tonic::body::Body>, E>> + Send>>;

impl<S, RequestBody> Service<http::Request<RequestBody>> for GrpcBudgetService<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    RequestBody: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxedResponseFuture<S::Error>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<RequestBody>) -> Self::Future {
        // The ready service is the one polled above; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            match layer.budget.reserve(layer.reserve_bytes, layer.wait).await {
                Ok(reservation) => {
                    let slot = ReservationSlot(Arc::new(Mutex::new(Some(reservation))));
                    request.extensions_mut().insert(slot);
                    inner.call(request).await
                }
                Err(error) => Ok(failure_status(&error).into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests;
