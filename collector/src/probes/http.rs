//! HTTP(S) probes: GET the URL, succeed on the expected status (any 2xx by default).
//!
//! The client follows no redirect (a 3xx is just a status: expect it explicitly to accept
//! one), ignores proxy settings from the environment, keeps no idle connection (each probe
//! connects, so its duration includes connecting, and a server restart is seen at once) and
//! verifies certificates with the platform's roots (rustls).

use std::time::Duration;

/// The `User-Agent` probes send.
const USER_AGENT: &str = concat!("Sightline-HealthCheck/", env!("CARGO_PKG_VERSION"));

/// Builds the probes' HTTP client.
///
/// # Errors
/// The client's TLS setup failed.
pub(crate) fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(0)
        .user_agent(USER_AGENT)
        .build()
        .map_err(|error| error_chain(&error))
}

/// GETs `url`; `Ok` when the status is `expected` (any 2xx when `None`). The body is not read.
///
/// # Errors
/// Why the probe failed, in words.
pub(crate) async fn probe(
    client: &reqwest::Client,
    url: &str,
    expected: Option<u16>,
    timeout: Duration,
) -> Result<(), String> {
    let response = client
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| error_chain(&error))?;
    let status = response.status();
    let accepted = match expected {
        Some(expected) => status.as_u16() == expected,
        None => status.is_success(),
    };
    if accepted {
        Ok(())
    } else {
        let wanted = expected.map_or_else(|| "2xx".to_string(), |code| code.to_string());
        Err(format!("status {}, expected {wanted}", status.as_u16()))
    }
}

/// An error with its causes, `: `-separated (reqwest's own message is only the outermost).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
