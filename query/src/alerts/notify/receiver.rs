//! Receivers as written in the config file and the API ([`ReceiverDefinition`]), validated
//! into [`ReceiverSpec`]s that cannot be wrong.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::search::parse_duration_nanos;

/// How long a request to a receiver may take when its definition gives no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest `timeout` a receiver may have: a worker delivers one notification at a time,
/// so a longer one would only hold its queue back.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// The longest receiver name.
const MAX_NAME_LEN: usize = 128;

/// Headers a receiver may not set: the client writes them from the request itself.
const RESERVED_HEADERS: [&str; 5] = [
    "content-length",
    "content-type",
    "host",
    "transfer-encoding",
    "connection",
];

/// Written instead of a header's value where definitions are shown.
const REDACTED: &str = "<redacted>";

fn default_true() -> bool {
    true
}

/// A receiver as written in the config file (`[[alerting.receivers]]`, TOML) and in the API
/// (JSON).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverDefinition {
    /// Its name, unique per tenant: 1 to 128 characters of `A-Z a-z 0-9 _ . -`.
    pub name: String,
    /// `"webhook"` (Alertmanager's webhook payload to `url`) or `"alertmanager"`
    /// (`POST /api/v2/alerts` to every URL of `urls`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The webhook's URL (`http` or `https`); webhooks only, where it is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Base URLs of Alertmanagers, such as `http://alertmanager:9093` (alerts go to
    /// `{url}/api/v2/alerts`); Alertmanager receivers only, at least one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// How long one request may take, such as `"10s"` or `"500ms"`; default 10s, at most 5m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Whether a webhook is also told of resolved alerts (default true). Alertmanager is
    /// always told, as it needs resolutions to end its notifications.
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// Extra HTTP headers of every request, such as `Authorization`. Their values are never
    /// logged nor shown back by the API.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// One invalid field of a [`ReceiverDefinition`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverProblem {
    /// The field, as written in the definition (`url`, `urls`, `type`, ...).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ReceiverProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Where a receiver's notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverKind {
    /// A generic webhook, sent Alertmanager's webhook payload.
    Webhook {
        /// Where the payload is posted.
        url: Url,
        /// Whether resolved alerts are sent too.
        send_resolved: bool,
    },
    /// One or more Alertmanagers, each sent every alert (`POST /api/v2/alerts`).
    Alertmanager {
        /// Their base URLs, as configured.
        urls: Vec<Url>,
    },
}

impl ReceiverKind {
    /// Returns the kind's name as definitions write it (`webhook`, `alertmanager`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ReceiverKind::Webhook { .. } => "webhook",
            ReceiverKind::Alertmanager { .. } => "alertmanager",
        }
    }
}

/// A validated receiver. Its `Debug` shows header names, never their values.
#[derive(Clone, PartialEq)]
pub struct ReceiverSpec {
    name: String,
    kind: ReceiverKind,
    timeout: Duration,
    /// As written, for [`ReceiverSpec::to_definition`].
    headers: BTreeMap<String, String>,
    /// The same, parsed and marked sensitive, for requests.
    header_map: HeaderMap,
}

impl fmt::Debug for ReceiverSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("timeout", &self.timeout)
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ReceiverDefinition {
    /// Validates the definition into a spec.
    ///
    /// # Errors
    /// One [`ReceiverProblem`] per invalid field: a bad name, an unknown type, a missing or
    /// invalid URL (not `http`/`https`, or given in the field of the other type), no or
    /// duplicate Alertmanager URLs, a bad timeout, `send_resolved = false` on Alertmanager,
    /// or an invalid or reserved header.
    pub fn validate(&self) -> Result<ReceiverSpec, Vec<ReceiverProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, message: String| {
            problems.push(ReceiverProblem { field, message });
        };
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MAX_NAME_LEN
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !name_ok {
            problem(
                "name",
                format!(
                    "{:?} is not a receiver name: use 1 to {MAX_NAME_LEN} characters of A-Z, a-z, 0-9, '_', '.' and '-'",
                    self.name
                ),
            );
        }
        let kind = match self.kind.as_str() {
            "webhook" => self.validate_webhook(&mut problem),
            "alertmanager" => self.validate_alertmanager(&mut problem),
            other => {
                problem(
                    "type",
                    format!("unknown receiver type {other:?}: use \"webhook\" or \"alertmanager\""),
                );
                None
            }
        };
        let timeout = match self.timeout.as_deref().map(parse_timeout) {
            None => DEFAULT_TIMEOUT,
            Some(Ok(timeout)) => timeout,
            Some(Err(message)) => {
                problem("timeout", message);
                DEFAULT_TIMEOUT
            }
        };
        let header_map = validate_headers(&self.headers, &mut problem);
        match kind {
            Some(kind) if problems.is_empty() => Ok(ReceiverSpec {
                name: self.name.clone(),
                kind,
                timeout,
                headers: self.headers.clone(),
                header_map,
            }),
            _ => Err(problems),
        }
    }

    fn validate_webhook(
        &self,
        problem: &mut impl FnMut(&'static str, String),
    ) -> Option<ReceiverKind> {
        if !self.urls.is_empty() {
            problem(
                "urls",
                "only alertmanager receivers take urls; a webhook takes url".to_string(),
            );
        }
        let Some(text) = &self.url else {
            problem("url", "a webhook receiver needs a url".to_string());
            return None;
        };
        match parse_http_url(text) {
            Ok(url) => Some(ReceiverKind::Webhook {
                url,
                send_resolved: self.send_resolved,
            }),
            Err(message) => {
                problem("url", message);
                None
            }
        }
    }

    fn validate_alertmanager(
        &self,
        problem: &mut impl FnMut(&'static str, String),
    ) -> Option<ReceiverKind> {
        if self.url.is_some() {
            problem(
                "url",
                "alertmanager receivers take urls (a list of base URLs), not url".to_string(),
            );
        }
        if !self.send_resolved {
            problem(
                "send_resolved",
                "only webhook receivers take it: Alertmanager is always told of resolutions"
                    .to_string(),
            );
        }
        if self.urls.is_empty() {
            problem(
                "urls",
                "an alertmanager receiver needs at least one URL, such as \"http://alertmanager:9093\""
                    .to_string(),
            );
            return None;
        }
        let mut urls: Vec<Url> = Vec::with_capacity(self.urls.len());
        let mut valid = true;
        for text in &self.urls {
            match parse_http_url(text) {
                Ok(url)
                    if urls
                        .iter()
                        .any(|other| alerts_url(other) == alerts_url(&url)) =>
                {
                    problem("urls", format!("{text:?} is listed twice"));
                    valid = false;
                }
                Ok(url) => urls.push(url),
                Err(message) => {
                    problem("urls", message);
                    valid = false;
                }
            }
        }
        valid.then_some(ReceiverKind::Alertmanager { urls })
    }
}

impl ReceiverSpec {
    /// Returns the receiver's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns where its notifications go.
    pub fn kind(&self) -> &ReceiverKind {
        &self.kind
    }

    /// Returns how long one request may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Returns the names of its extra headers (their values are secret).
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.keys().map(String::as_str)
    }

    /// The extra headers of every request, values marked sensitive.
    pub(super) fn header_map(&self) -> &HeaderMap {
        &self.header_map
    }

    /// Returns the definition this spec validates from, header values included: for storing
    /// it. Show [`ReceiverSpec::to_redacted_definition`] instead.
    pub fn to_definition(&self) -> ReceiverDefinition {
        let (url, urls, send_resolved) = match &self.kind {
            ReceiverKind::Webhook { url, send_resolved } => {
                (Some(url.to_string()), Vec::new(), *send_resolved)
            }
            ReceiverKind::Alertmanager { urls } => {
                (None, urls.iter().map(Url::to_string).collect(), true)
            }
        };
        ReceiverDefinition {
            name: self.name.clone(),
            kind: self.kind.as_str().to_string(),
            url,
            urls,
            timeout: Some(format_timeout(self.timeout)),
            send_resolved,
            headers: self.headers.clone(),
        }
    }

    /// Returns the definition with every header value replaced by `"<redacted>"`: for the API
    /// and logs.
    pub fn to_redacted_definition(&self) -> ReceiverDefinition {
        let mut definition = self.to_definition();
        for value in definition.headers.values_mut() {
            *value = REDACTED.to_string();
        }
        definition
    }
}

/// Returns the URL Alertmanager takes alerts at: `{base}/api/v2/alerts`, whether or not the
/// base ends with `/`.
pub(super) fn alerts_url(base: &Url) -> Url {
    let mut url = base.clone();
    let path = format!("{}/api/v2/alerts", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

/// Returns a URL's text without its userinfo (the password of `http://user:pass@host`).
pub(super) fn url_without_userinfo(url: &Url) -> String {
    let mut shown = url.clone();
    // Both fail only for URLs that cannot have userinfo, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

fn parse_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|error| format!("{text:?} is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{text:?} has scheme {:?}: use http or https",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    Ok(url)
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let nanos = parse_duration_nanos(text)?;
    let timeout = Duration::from_nanos(nanos);
    if timeout < Duration::from_millis(1) || timeout > MAX_TIMEOUT {
        return Err(format!("{text:?} is out of range: use 1ms to 5m"));
    }
    Ok(timeout)
}

/// Writes a timeout as whole seconds or milliseconds (`"10s"`, `"1500ms"`).
fn format_timeout(timeout: Duration) -> String {
    let millis = timeout.as_millis();
    if millis.is_multiple_of(1_000) {
        format!("{}s", millis / 1_000)
    } else {
        format!("{millis}ms")
    }
}

fn validate_headers(
    headers: &BTreeMap<String, String>,
    problem: &mut impl FnMut(&'static str, String),
) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let Ok(header_name) = HeaderName::from_bytes(name.as_bytes()) else {
            problem("headers", format!("{name:?} is not a valid header name"));
            continue;
        };
        if map.contains_key(&header_name) {
            problem("headers", format!("{name:?} is listed twice"));
            continue;
        }
        if RESERVED_HEADERS.contains(&header_name.as_str()) {
            problem("headers", format!("{name:?} is set by Sightline itself"));
            continue;
        }
        // The value is secret: say which header, never what it holds.
        let Ok(mut header_value) = HeaderValue::from_str(value) else {
            problem(
                "headers",
                format!("the value of {name:?} has characters a header cannot hold"),
            );
            continue;
        };
        header_value.set_sensitive(true);
        map.insert(header_name, header_value);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(url: &str) -> ReceiverDefinition {
        ReceiverDefinition {
            name: "team-a.hook_1".to_string(),
            kind: "webhook".to_string(),
            url: Some(url.to_string()),
            urls: Vec::new(),
            timeout: None,
            send_resolved: true,
            headers: BTreeMap::new(),
        }
    }

    fn fields(definition: &ReceiverDefinition) -> Vec<&'static str> {
        definition
            .validate()
            .unwrap_err()
            .iter()
            .map(|problem| problem.field)
            .collect()
    }

    #[test]
    fn valid_definitions_round_trip_through_specs() {
        let mut definition = webhook("https://hooks.example.com/x?token=1");
        definition.timeout = Some("1500ms".to_string());
        definition.send_resolved = false;
        definition.headers =
            BTreeMap::from([("Authorization".to_string(), "Bearer s3cr3t".to_string())]);
        let spec = definition.validate().unwrap();
        assert_eq!(spec.timeout(), Duration::from_millis(1500));
        assert_eq!(spec.to_definition().validate().unwrap(), spec);
        assert_eq!(
            spec.to_definition().headers["Authorization"],
            "Bearer s3cr3t"
        );
        assert_eq!(
            spec.to_redacted_definition().headers["Authorization"],
            REDACTED
        );
        assert!(!format!("{spec:?}").contains("s3cr3t"));
        assert_eq!(spec.header_names().collect::<Vec<_>>(), ["Authorization"]);

        let am = ReceiverDefinition {
            kind: "alertmanager".to_string(),
            url: None,
            urls: vec![
                "http://am-1:9093".to_string(),
                "http://am-2:9093/prefix/".to_string(),
            ],
            ..webhook("")
        };
        let spec = am.validate().unwrap();
        assert_eq!(spec.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(spec.to_definition().validate().unwrap(), spec);
        let ReceiverKind::Alertmanager { urls } = spec.kind() else {
            panic!("not alertmanager: {spec:?}");
        };
        let posted: Vec<String> = urls.iter().map(|url| alerts_url(url).to_string()).collect();
        assert_eq!(
            posted,
            [
                "http://am-1:9093/api/v2/alerts",
                "http://am-2:9093/prefix/api/v2/alerts"
            ]
        );
    }

    #[test]
    fn problems_name_their_fields() {
        let mut missing_url = webhook("");
        missing_url.url = None;
        assert_eq!(fields(&missing_url), ["url"]);
        assert_eq!(fields(&webhook("ftp://example.com/x")), ["url"]);
        assert_eq!(fields(&webhook("not a url")), ["url"]);
        let no_urls = ReceiverDefinition {
            kind: "alertmanager".to_string(),
            url: None,
            ..webhook("")
        };
        assert_eq!(fields(&no_urls), ["urls"]);
        let twice = ReceiverDefinition {
            urls: vec!["http://am:9093".to_string(), "http://am:9093/".to_string()],
            ..no_urls.clone()
        };
        assert_eq!(fields(&twice), ["urls"]);
        let unknown = ReceiverDefinition {
            kind: "pagerduty".to_string(),
            ..webhook("http://x")
        };
        assert_eq!(fields(&unknown), ["type"]);
        for timeout in ["soon", "0s", "1h"] {
            let bad_timeout = ReceiverDefinition {
                timeout: Some(timeout.to_string()),
                ..webhook("http://x")
            };
            assert_eq!(fields(&bad_timeout), ["timeout"], "{timeout}");
        }
        for name in ["", "has space", "slash/y", &"x".repeat(129)] {
            let bad_name = ReceiverDefinition {
                name: name.to_string(),
                ..webhook("http://x")
            };
            assert_eq!(fields(&bad_name), ["name"], "{name}");
        }
        let bad_headers = ReceiverDefinition {
            headers: BTreeMap::from([
                ("Content-Type".to_string(), "text/plain".to_string()),
                ("bad header".to_string(), "x".to_string()),
                ("X-Token".to_string(), "line\nbreak".to_string()),
                ("x-a".to_string(), "1".to_string()),
                ("X-A".to_string(), "2".to_string()),
            ]),
            ..webhook("http://x")
        };
        let problems = bad_headers.validate().unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().all(|problem| problem.field == "headers"));
        assert!(!problems
            .iter()
            .any(|problem| problem.message.contains("break")));
        let mixed = ReceiverDefinition {
            kind: "alertmanager".to_string(),
            send_resolved: false,
            ..webhook("http://x")
        };
        assert_eq!(fields(&mixed), ["url", "send_resolved", "urls"]);
        assert_eq!(
            missing_url.validate().unwrap_err()[0].to_string(),
            "url: a webhook receiver needs a url"
        );
    }

    #[test]
    fn urls_are_shown_without_userinfo() {
        let url = Url::parse("http://user:pass@am:9093/").unwrap();
        assert_eq!(url_without_userinfo(&url), "http://am:9093/");
    }
}
