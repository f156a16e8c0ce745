//! Rules: the alerting rule as the API writes it ([`RuleDefinition`], JSON) and as it runs
//! ([`AlertingRule`], validated, templates parsed), recording rules, and groups.
//!
//! Validation follows Prometheus' `rulefmt`: the expression must parse, label and annotation
//! names must be valid label names, templates must parse, durations use Prometheus' syntax.
//! Every problem is reported, each naming its field.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sightline_model::TenantId;

use super::duration::{format_prometheus_duration, parse_optional};
use super::quick::QuickRule;
use super::template::{Template, TemplateData};
use crate::promql::engine::parse_query;

/// The group API rules go to when they name none.
pub const DEFAULT_API_GROUP: &str = "default";

/// Longest rule name the API accepts.
const MAX_NAME_LEN: usize = 128;

/// An alerting rule as the rules API reads and writes it (JSON), and as it is stored.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDefinition {
    /// The alert's name (`alertname`); unique among the tenant's API rules, and the rule's id
    /// in the API's paths. Letters, digits, `_`, `-`, `.` and `:`.
    pub name: String,
    /// The group it is evaluated in ([`DEFAULT_API_GROUP`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// How often its group is evaluated (`"30s"`, `"1m"`); the server's
    /// `alerting.evaluation_interval` when absent. Rules of one group share one interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// The PromQL expression; each series it returns is an alert. Exactly one of `expr` and
    /// `quick` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// A quick health rule, turned into PromQL for you.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick: Option<QuickRule>,
    /// How long the expression must hold before the alert fires (pending until then).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_duration: Option<String>,
    /// How long a firing alert keeps firing after the expression stops returning it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<String>,
    /// Labels added to each alert (templates allowed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations of each alert (templates allowed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Whether it is evaluated; a disabled rule keeps its definition and drops its alerts.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// Labels or annotations with their templates parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplatedMap {
    raw: BTreeMap<String, String>,
    parsed: Vec<(String, Template)>,
}

impl TemplatedMap {
    /// Parses every value of `raw`, checking names with `check_name`; problems name
    /// `field.key`.
    pub(crate) fn parse(
        field: &str,
        raw: BTreeMap<String, String>,
        problems: &mut Vec<String>,
    ) -> Self {
        let mut parsed = Vec::with_capacity(raw.len());
        for (name, text) in &raw {
            if !is_label_name(name) {
                problems.push(format!("{field}: {name:?} is not a valid label name"));
                continue;
            }
            match Template::parse(text) {
                Ok(template) => parsed.push((name.clone(), template)),
                Err(error) => problems.push(format!("{field}.{name}: {error}")),
            }
        }
        Self { raw, parsed }
    }

    /// The map as written.
    pub fn raw(&self) -> &BTreeMap<String, String> {
        &self.raw
    }

    /// Renders every value.
    pub fn render(&self, data: &TemplateData<'_>) -> BTreeMap<String, String> {
        self.parsed
            .iter()
            .map(|(name, template)| (name.clone(), template.render(data)))
            .collect()
    }
}

/// A validated alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingRule {
    /// `alertname`.
    pub name: String,
    /// The PromQL expression evaluated.
    pub expr: String,
    /// The quick rule it was made from, if any.
    pub quick: Option<QuickRule>,
    /// The `for` duration.
    pub for_duration: Duration,
    /// The `keep_firing_for` duration.
    pub keep_firing_for: Duration,
    /// Label templates.
    pub labels: TemplatedMap,
    /// Annotation templates.
    pub annotations: TemplatedMap,
}

/// A validated recording rule (rule files only): the expression's result stored as series
/// named `record`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRule {
    /// The metric name written.
    pub record: String,
    /// The PromQL expression evaluated.
    pub expr: String,
    /// Labels set on every written series (no templates, as in Prometheus).
    pub labels: BTreeMap<String, String>,
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// Turns series into alerts.
    Alerting(Box<AlertingRule>),
    /// Stores series.
    Recording(RecordingRule),
}

/// Where a rule was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSource {
    /// A rule file in `alerting.rules_dir`; read-only through the API.
    File,
    /// The rules API; stored in the state database.
    Api,
}

/// A rule ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Stable identity across restarts: `api:{name}` or `file:{file}:{group}:{name}[#n]`;
    /// the key its state and history are stored under.
    pub key: String,
    /// Where it was declared.
    pub source: RuleSource,
    /// What it does.
    pub kind: RuleKind,
    /// Whether it is evaluated.
    pub enabled: bool,
    /// The API definition it came from (API rules only).
    pub definition: Option<RuleDefinition>,
}

impl Rule {
    /// The alert or record name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Alerting(rule) => &rule.name,
            RuleKind::Recording(rule) => &rule.record,
        }
    }

    /// The PromQL expression.
    pub fn expr(&self) -> &str {
        match &self.kind {
            RuleKind::Alerting(rule) => &rule.expr,
            RuleKind::Recording(rule) => &rule.expr,
        }
    }
}

/// Rules evaluated together, one after the other, every `interval`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    /// Its tenant.
    pub tenant: TenantId,
    /// Its name.
    pub name: String,
    /// The rule file it came from (`None` for API groups).
    pub file: Option<String>,
    /// How often it is evaluated.
    pub interval: Duration,
    /// At most this many alerts (or series) per rule; 0 = no limit (Prometheus' `limit`).
    pub limit: usize,
    /// Its rules, in order.
    pub rules: Vec<Rule>,
}

impl RuleGroup {
    /// An empty API group of `tenant`, named and timed as `valid` says.
    pub fn api(tenant: &TenantId, valid: &ValidRule) -> Self {
        Self {
            tenant: tenant.clone(),
            name: valid.group.clone(),
            file: None,
            interval: valid.interval,
            limit: 0,
            rules: Vec::new(),
        }
    }

    /// The group's identity: tenant, file (empty for the API) and name.
    pub fn key(&self) -> (TenantId, String, String) {
        (
            self.tenant.clone(),
            self.file.clone().unwrap_or_default(),
            self.name.clone(),
        )
    }
}

impl RuleDefinition {
    /// The group this rule belongs to.
    pub fn group_name(&self) -> &str {
        self.group.as_deref().unwrap_or(DEFAULT_API_GROUP)
    }

    /// Validates the definition; `default_interval` stands in for a missing `interval`.
    ///
    /// # Errors
    /// One line per problem, each naming its field.
    pub fn validate(&self, default_interval: Duration) -> Result<ValidRule, Vec<String>> {
        let mut problems = Vec::new();
        if let Err(message) = check_rule_name(&self.name) {
            problems.push(format!("name: {message}"));
        }
        if let Some(group) = &self.group {
            if let Err(message) = check_rule_name(group) {
                problems.push(format!("group: {message}"));
            }
        }
        let interval = parse_optional(
            "interval",
            self.interval.as_deref(),
            default_interval,
            &mut problems,
        );
        if interval < Duration::from_secs(1) && self.interval.is_some() {
            problems.push("interval: must be at least 1s".to_string());
        }
        let expr = match (&self.expr, &self.quick) {
            (Some(_), Some(_)) => {
                problems.push("expr: give either expr or quick, not both".to_string());
                None
            }
            (None, None) => {
                problems.push("expr: is required (or a quick rule)".to_string());
                None
            }
            (Some(expr), None) => Some(expr.clone()),
            (None, Some(quick)) => match quick.to_promql() {
                Ok(expr) => Some(expr),
                Err(found) => {
                    problems.extend(found.into_iter().map(|problem| format!("quick.{problem}")));
                    None
                }
            },
        };
        if let Some(expr) = &expr {
            check_expr(expr, &mut problems);
        }
        let mut labels = self.labels.clone();
        let mut annotations = self.annotations.clone();
        if let Some(quick) = &self.quick {
            quick.add_default_labels(&mut labels, &mut annotations);
        }
        let rule = AlertingRule {
            name: self.name.clone(),
            expr: expr.unwrap_or_default(),
            quick: self.quick.clone(),
            for_duration: parse_optional(
                "for",
                self.for_duration.as_deref(),
                Duration::ZERO,
                &mut problems,
            ),
            keep_firing_for: parse_optional(
                "keep_firing_for",
                self.keep_firing_for.as_deref(),
                Duration::ZERO,
                &mut problems,
            ),
            labels: TemplatedMap::parse("labels", labels, &mut problems),
            annotations: TemplatedMap::parse("annotations", annotations, &mut problems),
        };
        if problems.is_empty() {
            Ok(ValidRule {
                rule: Rule {
                    key: api_rule_key(&self.name),
                    source: RuleSource::Api,
                    kind: RuleKind::Alerting(Box::new(rule)),
                    enabled: self.enabled,
                    definition: Some(self.clone()),
                },
                group: self.group_name().to_string(),
                interval,
            })
        } else {
            Err(problems)
        }
    }

    /// The definition of an alerting rule, as the API shows a file rule (without the group's
    /// interval).
    pub fn from_alerting_rule(rule: &AlertingRule, enabled: bool) -> Self {
        let duration =
            |value: Duration| (!value.is_zero()).then(|| format_prometheus_duration(value));
        Self {
            name: rule.name.clone(),
            group: None,
            interval: None,
            expr: rule.quick.is_none().then(|| rule.expr.clone()),
            quick: rule.quick.clone(),
            for_duration: duration(rule.for_duration),
            keep_firing_for: duration(rule.keep_firing_for),
            labels: rule.labels.raw().clone(),
            annotations: rule.annotations.raw().clone(),
            enabled,
        }
    }
}

/// A validated API rule with the group it goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRule {
    /// The rule.
    pub rule: Rule,
    /// Its group's name.
    pub group: String,
    /// Its group's interval.
    pub interval: Duration,
}

/// The key of an API rule.
pub fn api_rule_key(name: &str) -> String {
    format!("api:{name}")
}

/// Checks a rule or group name given through the API.
fn check_rule_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is required".to_string());
    }
    if name.len() > MAX_NAME_LEN
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
    {
        return Err(format!(
            "{name:?} must be 1 to {MAX_NAME_LEN} letters, digits, '_', '-', '.' or ':'"
        ));
    }
    Ok(())
}

/// Checks that `expr` parses as PromQL.
pub(crate) fn check_expr(expr: &str, problems: &mut Vec<String>) {
    if expr.trim().is_empty() {
        problems.push("expr: is required".to_string());
    } else if let Err(error) = parse_query(expr) {
        problems.push(format!("expr: {error}"));
    }
}

/// Whether `name` is a valid Prometheus label name.
pub(crate) fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is a valid Prometheus metric name.
pub(crate) fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(json: &str) -> RuleDefinition {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_valid_definition_becomes_a_rule_in_its_group() {
        let valid = definition(
            r#"{"name": "HighErrors", "group": "checkout", "interval": "15s",
                "expr": "rate(errors_total[5m]) > 1", "for": "2m", "keep_firing_for": "1m",
                "labels": {"severity": "page"},
                "annotations": {"summary": "{{ $labels.job }} errors at {{ $value }}"}}"#,
        )
        .validate(Duration::from_secs(60))
        .unwrap();
        assert_eq!(valid.group, "checkout");
        assert_eq!(valid.interval, Duration::from_secs(15));
        assert_eq!(valid.rule.key, "api:HighErrors");
        let RuleKind::Alerting(rule) = &valid.rule.kind else {
            panic!("an alerting rule")
        };
        assert_eq!(rule.for_duration, Duration::from_secs(120));
        assert_eq!(rule.keep_firing_for, Duration::from_secs(60));
        let labels = BTreeMap::from([("job".to_string(), "api".to_string())]);
        let data = TemplateData {
            labels: &labels,
            value: 2.5,
            external_labels: &BTreeMap::new(),
            external_url: "",
        };
        assert_eq!(
            rule.annotations.render(&data)["summary"],
            "api errors at 2.5"
        );
    }

    #[test]
    fn every_problem_names_its_field() {
        let problems = definition(
            r#"{"name": "bad name", "expr": "rate(x[5m]", "for": "soon",
                "labels": {"0bad": "x", "ok": "{{ $labels.job"}}"#,
        )
        .validate(Duration::from_secs(60))
        .unwrap_err();
        let fields: Vec<&str> = problems
            .iter()
            .map(|problem| problem.split(':').next().unwrap())
            .collect();
        assert_eq!(
            fields,
            ["name", "expr", "for", "labels", "labels.ok"],
            "{problems:?}"
        );
        let neither = definition(r#"{"name": "x"}"#)
            .validate(Duration::from_secs(60))
            .unwrap_err();
        assert_eq!(neither, ["expr: is required (or a quick rule)"]);
        assert!(serde_json::from_str::<RuleDefinition>(r#"{"name": "x", "exp": "1"}"#).is_err());
    }

    #[test]
    fn names_follow_prometheus() {
        assert!(is_label_name("severity"));
        assert!(is_label_name("_x1"));
        assert!(!is_label_name("1x"));
        assert!(!is_label_name("a-b"));
        assert!(is_metric_name("job:errors:rate5m"));
        assert!(!is_metric_name("job-errors"));
    }
}
