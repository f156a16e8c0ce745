//! Alerting: Prometheus-style alerting rules evaluated on a schedule, their states, and the
//! notifications that tell people about them.
//!
//! Modules, in data-path order:
//! - [`rule`]: rule definitions (the API's JSON) validated into rules and groups;
//!   [`rule_file`]: Prometheus rule files; [`quick`]: quick health rules turned into PromQL;
//!   [`duration`]: Prometheus' duration syntax.
//! - [`state`]: each rule's alerts moved through pending → firing → inactive with
//!   Prometheus' semantics.
//! - [`template`]: the `{{ $labels.x }}` / `{{ $value }}` templates of labels and annotations
//!   (the subset of Go's text/template that Prometheus rules use).
//! - [`outbox`]: what an evaluation tells receivers (Prometheus' resend rule for
//!   Alertmanager; changes and reminders for webhooks).
//! - [`registry`]: [`registry::AlertRegistry`], every rule, receiver and rule state, persisted
//!   through the store's [`sightline_store::AlertingDb`], with a change signal.
//! - [`evaluator`]: one task per group: evaluate, move states, write `ALERTS`, notify,
//!   persist. [`config`]: `[alerting]`.
//! - [`notify`]: receivers (a generic webhook with Alertmanager's webhook payload, and
//!   Alertmanager's `POST /api/v2/alerts`), each with a bounded queue, retries with backoff and
//!   jitter, and a circuit breaker, so a slow or dead receiver never stalls evaluation.

pub mod config;
pub mod duration;
pub mod evaluator;
pub mod notify;
pub mod outbox;
pub mod quick;
pub mod registry;
pub mod rule;
pub mod rule_file;
pub mod state;
pub mod template;
