//! `[alerting]`: where rule files are, how often rules are evaluated, how notifications go.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::duration::parse_prometheus_duration;
use super::notify::{DeliveryConfig, ReceiverDefinition, ReceiverSpec};
use super::rule::is_label_name;

/// Settings of alerting, as written in the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertingConfig {
    /// A directory of Prometheus rule files (`*.yml`, `*.yaml`) loaded at start-up into the
    /// default tenant; read-only through the API. None: only API rules.
    pub rules_dir: Option<PathBuf>,
    /// How often a group is evaluated when it gives no `interval` (Prometheus'
    /// `evaluation_interval`).
    pub evaluation_interval: String,
    /// How long to wait before re-sending a still-firing alert to Alertmanager (Prometheus'
    /// `--rules.alert.resend-delay`).
    pub resend_delay: String,
    /// How often a webhook receiver is reminded of alerts that keep firing (Alertmanager's
    /// `repeat_interval`).
    pub webhook_repeat_interval: String,
    /// How long the history of state changes is kept.
    pub history_retention: String,
    /// The URL alerts link back to (`generatorURL`, `externalURL`); empty: the query API's
    /// address.
    pub external_url: String,
    /// Labels added to every alert sent, unless the alert has the label already (Prometheus'
    /// `external_labels`).
    pub external_labels: BTreeMap<String, String>,
    /// Receivers of the default tenant's alerts (`[[alerting.receivers]]`); read-only
    /// through the API.
    pub receivers: Vec<ReceiverDefinition>,
    /// `[alerting.delivery]`: queues, retries and the circuit breaker of every receiver.
    pub delivery: DeliveryConfig,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        Self {
            rules_dir: None,
            evaluation_interval: "1m".to_string(),
            resend_delay: "1m".to_string(),
            webhook_repeat_interval: "4h".to_string(),
            history_retention: "30d".to_string(),
            external_url: String::new(),
            external_labels: BTreeMap::new(),
            receivers: Vec::new(),
            delivery: DeliveryConfig::default(),
        }
    }
}

/// The validated settings the evaluator runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingSettings {
    /// See [`AlertingConfig::rules_dir`].
    pub rules_dir: Option<PathBuf>,
    /// See [`AlertingConfig::evaluation_interval`].
    pub evaluation_interval: Duration,
    /// See [`AlertingConfig::resend_delay`].
    pub resend_delay: Duration,
    /// See [`AlertingConfig::webhook_repeat_interval`].
    pub webhook_repeat_interval: Duration,
    /// See [`AlertingConfig::history_retention`].
    pub history_retention: Duration,
    /// See [`AlertingConfig::external_url`].
    pub external_url: String,
    /// See [`AlertingConfig::external_labels`].
    pub external_labels: BTreeMap<String, String>,
    /// The config file's receivers, validated.
    pub receivers: Vec<ReceiverSpec>,
    /// See [`AlertingConfig::delivery`].
    pub delivery: DeliveryConfig,
}

impl AlertingConfig {
    /// Validates the settings; `default_external_url` stands in for an empty `external_url`.
    ///
    /// # Errors
    /// One line per problem, naming the key.
    pub fn validate(&self, default_external_url: &str) -> Result<AlertingSettings, Vec<String>> {
        let mut problems = Vec::new();
        let mut duration =
            |key: &str, text: &str, minimum: Duration| match parse_prometheus_duration(text) {
                Ok(value) if value >= minimum => value,
                Ok(_) => {
                    problems.push(format!(
                        "invalid value {text:?} for alerting.{key}: must be at least {}",
                        super::duration::format_prometheus_duration(minimum)
                    ));
                    minimum
                }
                Err(message) => {
                    problems.push(format!("invalid value for alerting.{key}: {message}"));
                    minimum
                }
            };
        let second = Duration::from_secs(1);
        let evaluation_interval =
            duration("evaluation_interval", &self.evaluation_interval, second);
        let resend_delay = duration("resend_delay", &self.resend_delay, Duration::ZERO);
        let webhook_repeat_interval = duration(
            "webhook_repeat_interval",
            &self.webhook_repeat_interval,
            second,
        );
        let history_retention = duration("history_retention", &self.history_retention, second);
        for name in self.external_labels.keys() {
            if !is_label_name(name) {
                problems.push(format!(
                    "invalid alerting.external_labels: {name:?} is not a valid label name"
                ));
            }
        }
        let mut receivers: Vec<ReceiverSpec> = Vec::new();
        for (index, definition) in self.receivers.iter().enumerate() {
            let key = format!("alerting.receivers[{index}] ({:?})", definition.name);
            match definition.validate() {
                Err(found) => problems.extend(
                    found
                        .into_iter()
                        .map(|problem| format!("invalid {key}.{problem}")),
                ),
                Ok(spec) if receivers.iter().any(|other| other.name() == spec.name()) => problems
                    .push(format!(
                        "invalid {key}.name: another receiver already has this name"
                    )),
                Ok(spec) => receivers.push(spec),
            }
        }
        if let Err(found) = self.delivery.validate() {
            problems.extend(found);
        }
        let external_url = if self.external_url.is_empty() {
            default_external_url.to_string()
        } else {
            self.external_url.trim_end_matches('/').to_string()
        };
        if problems.is_empty() {
            Ok(AlertingSettings {
                rules_dir: self.rules_dir.clone(),
                evaluation_interval,
                resend_delay,
                webhook_repeat_interval,
                history_retention,
                external_url,
                external_labels: self.external_labels.clone(),
                receivers,
                delivery: self.delivery.clone(),
            })
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_problems_name_keys() {
        let settings = AlertingConfig::default()
            .validate("http://127.0.0.1:7878")
            .unwrap();
        assert_eq!(settings.evaluation_interval, Duration::from_secs(60));
        assert_eq!(settings.external_url, "http://127.0.0.1:7878");
        let bad = AlertingConfig {
            evaluation_interval: "0s".to_string(),
            resend_delay: "soon".to_string(),
            external_labels: BTreeMap::from([("bad-name".to_string(), "x".to_string())]),
            ..AlertingConfig::default()
        };
        let problems = bad.validate("").unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("alerting.evaluation_interval"));
        assert!(problems[1].contains("alerting.resend_delay"));
        assert!(problems[2].contains("alerting.external_labels"));
    }
}
