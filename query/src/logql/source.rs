//! What the LogQL engine reads: the [`LogSource`] trait a log store implements, the request
//! and entry types it speaks, the one mapping from a stored [`LogRow`] to Loki's view of it
//! ([`stream_labels`], [`line`], [`structured_metadata`]), and [`InMemoryLogs`], the simple
//! implementation the unit tests use.
//!
//! # How a record looks to LogQL
//! - **Stream labels** (what `{...}` selects on), from [`stream_labels`]:
//!   - `service_name`: the resource's `service.name` (`unknown_service` when missing);
//!   - the promoted resource attributes of [`PROMOTED_RESOURCE_ATTRIBUTES`] that the record's
//!     resource has, named by [`sanitize_label_name`] (`k8s.pod.name` → `k8s_pod_name`);
//!   - `severity_text`: the record's severity text in lowercase, or, when it has none, the
//!     level its severity number stands for (`trace`, `debug`, `info`, `warn`, `error`,
//!     `fatal`); absent when it has neither;
//!   - `detected_level` and `level`: the same value, or `unknown` when there is none, since
//!     Grafana's log-volume queries and level colouring read these names.
//! - **Line**: the body as text, [`line`]: a string body as is, other bodies as JSON
//!   ([`AnyValue::to_text`]).
//! - **Structured metadata** (Loki 3's per-line labels), [`structured_metadata`]:
//!   `trace_id`, `span_id` (lowercase hex) and the record's attributes with sanitised names.
//!
//! # Contract for implementations
//! Every method is synchronous and may block (a tantivy search does): the engine calls them
//! on a blocking thread (`tokio::task::spawn_blocking`), never on the reactor. The trait is
//! object safe, so the HTTP router holds an `Arc<dyn LogSource>`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::ControlFlow;
use std::sync::RwLock;

use regex::Regex;
use sightline_model::{AnyValue, Labels, LogRow, TenantId};

use super::Error;

/// Resource attributes that become stream labels, with their label names, as Loki 3's OTLP
/// ingestion promotes them by default (plus `host.name`). `service.name` is always present;
/// the others only when the resource has them.
pub const PROMOTED_RESOURCE_ATTRIBUTES: &[(&str, &str)] = &[
    ("service.name", "service_name"),
    ("service.namespace", "service_namespace"),
    ("service.instance.id", "service_instance_id"),
    ("deployment.environment", "deployment_environment"),
    ("deployment.environment.name", "deployment_environment_name"),
    ("cloud.region", "cloud_region"),
    ("cloud.availability_zone", "cloud_availability_zone"),
    ("k8s.cluster.name", "k8s_cluster_name"),
    ("k8s.namespace.name", "k8s_namespace_name"),
    ("k8s.pod.name", "k8s_pod_name"),
    ("k8s.container.name", "k8s_container_name"),
    ("container.name", "container_name"),
    ("k8s.replicaset.name", "k8s_replicaset_name"),
    ("k8s.deployment.name", "k8s_deployment_name"),
    ("k8s.statefulset.name", "k8s_statefulset_name"),
    ("k8s.daemonset.name", "k8s_daemonset_name"),
    ("k8s.cronjob.name", "k8s_cronjob_name"),
    ("k8s.job.name", "k8s_job_name"),
    ("host.name", "host_name"),
];

/// The stream label holding the record's severity (lowercase).
pub const SEVERITY_LABEL: &str = "severity_text";
/// The stream label Grafana reads the level from (Loki 3's name).
pub const DETECTED_LEVEL_LABEL: &str = "detected_level";
/// The older name of the level label, read by Grafana's log-volume queries before Loki 3.
pub const LEVEL_LABEL: &str = "level";
/// The level of a record with neither severity text nor number.
pub const UNKNOWN_LEVEL: &str = "unknown";

/// Builds the stream labels of a stored record (see the module doc for the mapping).
pub fn stream_labels(row: &LogRow) -> Labels {
    let mut pairs: Vec<(&str, String)> = Vec::with_capacity(8);
    pairs.push(("service_name", row.service_name().to_string()));
    for (key, label) in &PROMOTED_RESOURCE_ATTRIBUTES[1..] {
        if let Some(value) = sightline_model::attr::find(&row.resource.attributes, key) {
            pairs.push((*label, value.to_text()));
        }
    }
    let severity = severity_level(&row.record.severity_text, row.record.severity_number);
    if let Some(severity) = &severity {
        pairs.push((SEVERITY_LABEL, severity.clone()));
    }
    let level = severity.unwrap_or_else(|| UNKNOWN_LEVEL.to_string());
    pairs.push((DETECTED_LEVEL_LABEL, level.clone()));
    pairs.push((LEVEL_LABEL, level));
    Labels::new(pairs)
}

/// Returns the record's line: the body as text (JSON for non-string bodies), empty when it
/// has no body.
pub fn line(row: &LogRow) -> String {
    row.record
        .body
        .as_ref()
        .map(AnyValue::to_text)
        .unwrap_or_default()
}

/// Builds the structured metadata of a stored record: `trace_id`, `span_id` and the log
/// attributes with sanitised names (values as text).
pub fn structured_metadata(row: &LogRow) -> Labels {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(row.record.attributes.len() + 2);
    for attribute in &row.record.attributes {
        pairs.push((
            sanitize_label_name(&attribute.key),
            attribute.value.to_text(),
        ));
    }
    if let Some(trace_id) = row.record.trace_id {
        pairs.push(("trace_id".to_string(), trace_id.to_string()));
    }
    if let Some(span_id) = row.record.span_id {
        pairs.push(("span_id".to_string(), span_id.to_string()));
    }
    Labels::new(pairs)
}

/// Turns an attribute key or parsed field name into a label name as Loki does: every
/// character other than an ASCII letter, digit or `_` becomes `_`, and a leading digit gets
/// a `_` in front.
pub fn sanitize_label_name(key: &str) -> String {
    let mut name = String::with_capacity(key.len() + 1);
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        name.push('_');
    }
    name.extend(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    name
}

/// Maps severity text (or, without text, OTLP's severity number) to a lowercase level.
fn severity_level(text: &str, number: i32) -> Option<String> {
    let text = text.trim();
    if !text.is_empty() {
        return Some(text.to_lowercase());
    }
    let level = match number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => return None,
    };
    Some(level.to_string())
}

/// How a stream matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`: equal.
    Equal,
    /// `!=`: not equal.
    NotEqual,
    /// `=~`: the whole value matches the regular expression.
    Regex,
    /// `!~`: the whole value does not match the regular expression.
    NotRegex,
}

impl MatchOp {
    /// Returns the operator as LogQL writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One stream matcher, `name op "value"`. A missing label matches as the empty string, as in
/// Loki and Prometheus.
#[derive(Debug, Clone)]
pub struct LabelMatcher {
    /// The label name.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or regular expression as written.
    pub value: String,
    /// The compiled, fully anchored expression for `=~` and `!~`.
    regex: Option<Regex>,
}

impl LabelMatcher {
    /// Builds a matcher, compiling the regular expression of `=~`/`!~` anchored at both ends.
    ///
    /// # Errors
    /// [`Error::InvalidRegex`] when the value of a regex matcher does not compile.
    pub fn new(
        name: impl Into<String>,
        op: MatchOp,
        value: impl Into<String>,
    ) -> Result<Self, Error> {
        let value = value.into();
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(compile_anchored(&value)?),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self {
            name: name.into(),
            op,
            value,
            regex,
        })
    }

    /// Says whether a label value (`""` when the label is missing) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(regex)) => regex.is_match(value),
            (MatchOp::NotRegex, Some(regex)) => !regex.is_match(value),
            // `new` compiles a regex for both regex operators.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Says whether a label set satisfies the matcher.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }
}

impl PartialEq for LabelMatcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl fmt::Display for LabelMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

/// Compiles a regular expression that must match a whole value, as Loki's matchers do.
///
/// # Errors
/// [`Error::InvalidRegex`] when it does not compile.
pub fn compile_anchored(pattern: &str) -> Result<Regex, Error> {
    Regex::new(&format!("^(?s:{pattern})$")).map_err(|error| Error::InvalidRegex {
        pattern: pattern.to_string(),
        reason: error.to_string(),
    })
}

/// Says whether a label set satisfies every matcher.
pub fn labels_match(labels: &Labels, matchers: &[LabelMatcher]) -> bool {
    matchers
        .iter()
        .all(|matcher| matcher.matches_labels(labels))
}

/// The order entries come back in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Oldest first.
    Forward,
    /// Newest first (Loki's default).
    #[default]
    Backward,
}

/// What the engine asks a [`LogSource`] for. The tenant is passed beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRequest {
    /// Stream matchers; an entry is selected when its stream labels satisfy all of them.
    /// Never empty when it comes from a query (LogQL requires one matcher).
    pub matchers: Vec<LabelMatcher>,
    /// Start of the time range, unix nanoseconds, inclusive.
    pub start_unix_nano: u64,
    /// End of the time range, unix nanoseconds, exclusive.
    pub end_unix_nano: u64,
    /// The order to visit entries in, by timestamp.
    pub direction: Direction,
    /// Substrings every selected line must contain (case-sensitive), pushed down from `|=`
    /// filters so a full-text index can pre-filter. A source may return lines that lack them
    /// (the engine checks every filter again), but must not skip a line that has them all.
    pub required_substrings: Vec<String>,
    /// How many entries the engine will probably take: it stops early through the visitor's
    /// [`ControlFlow::Break`] and may need more than this when later filters reject entries,
    /// so a source must keep visiting until told to stop. `None` for metric queries, which
    /// read the whole range.
    pub limit_hint: Option<usize>,
}

/// One log entry as LogQL sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The record's effective time ([`sightline_model::LogRecord::effective_time_unix_nano`]).
    pub timestamp_unix_nano: u64,
    /// Its stream labels ([`stream_labels`]).
    pub labels: Labels,
    /// Its line ([`line`]).
    pub line: String,
    /// Its structured metadata ([`structured_metadata`]).
    pub metadata: Labels,
}

impl LogEntry {
    /// Builds the entry of a stored record with the crate's one mapping; a store's
    /// [`LogSource`] implementation should use this (or the same three functions).
    pub fn from_row(row: &LogRow) -> Self {
        Self {
            timestamp_unix_nano: row.record.effective_time_unix_nano(),
            labels: stream_labels(row),
            line: line(row),
            metadata: structured_metadata(row),
        }
    }
}

/// Counts for Loki's `index/stats` (Grafana shows them as the query's size estimate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Streams in the range.
    pub streams: u64,
    /// Storage chunks (or index segments) touched; 0 when the source does not know.
    pub chunks: u64,
    /// Entries in the range; 0 when the source does not know.
    pub entries: u64,
    /// Line bytes in the range; 0 when the source does not know.
    pub bytes: u64,
}

/// A log store the LogQL engine and the Loki API read from. See the module doc for the
/// contract (synchronous, called off the reactor, object safe).
pub trait LogSource: Send + Sync {
    /// Visits the tenant's entries that satisfy `request` (matchers, time range, and perhaps
    /// the required substrings) in `request.direction` order by timestamp, across all
    /// streams; entries with equal timestamps may come in any order. Stops when `visit`
    /// returns [`ControlFlow::Break`].
    ///
    /// # Errors
    /// Whatever the store fails with ([`Error::Store`], or [`Error::Source`]).
    fn select(
        &self,
        tenant: &TenantId,
        request: &LogRequest,
        visit: &mut dyn FnMut(LogEntry) -> ControlFlow<()>,
    ) -> Result<(), Error>;

    /// Returns the distinct stream label sets of the tenant's entries in
    /// `start_unix_nano..end_unix_nano` whose labels satisfy all `matchers` (all streams when
    /// `matchers` is empty), in any order.
    ///
    /// # Errors
    /// Whatever the store fails with.
    fn series(
        &self,
        tenant: &TenantId,
        matchers: &[LabelMatcher],
        start_unix_nano: u64,
        end_unix_nano: u64,
    ) -> Result<Vec<Labels>, Error>;

    /// Returns the sorted, distinct stream label names in the range (of streams matching
    /// `matchers`). The default derives them from [`LogSource::series`].
    ///
    /// # Errors
    /// Whatever the store fails with.
    fn label_names(
        &self,
        tenant: &TenantId,
        matchers: &[LabelMatcher],
        start_unix_nano: u64,
        end_unix_nano: u64,
    ) -> Result<Vec<String>, Error> {
        let names: BTreeSet<String> = self
            .series(tenant, matchers, start_unix_nano, end_unix_nano)?
            .iter()
            .flat_map(|labels| labels.iter().map(|(name, _)| name.to_string()))
            .collect();
        Ok(names.into_iter().collect())
    }

    /// Returns the sorted, distinct values of stream label `name` in the range (of streams
    /// matching `matchers`). The default derives them from [`LogSource::series`].
    ///
    /// # Errors
    /// Whatever the store fails with.
    fn label_values(
        &self,
        tenant: &TenantId,
        name: &str,
        matchers: &[LabelMatcher],
        start_unix_nano: u64,
        end_unix_nano: u64,
    ) -> Result<Vec<String>, Error> {
        let values: BTreeSet<String> = self
            .series(tenant, matchers, start_unix_nano, end_unix_nano)?
            .iter()
            .filter_map(|labels| labels.get(name).map(str::to_string))
            .collect();
        Ok(values.into_iter().collect())
    }

    /// Returns size figures for the streams matching `matchers` in the range. The default
    /// counts streams through [`LogSource::series`] and reports 0 entries and bytes, which
    /// Grafana shows as an unknown size; a store that keeps counts should say them.
    ///
    /// # Errors
    /// Whatever the store fails with.
    fn stats(
        &self,
        tenant: &TenantId,
        matchers: &[LabelMatcher],
        start_unix_nano: u64,
        end_unix_nano: u64,
    ) -> Result<LogStats, Error> {
        let streams = self
            .series(tenant, matchers, start_unix_nano, end_unix_nano)?
            .len();
        Ok(LogStats {
            streams: u64::try_from(streams).unwrap_or(u64::MAX),
            ..LogStats::default()
        })
    }
}

/// Entries held in memory per tenant, for tests.
#[derive(Debug, Default)]
pub struct InMemoryLogs {
    /// Entries per tenant, sorted by timestamp (insertion order among equal timestamps).
    /// A `std` lock: it is never held across an await.
    tenants: RwLock<BTreeMap<TenantId, Vec<LogEntry>>>,
}

impl InMemoryLogs {
    /// Creates an empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry for `tenant`.
    pub fn push(&self, tenant: &TenantId, entry: LogEntry) {
        let mut tenants = self
            .tenants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entries = tenants.entry(tenant.clone()).or_default();
        let at = entries.partition_point(|e| e.timestamp_unix_nano <= entry.timestamp_unix_nano);
        entries.insert(at, entry);
    }

    /// Adds stored records for `tenant`, mapped with [`LogEntry::from_row`].
    pub fn push_rows(&self, tenant: &TenantId, rows: &[LogRow]) {
        for row in rows {
            self.push(tenant, LogEntry::from_row(row));
        }
    }

    /// Adds an entry built from its parts for `tenant`.
    pub fn push_line(
        &self,
        tenant: &TenantId,
        timestamp_unix_nano: u64,
        labels: Labels,
        line: impl Into<String>,
    ) {
        self.push(
            tenant,
            LogEntry {
                timestamp_unix_nano,
                labels,
                line: line.into(),
                metadata: Labels::default(),
            },
        );
    }

    /// Runs `read` over the tenant's entries in `start..end` whose labels match.
    fn with_entries<T>(
        &self,
        tenant: &TenantId,
        matchers: &[LabelMatcher],
        start_unix_nano: u64,
        end_unix_nano: u64,
        read: impl FnOnce(&mut dyn Iterator<Item = &LogEntry>) -> T,
    ) -> T {
        let tenants = self
            .tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entries = tenants.get(tenant).map(Vec::as_slice).unwrap_or_default();
        let from = entries.partition_point(|e| e.timestamp_unix_nano < start_unix_nano);
        let to = entries.partition_point(|e| e.timestamp_unix_nano < end_unix_nano);
        let window = entries.get(from..to.max(from)).unwrap_or_default();
        let mut selected = window
            .iter()
            .filter(|entry| labels_match(&entry.labels, matchers));
        read(&mut selected)
    }
}

impl LogSource for InMemoryLogs {
    fn select(
        &self,
        tenant: &TenantId,
        request: &LogRequest,
        visit: &mut dyn FnMut(LogEntry) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let selected: Vec<LogEntry> = self.with_entries(
            tenant,
            &request.matchers,
            request.start_unix_nano,
            request.end_unix_nano,
            |entries| {
                entries
                    .filter(|entry| {
                        request
                            .required_substrings
                            .iter()
                            .all(|needle| entry.line.contains(needle.as_str()))
                    })
                    .cloned()
                    .collect()
            },
        );
        let ordered: Box<dyn Iterator<Item = LogEntry>> = match request.direction {
            Direction::Forward => Box::new(selected.into_iter()),
            Direction::Backward => Box::new(selected.into_iter().rev()),
        };
        for entry in ordered {
            if visit(entry).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn series(
        &self,
        tenant: &TenantId,
        matchers: &[LabelMatcher],
        start_unix_nano: u64,
        end_unix_nano: u64,
    ) -> Result<Vec<Labels>, Error> {
        let series: BTreeSet<Labels> = self.with_entries(
            tenant,
            matchers,
            start_unix_nano,
            end_unix_nano,
            |entries| entries.map(|entry| entry.labels.clone()).collect(),
        );
        Ok(series.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sightline_model::{KeyValue, LogRecord, Resource, Scope, SpanId, TraceId};

    use super::*;

    fn row(severity_text: &str, severity_number: i32, body: AnyValue) -> LogRow {
        LogRow {
            record: LogRecord {
                time_unix_nano: 42,
                severity_text: severity_text.into(),
                severity_number,
                body: Some(body),
                attributes: vec![KeyValue::new("http.status", AnyValue::Int(500))],
                trace_id: Some(TraceId([1; 16])),
                span_id: Some(SpanId([2; 8])),
                ..LogRecord::default()
            },
            resource: Arc::new(Resource {
                attributes: vec![
                    KeyValue::new("service.name", AnyValue::String("checkout".into())),
                    KeyValue::new("k8s.pod.name", AnyValue::String("checkout-7f".into())),
                    KeyValue::new("process.pid", AnyValue::Int(7)),
                ],
                ..Resource::default()
            }),
            scope: Arc::new(Scope::default()),
        }
    }

    #[test]
    fn rows_map_to_streams_lines_and_metadata() {
        let entry = LogEntry::from_row(&row("ERROR", 17, AnyValue::String("boom".into())));
        assert_eq!(
            entry.labels.to_string(),
            r#"{detected_level="error", k8s_pod_name="checkout-7f", level="error", service_name="checkout", severity_text="error"}"#
        );
        assert_eq!(entry.line, "boom");
        assert_eq!(entry.timestamp_unix_nano, 42);
        assert_eq!(entry.metadata.get("http_status"), Some("500"));
        assert_eq!(
            entry.metadata.get("trace_id"),
            Some("01010101010101010101010101010101")
        );
        assert_eq!(entry.metadata.get("span_id"), Some("0202020202020202"));

        let by_number = stream_labels(&row("", 13, AnyValue::Empty));
        assert_eq!(by_number.get(SEVERITY_LABEL), Some("warn"));
        let unknown = stream_labels(&row("", 0, AnyValue::Empty));
        assert_eq!(unknown.get(SEVERITY_LABEL), None);
        assert_eq!(unknown.get(DETECTED_LEVEL_LABEL), Some(UNKNOWN_LEVEL));

        let structured = row(
            "info",
            9,
            AnyValue::KvList(vec![KeyValue::new("a", AnyValue::Int(1))]),
        );
        assert_eq!(line(&structured), r#"{"a":1}"#);
    }

    #[test]
    fn label_names_are_sanitised() {
        assert_eq!(sanitize_label_name("k8s.pod.name"), "k8s_pod_name");
        assert_eq!(sanitize_label_name("1st-try"), "_1st_try");
        assert_eq!(sanitize_label_name("ok_name"), "ok_name");
    }

    #[test]
    fn matchers_compare_whole_values() {
        let regex = LabelMatcher::new("service_name", MatchOp::Regex, "check.*").unwrap();
        assert!(regex.matches("checkout"));
        assert!(!regex.matches("xcheckout"));
        let not_equal = LabelMatcher::new("env", MatchOp::NotEqual, "prod").unwrap();
        assert!(not_equal.matches(""));
        assert!(matches!(
            LabelMatcher::new("a", MatchOp::Regex, "("),
            Err(Error::InvalidRegex { .. })
        ));
        assert_eq!(regex.to_string(), r#"service_name=~"check.*""#);
    }

    #[test]
    fn in_memory_source_selects_in_order_and_stops() {
        let logs = InMemoryLogs::new();
        let tenant = TenantId::default_tenant();
        let api = Labels::new([("service_name", "api")]);
        let db = Labels::new([("service_name", "db")]);
        for t in [30, 10, 20] {
            logs.push_line(&tenant, t, api.clone(), format!("api line {t}"));
        }
        logs.push_line(&tenant, 15, db.clone(), "db line");
        let request = LogRequest {
            matchers: vec![LabelMatcher::new("service_name", MatchOp::Equal, "api").unwrap()],
            start_unix_nano: 10,
            end_unix_nano: 30,
            direction: Direction::Backward,
            required_substrings: vec!["line".into()],
            limit_hint: None,
        };
        let mut seen = Vec::new();
        logs.select(&tenant, &request, &mut |entry| {
            seen.push(entry.timestamp_unix_nano);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen, [20, 10]);
        let mut first = Vec::new();
        let forward = LogRequest {
            direction: Direction::Forward,
            end_unix_nano: 100,
            ..request
        };
        logs.select(&tenant, &forward, &mut |entry| {
            first.push(entry.timestamp_unix_nano);
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(first, [10]);
        assert_eq!(logs.series(&tenant, &[], 0, 100).unwrap(), [api, db]);
        assert_eq!(
            logs.label_values(&tenant, "service_name", &[], 0, 100)
                .unwrap(),
            ["api", "db"]
        );
        assert_eq!(
            logs.label_names(&tenant, &[], 0, 100).unwrap(),
            ["service_name"]
        );
        assert_eq!(logs.stats(&tenant, &[], 0, 100).unwrap().streams, 2);
        assert!(logs
            .series(&TenantId::new("other").unwrap(), &[], 0, 100)
            .unwrap()
            .is_empty());
    }
}
