//! Health-check targets (the health-check pattern): what to probe, how often, and which
//! service a target stands for.
//!
//! A [`HealthCheckDefinition`] is a target as written in the config file's
//! `[[health_checks]]` array or in a JSON body of `/api/v1/health-checks`: flat, optional
//! fields, humane durations (`"15s"`, `"500ms"`). [`HealthCheckDefinition::validate`] turns it
//! into a [`HealthCheckSpec`] whose fields cannot be wrong, or names every field that is.
//! [`HealthCheckSpec::to_definition`] goes back, so the API shows (and the state database
//! stores) the canonical form.
//!
//! The series a target produces carry exactly the labels of [`HealthCheckSpec::series_labels`]:
//! `job="health_check"`, `check`, `service`, `probe` and `instance`. The health API reads
//! `probe_success` by `service`, so those names are a contract.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `job` label of every probe series.
pub const HEALTH_CHECK_JOB: &str = "health_check";
/// The gauge that is 1 when a probe succeeded and 0 when it failed.
pub const PROBE_SUCCESS_METRIC: &str = "probe_success";
/// The gauge that holds how long a probe took, in seconds.
pub const PROBE_DURATION_METRIC: &str = "probe_duration_seconds";
/// How often a target is probed when its definition says nothing.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(15);
/// The longest default timeout; a shorter interval halves it (a timeout is always below the
/// interval).
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The shortest interval accepted.
pub const MIN_PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// The longest name accepted (names appear in URLs and labels).
const MAX_NAME_LEN: usize = 128;
/// The longest service, URL or address accepted.
const MAX_TEXT_LEN: usize = 2048;

/// The kind of probe, as the `probe` label names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// An HTTP or HTTPS request; success is the expected status.
    Http,
    /// A TCP connect; success is an established connection.
    Tcp,
    /// `grpc.health.v1.Health/Check`; success is `SERVING`.
    Grpc,
}

impl ProbeKind {
    /// The `probe` label value: `http`, `tcp` or `grpc`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Http => "http",
            ProbeKind::Tcp => "tcp",
            ProbeKind::Grpc => "grpc",
        }
    }
}

/// A target as written by a user: flat and mostly optional, checked by
/// [`HealthCheckDefinition::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckDefinition {
    /// Unique name of the target (letters, digits, `_`, `-`, `.`); the `check` label.
    pub name: String,
    /// The service the target stands for; the `service` label the health API joins on.
    pub service: String,
    /// `http`, `tcp` or `grpc`.
    pub probe: ProbeKind,
    /// HTTP probes: the `http://` or `https://` URL to GET. Redirects are not followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// HTTP probes: the status that counts as success; any 2xx when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_status: Option<u16>,
    /// TCP and gRPC probes: `host:port` (`[v6]:port` for IPv6 literals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// gRPC probes: the service name asked about; the server's overall health when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_service: Option<String>,
    /// How often to probe, e.g. `"15s"` (the default), `"1m"`; at least `"1s"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// How long a probe may take, e.g. `"5s"`; below the interval. Defaults to 5 s, or half
    /// the interval when that is shorter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Whether to probe at all; a disabled target keeps its definition but has no series.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// What a probe connects to, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProbeTarget {
    /// GET `url`; success when the status is `expected_status` (any 2xx when `None`).
    Http {
        /// An `http://` or `https://` URL without credentials.
        url: String,
        /// The status that counts as success.
        expected_status: Option<u16>,
    },
    /// Connect to `address`.
    Tcp {
        /// `host:port`.
        address: String,
    },
    /// Ask `address` for the health of `service` (plaintext HTTP/2).
    Grpc {
        /// `host:port`.
        address: String,
        /// The service asked about; empty asks for the server's overall health.
        service: String,
    },
}

impl ProbeTarget {
    /// The probe kind.
    pub fn kind(&self) -> ProbeKind {
        match self {
            ProbeTarget::Http { .. } => ProbeKind::Http,
            ProbeTarget::Tcp { .. } => ProbeKind::Tcp,
            ProbeTarget::Grpc { .. } => ProbeKind::Grpc,
        }
    }

    /// The `instance` label: the URL, or `host:port`.
    pub fn instance(&self) -> &str {
        match self {
            ProbeTarget::Http { url, .. } => url,
            ProbeTarget::Tcp { address } | ProbeTarget::Grpc { address, .. } => address,
        }
    }
}

/// A validated target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthCheckSpec {
    /// Unique name; the `check` label.
    pub name: String,
    /// The linked service; the `service` label.
    pub service: String,
    /// What to probe.
    pub target: ProbeTarget,
    /// Time between probes.
    pub interval: Duration,
    /// Longest time one probe may take; below `interval`.
    pub timeout: Duration,
    /// Whether the target is probed.
    pub enabled: bool,
}

impl HealthCheckSpec {
    /// The labels of the target's series besides `__name__`, in this exact set: `job`
    /// (`health_check`), `check`, `service`, `probe`, `instance`.
    pub fn series_labels(&self) -> [(&'static str, &str); 5] {
        [
            ("job", HEALTH_CHECK_JOB),
            ("check", &self.name),
            ("service", &self.service),
            ("probe", self.target.kind().as_str()),
            ("instance", self.target.instance()),
        ]
    }

    /// The canonical definition of this target (durations as `"15s"` or `"500ms"`).
    pub fn to_definition(&self) -> HealthCheckDefinition {
        let (url, expected_status, address, grpc_service) = match &self.target {
            ProbeTarget::Http {
                url,
                expected_status,
            } => (Some(url.clone()), *expected_status, None, None),
            ProbeTarget::Tcp { address } => (None, None, Some(address.clone()), None),
            ProbeTarget::Grpc { address, service } => (
                None,
                None,
                Some(address.clone()),
                (!service.is_empty()).then(|| service.clone()),
            ),
        };
        HealthCheckDefinition {
            name: self.name.clone(),
            service: self.service.clone(),
            probe: self.target.kind(),
            url,
            expected_status,
            address,
            grpc_service,
            interval: Some(format_duration(self.interval)),
            timeout: Some(format_duration(self.timeout)),
            enabled: self.enabled,
        }
    }
}

/// One thing wrong with a definition: the field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionProblem {
    /// The field's name as written (`url`, `interval`, …).
    pub field: &'static str,
    /// What is wrong, lowercase.
    pub message: String,
}

impl fmt::Display for DefinitionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl HealthCheckDefinition {
    /// Checks every field and builds the spec.
    ///
    /// # Errors
    /// Every problem found, each naming its field.
    pub fn validate(&self) -> Result<HealthCheckSpec, Vec<DefinitionProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, message: String| {
            problems.push(DefinitionProblem { field, message })
        };
        if let Err(message) = check_name(&self.name) {
            problem("name", message);
        }
        if self.service.trim().is_empty() {
            problem("service", "is required".to_string());
        } else if self.service.len() > MAX_TEXT_LEN || self.service.chars().any(char::is_control) {
            problem(
                "service",
                "must be printable text of at most 2048 bytes".to_string(),
            );
        }
        let interval = match self.interval.as_deref() {
            None => Some(DEFAULT_PROBE_INTERVAL),
            Some(text) => match parse_duration(text) {
                Ok(interval) if interval < MIN_PROBE_INTERVAL => {
                    problem("interval", format!("{text:?} is below the minimum of 1s"));
                    None
                }
                Ok(interval) => Some(interval),
                Err(message) => {
                    problem("interval", message);
                    None
                }
            },
        };
        let timeout = match self.timeout.as_deref() {
            None => interval.map(|interval| DEFAULT_PROBE_TIMEOUT.min(interval / 2)),
            Some(text) => match parse_duration(text) {
                Ok(timeout) if timeout.is_zero() => {
                    problem("timeout", "must be above zero".to_string());
                    None
                }
                Ok(timeout) if interval.is_some_and(|interval| timeout >= interval) => {
                    problem(
                        "timeout",
                        format!("{text:?} must be below the interval ({})", {
                            interval.map(format_duration).unwrap_or_default()
                        }),
                    );
                    None
                }
                Ok(timeout) => Some(timeout),
                Err(message) => {
                    problem("timeout", message);
                    None
                }
            },
        };
        let target = self.validate_target(&mut problem);
        match (target, interval, timeout) {
            (Some(target), Some(interval), Some(timeout)) if problems.is_empty() => {
                Ok(HealthCheckSpec {
                    name: self.name.clone(),
                    service: self.service.trim().to_string(),
                    target,
                    interval,
                    timeout,
                    enabled: self.enabled,
                })
            }
            _ => Err(problems),
        }
    }

    fn validate_target(
        &self,
        problem: &mut impl FnMut(&'static str, String),
    ) -> Option<ProbeTarget> {
        let unused =
            |field: &'static str, set: bool, problem: &mut dyn FnMut(&'static str, String)| {
                if set {
                    problem(
                        field,
                        format!("does not apply to {} probes", self.probe.as_str()),
                    );
                }
            };
        match self.probe {
            ProbeKind::Http => {
                unused("address", self.address.is_some(), problem);
                unused("grpc_service", self.grpc_service.is_some(), problem);
                if let Some(status) = self.expected_status {
                    if !(100..=599).contains(&status) {
                        problem(
                            "expected_status",
                            format!("{status} is not an HTTP status (100-599)"),
                        );
                    }
                }
                let Some(url) = &self.url else {
                    problem("url", "is required for http probes".to_string());
                    return None;
                };
                match check_url(url) {
                    Ok(()) => Some(ProbeTarget::Http {
                        url: url.clone(),
                        expected_status: self.expected_status,
                    }),
                    Err(message) => {
                        problem("url", message);
                        None
                    }
                }
            }
            ProbeKind::Tcp | ProbeKind::Grpc => {
                unused("url", self.url.is_some(), problem);
                unused("expected_status", self.expected_status.is_some(), problem);
                if self.probe == ProbeKind::Tcp {
                    unused("grpc_service", self.grpc_service.is_some(), problem);
                }
                let Some(address) = &self.address else {
                    problem(
                        "address",
                        format!("is required for {} probes", self.probe.as_str()),
                    );
                    return None;
                };
                if let Err(message) = check_host_port(address) {
                    problem("address", message);
                    return None;
                }
                Some(match self.probe {
                    ProbeKind::Tcp => ProbeTarget::Tcp {
                        address: address.clone(),
                    },
                    _ => ProbeTarget::Grpc {
                        address: address.clone(),
                        service: self.grpc_service.clone().unwrap_or_default(),
                    },
                })
            }
        }
    }
}

/// Checks a target name: 1 to 128 letters, digits, `_`, `-` or `.`.
///
/// # Errors
/// What is wrong, in words.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is required".to_string());
    }
    if name.len() > MAX_NAME_LEN
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "{name:?} must be 1 to 128 letters, digits, '_', '-' or '.'"
        ));
    }
    Ok(())
}

/// Checks an `http://` or `https://` URL: a host, an optional port, no credentials, no
/// whitespace.
fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_TEXT_LEN || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{url:?} must be at most 2048 bytes without whitespace"
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("{url:?} must start with http:// or https://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!(
            "{url:?} must not carry credentials (they would appear in the instance label)"
        ));
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !authority.ends_with(']') => {
            port.parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| format!("{url:?} has an invalid port {port:?}"))?;
            host
        }
        _ => authority,
    };
    check_host(host).map_err(|message| format!("{url:?}: {message}"))
}

/// Checks `host:port` (`[v6]:port` for IPv6 literals).
fn check_host_port(address: &str) -> Result<(), String> {
    if address.len() > MAX_TEXT_LEN {
        return Err("must be at most 2048 bytes".to_string());
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!("{address:?} must be host:port"));
    };
    if port.parse::<u16>().ok().filter(|port| *port != 0).is_none() {
        return Err(format!("{address:?} has an invalid port {port:?}"));
    }
    check_host(host).map_err(|message| format!("{address:?}: {message}"))
}

fn check_host(host: &str) -> Result<(), String> {
    if let Some(inner) = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
    {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("{host:?} is not an IPv6 address"));
    }
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if valid {
        Ok(())
    } else {
        Err(format!("{host:?} is not a host name or IP address"))
    }
}

/// Parses a Prometheus-style duration: one or more `<integer><unit>` groups with units `ms`,
/// `s`, `m`, `h` (`"500ms"`, `"15s"`, `"1m30s"`).
///
/// # Errors
/// What is wrong, in words.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration such as \"500ms\", \"15s\" or \"1m\"");
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        let amount: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        let part = u32::try_from(amount)
            .ok()
            .and_then(|amount| unit.checked_mul(amount))
            .ok_or_else(invalid)?;
        total = total.checked_add(part).ok_or_else(invalid)?;
    }
    Ok(total)
}

/// Formats a duration as [`parse_duration`] reads it: whole seconds as `"15s"`, else
/// milliseconds (`"1500ms"`).
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

#[cfg(test)]
mod tests;
