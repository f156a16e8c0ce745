//! TCP probes: connect to `host:port` (resolving the host), then close.

use tokio::net::TcpStream;

/// Connects to `address`; the caller bounds it with the target's timeout.
///
/// # Errors
/// Why the connection failed, in words.
pub(crate) async fn probe(address: &str) -> Result<(), String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|error| format!("connect {address}: {error}"))?;
    drop(stream);
    Ok(())
}
