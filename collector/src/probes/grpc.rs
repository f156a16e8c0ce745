//! gRPC probes: the gRPC health checking protocol's `grpc.health.v1.Health/Check` (the
//! client `tonic-health` generates), over plaintext HTTP/2 to `host:port`, on a fresh
//! connection each time. Success is `SERVING`; any other status, or an RPC error such as
//! `UNIMPLEMENTED` or `NOT_FOUND` (unknown service), is a failure.

use std::time::Duration;

use tonic::transport::Endpoint;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use super::http::error_chain;

/// Asks `address` for the health of `service` (the whole server when empty).
///
/// # Errors
/// Why the probe failed, in words.
pub(crate) async fn probe(address: &str, service: &str, timeout: Duration) -> Result<(), String> {
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|error| format!("invalid address {address}: {error}"))?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = endpoint
        .connect()
        .await
        .map_err(|error| format!("connect {address}: {}", error_chain(&error)))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .map_err(|status| {
            format!(
                "health check rpc failed: {:?}: {}",
                status.code(),
                status.message()
            )
        })?;
    let status = response.into_inner().status;
    if status == ServingStatus::Serving as i32 {
        Ok(())
    } else {
        let name = ServingStatus::try_from(status).map_or_else(
            |_| status.to_string(),
            |known| known.as_str_name().to_string(),
        );
        Err(format!("status {name}, expected SERVING"))
    }
}
