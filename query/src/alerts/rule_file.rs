//! Prometheus rule files: every `*.yml` and `*.yaml` file of `alerting.rules_dir`, in the
//! format `promtool check rules` accepts (`groups:` of `name`, `interval`, `limit`, `labels`,
//! and `rules:` of `alert`/`record`, `expr`, `for`, `keep_firing_for`, `labels`,
//! `annotations`). Problems name the file, the group and the rule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sightline_model::TenantId;

use super::duration::parse_optional;
use super::rule::{
    check_expr, is_label_name, is_metric_name, AlertingRule, RecordingRule, Rule, RuleGroup,
    RuleKind, RuleSource, TemplatedMap,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    groups: Vec<FileGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    name: String,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    query_offset: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    rules: Vec<FileRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    expr: Option<serde_yaml_ng::Value>,
    #[serde(default, rename = "for")]
    for_duration: Option<String>,
    #[serde(default)]
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Reads every rule file of `dir` (sorted by name) into groups of the default tenant.
///
/// # Errors
/// One line per problem, each naming the file, and the group and rule where it lies.
pub fn load_rules_dir(
    dir: &Path,
    default_interval: Duration,
) -> Result<Vec<RuleGroup>, Vec<String>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| vec![format!("alerting.rules_dir {}: {error}", dir.display())])?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .is_some_and(|extension| extension == "yml" || extension == "yaml")
        })
        .collect();
    files.sort();
    let mut groups = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        match std::fs::read_to_string(&path) {
            Err(error) => problems.push(format!("{}: {error}", path.display())),
            Ok(text) => match parse_rule_file(&path.display().to_string(), &text, default_interval)
            {
                Ok(found) => groups.extend(found),
                Err(found) => problems.extend(found),
            },
        }
    }
    if problems.is_empty() {
        Ok(groups)
    } else {
        Err(problems)
    }
}

/// Parses one rule file's text; `file` names it in keys and problems.
///
/// # Errors
/// One line per problem: `{file}: group "g": rule 2 (alert "X"): expr: …`.
pub fn parse_rule_file(
    file: &str,
    text: &str,
    default_interval: Duration,
) -> Result<Vec<RuleGroup>, Vec<String>> {
    let parsed: RuleFile =
        serde_yaml_ng::from_str(text).map_err(|error| vec![format!("{file}: {error}")])?;
    let mut problems = Vec::new();
    let mut groups: Vec<RuleGroup> = Vec::new();
    let file_name = Path::new(file).file_name().map_or_else(
        || file.to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    for group in parsed.groups {
        let mut found = Vec::new();
        let context = format!("{file}: group {:?}", group.name);
        if group.name.trim().is_empty() {
            problems.push(format!("{file}: a group has no name"));
        }
        if groups.iter().any(|other| other.name == group.name) {
            problems.push(format!(
                "{context}: another group of the file has this name"
            ));
        }
        let interval = parse_optional(
            "interval",
            group.interval.as_deref(),
            default_interval,
            &mut found,
        );
        if interval.is_zero() {
            found.push("interval: must be above 0".to_string());
        }
        if group.query_offset.is_some() {
            found.push("query_offset: is not supported".to_string());
        }
        for name in group.labels.keys() {
            if !is_label_name(name) {
                found.push(format!("labels: {name:?} is not a valid label name"));
            }
        }
        problems.extend(
            found
                .drain(..)
                .map(|problem| format!("{context}: {problem}")),
        );
        let mut rules: Vec<Rule> = Vec::with_capacity(group.rules.len());
        for (index, rule) in group.rules.into_iter().enumerate() {
            let what = match (&rule.alert, &rule.record) {
                (Some(alert), _) => format!("alert {alert:?}"),
                (None, Some(record)) => format!("record {record:?}"),
                (None, None) => "no name".to_string(),
            };
            let context = format!("{context}: rule {} ({what})", index + 1);
            match file_rule(rule, &group.labels) {
                Err(found) => problems.extend(
                    found
                        .into_iter()
                        .map(|problem| format!("{context}: {problem}")),
                ),
                Ok(kind) => {
                    let mut key = format!(
                        "file:{file_name}:{}:{}",
                        group.name,
                        match &kind {
                            RuleKind::Alerting(rule) => &rule.name,
                            RuleKind::Recording(rule) => &rule.record,
                        }
                    );
                    let twins = rules
                        .iter()
                        .filter(|other| {
                            other.key == key || other.key.starts_with(&format!("{key}#"))
                        })
                        .count();
                    if twins > 0 {
                        key = format!("{key}#{}", twins + 1);
                    }
                    rules.push(Rule {
                        key,
                        source: RuleSource::File,
                        kind,
                        enabled: true,
                        definition: None,
                    });
                }
            }
        }
        groups.push(RuleGroup {
            tenant: TenantId::default_tenant(),
            name: group.name,
            file: Some(file.to_string()),
            interval,
            limit: group.limit.unwrap_or(0),
            rules,
        });
    }
    if problems.is_empty() {
        Ok(groups)
    } else {
        Err(problems)
    }
}

/// Validates one rule of a file.
fn file_rule(
    rule: FileRule,
    group_labels: &BTreeMap<String, String>,
) -> Result<RuleKind, Vec<String>> {
    let mut problems = Vec::new();
    let expr = match rule.expr {
        None => String::new(),
        Some(serde_yaml_ng::Value::String(text)) => text,
        Some(serde_yaml_ng::Value::Number(number)) => number.to_string(),
        Some(serde_yaml_ng::Value::Bool(value)) => value.to_string(),
        Some(_) => {
            problems.push("expr: must be a string".to_string());
            String::new()
        }
    };
    check_expr(&expr, &mut problems);
    let mut labels = group_labels.clone();
    labels.extend(rule.labels);
    let kind = match (rule.alert, rule.record) {
        (Some(_), Some(_)) => {
            problems.push("only one of 'record' and 'alert' may be set".to_string());
            None
        }
        (None, None) => {
            problems.push("one of 'record' or 'alert' must be set".to_string());
            None
        }
        (Some(alert), None) => {
            if alert.trim().is_empty() {
                problems.push("alert: is required".to_string());
            }
            Some(RuleKind::Alerting(Box::new(AlertingRule {
                name: alert,
                expr,
                quick: None,
                for_duration: parse_optional(
                    "for",
                    rule.for_duration.as_deref(),
                    Duration::ZERO,
                    &mut problems,
                ),
                keep_firing_for: parse_optional(
                    "keep_firing_for",
                    rule.keep_firing_for.as_deref(),
                    Duration::ZERO,
                    &mut problems,
                ),
                labels: TemplatedMap::parse("labels", labels, &mut problems),
                annotations: TemplatedMap::parse("annotations", rule.annotations, &mut problems),
            })))
        }
        (None, Some(record)) => {
            if !is_metric_name(&record) {
                problems.push(format!("record: {record:?} is not a valid metric name"));
            }
            for (field, given) in [
                ("for", rule.for_duration.is_some()),
                ("keep_firing_for", rule.keep_firing_for.is_some()),
                ("annotations", !rule.annotations.is_empty()),
            ] {
                if given {
                    problems.push(format!("{field}: invalid field for a recording rule"));
                }
            }
            for name in labels.keys() {
                if !is_label_name(name) {
                    problems.push(format!("labels: {name:?} is not a valid label name"));
                }
            }
            Some(RuleKind::Recording(RecordingRule {
                record,
                expr,
                labels,
            }))
        }
    };
    match kind {
        Some(kind) if problems.is_empty() => Ok(kind),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn prometheus_rule_files_load() {
        let groups = parse_rule_file(
            "rules/checkout.yml",
            r#"
groups:
  - name: checkout
    interval: 30s
    labels:
      team: payments
    rules:
      - record: job:errors:rate5m
        expr: sum by (job) (rate(errors_total[5m]))
      - alert: HighErrors
        expr: job:errors:rate5m > 1
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} fails"
      - alert: HighErrors
        expr: 1
  - name: other
    rules: []
"#,
            MINUTE,
        )
        .unwrap();
        assert_eq!(groups.len(), 2);
        let checkout = &groups[0];
        assert_eq!(checkout.interval, Duration::from_secs(30));
        assert_eq!(checkout.file.as_deref(), Some("rules/checkout.yml"));
        let keys: Vec<&str> = checkout
            .rules
            .iter()
            .map(|rule| rule.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "file:checkout.yml:checkout:job:errors:rate5m",
                "file:checkout.yml:checkout:HighErrors",
                "file:checkout.yml:checkout:HighErrors#2"
            ]
        );
        let RuleKind::Alerting(alert) = &checkout.rules[1].kind else {
            panic!("an alerting rule")
        };
        assert_eq!(alert.for_duration, 5 * MINUTE);
        assert_eq!(alert.labels.raw()["team"], "payments");
        assert_eq!(checkout.rules[2].expr(), "1");
        assert_eq!(groups[1].interval, MINUTE);
    }

    #[test]
    fn problems_name_file_group_and_rule() {
        let problems = parse_rule_file(
            "bad.yml",
            r#"
groups:
  - name: g
    interval: 1x
    rules:
      - alert: A
        expr: rate(x[5m]
      - record: bad-name
        expr: up
        for: 1m
      - expr: up
"#,
            MINUTE,
        )
        .unwrap_err();
        assert_eq!(
            problems[0],
            "bad.yml: group \"g\": interval: \"1x\" is not a duration such as \"30s\", \"5m\" or \"1h30m\""
        );
        assert!(problems[1].starts_with("bad.yml: group \"g\": rule 1 (alert \"A\"): expr: "));
        assert_eq!(
            problems[2..],
            [
                "bad.yml: group \"g\": rule 2 (record \"bad-name\"): record: \"bad-name\" is not a valid metric name",
                "bad.yml: group \"g\": rule 2 (record \"bad-name\"): for: invalid field for a recording rule",
                "bad.yml: group \"g\": rule 3 (no name): one of 'record' or 'alert' must be set",
            ]
        );
        let unknown =
            parse_rule_file("u.yml", "groups:\n  - name: g\n    rulez: []\n", MINUTE).unwrap_err();
        assert!(unknown[0].starts_with("u.yml: "), "{unknown:?}");
    }

    #[test]
    fn a_directory_loads_yaml_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), "groups: [{name: b, rules: []}]").unwrap();
        std::fs::write(dir.path().join("a.yml"), "groups: [{name: a, rules: []}]").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not yaml: [").unwrap();
        let groups = load_rules_dir(dir.path(), MINUTE).unwrap();
        let names: Vec<&str> = groups.iter().map(|group| group.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(load_rules_dir(&dir.path().join("missing"), MINUTE).is_err());
    }
}
