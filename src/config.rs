//! Configuration: defaults < TOML file (`--config`) < `SIGHTLINE_*` environment < flags.
//!
//! Every crate owns its config struct; this module layers the sources over them and validates
//! the result, reporting every problem on its own line with the key and where it came from.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use serde::Deserialize;
use sightline_collector::CollectorConfig;
use sightline_model::auth::{TokenDefinition, TokenSpec};
use sightline_model::{HealthCheckDefinition, HealthCheckSpec};
use sightline_query::alerts::config::{AlertingConfig, AlertingSettings};
use sightline_query::alerts::rule::RuleGroup;
use sightline_query::alerts::rule_file::load_rules_dir;
use sightline_query::QueryConfig;
use sightline_store::StoreConfig;

/// Sightline: an observability backend. OTLP in (gRPC :4317, HTTP :4318), traces stored in
/// Parquet, queried over HTTP (:7878) with a native API and a Jaeger-compatible API.
///
/// Every option can also be set in the TOML file given with --config, and by the environment
/// variable shown; a flag beats the environment, which beats the file.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Flags {
    /// TOML configuration file (see sightline.example.toml).
    #[arg(long, env = "SIGHTLINE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address of the query API, UI and /metrics. Without authentication configured the default
    /// is loopback only.
    #[arg(long, env = "SIGHTLINE_HTTP_LISTEN")]
    pub http_listen: Option<String>,
    /// Address of the OTLP/gRPC receiver.
    #[arg(long, env = "SIGHTLINE_OTLP_GRPC_LISTEN")]
    pub otlp_grpc_listen: Option<String>,
    /// Address of the OTLP/HTTP receiver.
    #[arg(long, env = "SIGHTLINE_OTLP_HTTP_LISTEN")]
    pub otlp_http_listen: Option<String>,
    /// Directory for the WAL and the embedded object store.
    #[arg(long, env = "SIGHTLINE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Hours to keep spans.
    #[arg(long, env = "SIGHTLINE_RETENTION_HOURS")]
    pub retention_hours: Option<u64>,
    /// Flush the in-memory head to a Parquet part once it holds this many spans.
    #[arg(long, env = "SIGHTLINE_FLUSH_MAX_SPANS")]
    pub flush_max_spans: Option<usize>,
    /// Flush the in-memory head at least this often, in seconds.
    #[arg(long, env = "SIGHTLINE_FLUSH_INTERVAL_SECONDS")]
    pub flush_interval_seconds: Option<u64>,
    /// Largest OTLP request body accepted, in bytes, after decompression.
    #[arg(long, env = "SIGHTLINE_MAX_BODY_SIZE_BYTES")]
    pub max_body_size_bytes: Option<u64>,
    /// Log filter (tracing env-filter syntax), e.g. "info" or "sightline_store=debug".
    #[arg(long, env = "SIGHTLINE_LOG")]
    pub log: Option<String>,
    /// Log format: "text" or "json".
    #[arg(long, env = "SIGHTLINE_LOG_FORMAT")]
    pub log_format: Option<String>,
}

/// Settings of the binary itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the query API, UI and /metrics.
    pub http_listen: String,
    /// Address of the OTLP/gRPC receiver.
    pub otlp_grpc_listen: String,
    /// Address of the OTLP/HTTP receiver.
    pub otlp_http_listen: String,
    /// Seconds between /readyz turning 503 and the receivers closing, so load balancers
    /// notice first.
    pub shutdown_delay_seconds: u64,
    /// Seconds to drain in-flight requests at shutdown before giving up on them.
    pub shutdown_drain_seconds: u64,
    /// Log filter (tracing env-filter syntax).
    pub log: String,
    /// Log format: "text" or "json".
    pub log_format: String,
    /// Worker threads of the query runtime, which serves the query port and evaluates rules
    /// apart from ingest (a bulkhead: a flood of slow queries cannot take ingest's threads or
    /// blocking pool). At least 1.
    pub query_worker_threads: usize,
    /// Blocking threads the query runtime may start (PromQL evaluation, trace assembly, Parquet
    /// reads for queries); further blocking work waits. At least 1.
    pub query_max_blocking_threads: usize,
    /// PEM certificate chain: with `tls_key_file`, every listener (query, OTLP/HTTP,
    /// OTLP/gRPC) speaks TLS only.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            http_listen: "127.0.0.1:7878".to_string(),
            otlp_grpc_listen: "0.0.0.0:4317".to_string(),
            otlp_http_listen: "0.0.0.0:4318".to_string(),
            shutdown_delay_seconds: 0,
            shutdown_drain_seconds: 10,
            log: "info".to_string(),
            log_format: "text".to_string(),
            query_worker_threads: 2,
            query_max_blocking_threads: 64,
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// The binary's own settings.
    pub server: ServerConfig,
    /// Storage.
    pub store: StoreConfig,
    /// OTLP receivers.
    pub collector: CollectorConfig,
    /// Query APIs.
    pub query: QueryConfig,
    /// Health-check targets (`[[health_checks]]`), probed in the default tenant; read-only
    /// through the API.
    pub health_checks: Vec<HealthCheckDefinition>,
    /// Alerting: rule files, evaluation, receivers and delivery (`[alerting]`).
    pub alerting: AlertingConfig,
    /// Authentication (`[auth]`).
    pub auth: AuthConfig,
}

/// Authentication settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Bearer tokens (`[[auth.tokens]]`); read-only through the API, where more can be made.
    /// With none here or there, authentication is off.
    pub tokens: Vec<TokenDefinition>,
}

/// The validated configuration the binary runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Query API address.
    pub http_listen: SocketAddr,
    /// OTLP/gRPC address.
    pub otlp_grpc_listen: SocketAddr,
    /// OTLP/HTTP address.
    pub otlp_http_listen: SocketAddr,
    /// The config file's health-check targets, validated.
    pub health_checks: Vec<HealthCheckSpec>,
    /// Alerting settings, validated.
    pub alerting: AlertingSettings,
    /// The rule files' groups, loaded and validated.
    pub rule_groups: Vec<RuleGroup>,
    /// The config file's bearer tokens, validated.
    pub tokens: Vec<TokenSpec>,
    /// Everything else, as layered.
    pub file: FileConfig,
}

/// Layers the file and the flags (which carry the environment) over the defaults and validates
/// the result.
///
/// # Errors
/// One line per problem, each naming the key and its source.
pub fn load(flags: Flags) -> Result<Config, Vec<String>> {
    let mut problems = Vec::new();
    let mut file = match &flags.config {
        None => FileConfig::default(),
        Some(path) => match std::fs::read_to_string(path) {
            Err(error) => {
                return Err(vec![format!(
                    "cannot read config file {}: {error}",
                    path.display()
                )])
            }
            Ok(text) => match toml::from_str::<FileConfig>(&text) {
                Ok(file) => file,
                Err(error) => {
                    let message = error.message().to_string();
                    return Err(vec![format!(
                        "invalid config file {}: {message}",
                        path.display()
                    )]);
                }
            },
        },
    };
    let server = &mut file.server;
    override_with(&mut server.http_listen, flags.http_listen);
    override_with(&mut server.otlp_grpc_listen, flags.otlp_grpc_listen);
    override_with(&mut server.otlp_http_listen, flags.otlp_http_listen);
    override_with(&mut server.log, flags.log);
    override_with(&mut server.log_format, flags.log_format);
    override_with(&mut file.store.data_dir, flags.data_dir);
    override_with(&mut file.store.retention_hours, flags.retention_hours);
    override_with(&mut file.store.flush_max_spans, flags.flush_max_spans);
    override_with(
        &mut file.store.flush_interval_seconds,
        flags.flush_interval_seconds,
    );
    override_with(
        &mut file.collector.max_body_size_bytes,
        flags.max_body_size_bytes,
    );

    let mut address = |key: &str, text: &str| match text.parse::<SocketAddr>() {
        Ok(address) => Some(address),
        Err(_) => {
            problems.push(format!(
                "invalid value {text:?} for server.{key}: expected an address such as 0.0.0.0:4317"
            ));
            None
        }
    };
    let http_listen = address("http_listen", &file.server.http_listen);
    let otlp_grpc_listen = address("otlp_grpc_listen", &file.server.otlp_grpc_listen);
    let otlp_http_listen = address("otlp_http_listen", &file.server.otlp_http_listen);
    if !matches!(file.server.log_format.as_str(), "text" | "json") {
        problems.push(format!(
            "invalid value {:?} for server.log_format: expected \"text\" or \"json\"",
            file.server.log_format
        ));
    }
    for (key, value) in [
        ("query_worker_threads", file.server.query_worker_threads),
        (
            "query_max_blocking_threads",
            file.server.query_max_blocking_threads,
        ),
    ] {
        if value == 0 {
            problems.push(format!(
                "invalid value 0 for server.{key}: must be at least 1"
            ));
        }
    }
    if file.server.tls_cert_file.is_some() != file.server.tls_key_file.is_some() {
        problems.push(
            "server.tls_cert_file and server.tls_key_file go together: give both or neither"
                .to_string(),
        );
    }
    if file.store.retention_hours == 0 {
        problems.push("invalid value 0 for store.retention_hours: must be at least 1".to_string());
    }
    if file.store.flush_max_spans == 0 {
        problems.push("invalid value 0 for store.flush_max_spans: must be at least 1".to_string());
    }
    if let Err(query_problems) = file.query.validate() {
        problems.extend(query_problems);
    }
    if let Err(collector_problems) = file.collector.validate() {
        problems.extend(collector_problems);
    }
    if file.collector.multi_tenancy != file.query.multi_tenancy {
        problems.push(format!(
            "collector.multi_tenancy ({}) and query.multi_tenancy ({}) must agree, or data is written to tenants no query can read",
            file.collector.multi_tenancy, file.query.multi_tenancy
        ));
    }
    if file.collector.max_body_size_bytes == 0 {
        problems.push(
            "invalid value 0 for collector.max_body_size_bytes: must be at least 1".to_string(),
        );
    }
    let health_checks = validate_health_checks(&file.health_checks, &mut problems);
    let tokens = validate_tokens(&file.auth.tokens, &mut problems);
    let default_external_url = format!("http://{}", file.server.http_listen);
    let alerting = match file.alerting.validate(&default_external_url) {
        Ok(settings) => Some(settings),
        Err(found) => {
            problems.extend(found);
            None
        }
    };
    let rule_groups = match alerting
        .as_ref()
        .and_then(|settings| Some((settings.rules_dir.as_ref()?, settings)))
    {
        None => Vec::new(),
        Some((dir, settings)) => match load_rules_dir(dir, settings.evaluation_interval) {
            Ok(groups) => groups,
            Err(found) => {
                problems.extend(
                    found
                        .into_iter()
                        .map(|problem| format!("invalid rule file {problem}")),
                );
                Vec::new()
            }
        },
    };
    match (http_listen, otlp_grpc_listen, otlp_http_listen, alerting) {
        (Some(http_listen), Some(otlp_grpc_listen), Some(otlp_http_listen), Some(alerting))
            if problems.is_empty() =>
        {
            Ok(Config {
                http_listen,
                otlp_grpc_listen,
                otlp_http_listen,
                health_checks,
                alerting,
                rule_groups,
                tokens,
                file,
            })
        }
        _ => Err(problems),
    }
}

/// Validates the `[[health_checks]]` targets: each one's fields, and unique names.
fn validate_health_checks(
    definitions: &[HealthCheckDefinition],
    problems: &mut Vec<String>,
) -> Vec<HealthCheckSpec> {
    validate_named(
        ("health_checks", "health check"),
        definitions,
        |definition| &definition.name,
        |definition| {
            definition
                .validate()
                .map_err(|found| found.iter().map(ToString::to_string).collect())
        },
        |spec| &spec.name,
        problems,
    )
}

/// Validates the `[[auth.tokens]]`: each one's fields, and unique names.
fn validate_tokens(definitions: &[TokenDefinition], problems: &mut Vec<String>) -> Vec<TokenSpec> {
    validate_named(
        ("auth.tokens", "token"),
        definitions,
        |definition| &definition.name,
        TokenDefinition::validate,
        |spec| &spec.principal.name,
        problems,
    )
}

/// Validates a list of named entries (`[[key]]`, each a `what`): every field of each, and
/// that names are unique; one problem per line, naming the entry by index and name.
fn validate_named<D, S>(
    (key, what): (&str, &str),
    definitions: &[D],
    name_of: impl Fn(&D) -> &String,
    validate: impl Fn(&D) -> Result<S, Vec<String>>,
    spec_name: impl Fn(&S) -> &String,
    problems: &mut Vec<String>,
) -> Vec<S> {
    let mut specs: Vec<S> = Vec::with_capacity(definitions.len());
    for (index, definition) in definitions.iter().enumerate() {
        let entry = format!("{key}[{index}] ({:?})", name_of(definition));
        match validate(definition) {
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|problem| format!("invalid {entry}.{problem}")),
            ),
            Ok(spec)
                if specs
                    .iter()
                    .any(|other| spec_name(other) == spec_name(&spec)) =>
            {
                problems.push(format!(
                    "invalid {entry}.name: another {what} already has this name"
                ))
            }
            Ok(spec) => specs.push(spec),
        }
    }
    specs
}

fn override_with<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_matches_defaults() {
        let text = include_str!("../sightline.example.toml");
        let file: FileConfig = toml::from_str(text).unwrap();
        assert_eq!(file.store, StoreConfig::default());
        assert_eq!(file.collector, CollectorConfig::default());
        assert_eq!(file.query, QueryConfig::default());
        assert_eq!(file.alerting, AlertingConfig::default());
        assert_eq!(file.auth, AuthConfig::default());
        assert_eq!(file.server.http_listen, ServerConfig::default().http_listen);
    }

    #[test]
    fn example_health_checks_parse_and_validate() {
        let text = include_str!("../sightline.example.toml");
        let start = text.find("# [[health_checks]]").unwrap();
        let uncommented: String = text[start..]
            .lines()
            .map(|line| {
                line.strip_prefix("# ")
                    .unwrap_or(line.trim_start_matches('#'))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let file: FileConfig = toml::from_str(&uncommented).unwrap();
        let mut problems = Vec::new();
        let specs = validate_health_checks(&file.health_checks, &mut problems);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(specs.len(), 3);
    }

    #[test]
    fn health_check_problems_name_the_entry_and_field() {
        let file: FileConfig = toml::from_str(
            r#"
            [[health_checks]]
            name = "web"
            service = "frontend"
            probe = "http"
            url = "http://web/"

            [[health_checks]]
            name = "web"
            service = "frontend"
            probe = "tcp"
            address = "web:80"

            [[health_checks]]
            name = "db"
            service = "orders"
            probe = "tcp"
            address = "db"
            interval = "500ms"

            [[health_checks]]
            name = "slow"
            service = "frontend"
            probe = "http"
            url = "https://web/"
            interval = "2s"
            timeout = "3s"
            "#,
        )
        .unwrap();
        let mut problems = Vec::new();
        let specs = validate_health_checks(&file.health_checks, &mut problems);
        assert_eq!(specs.len(), 1);
        assert_eq!(
            problems,
            [
                r#"invalid health_checks[1] ("web").name: another health check already has this name"#,
                r#"invalid health_checks[2] ("db").interval: "500ms" is below the minimum of 1s"#,
                r#"invalid health_checks[2] ("db").address: "db" must be host:port"#,
                r#"invalid health_checks[3] ("slow").timeout: "3s" must be below the interval (2s)"#,
            ]
        );
        let unknown = toml::from_str::<FileConfig>(
            "[[health_checks]]\nname = \"x\"\nservice = \"s\"\nprobe = \"icmp\"\n",
        );
        assert!(unknown.is_err());
    }

    #[test]
    fn every_problem_is_reported() {
        let flags = Flags::parse_from([
            "sightline",
            "--http-listen",
            "nowhere",
            "--retention-hours",
            "0",
            "--log-format",
            "xml",
        ]);
        let problems = load(flags).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("server.http_listen"));
    }

    #[test]
    fn collector_and_health_settings_are_checked_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sightline.toml");
        std::fs::write(
            &path,
            "[collector]\nflush_interval_seconds = 0\n[query.health]\nunhealthy_error_ratio = 2\n",
        )
        .unwrap();
        let path = path.display().to_string();
        let problems =
            load(Flags::parse_from(["sightline", "--config", path.as_str()])).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems
            .iter()
            .any(|p| p.contains("query.health.unhealthy_error_ratio")));
        assert!(problems
            .iter()
            .any(|p| p.contains("collector.flush_interval_seconds")));
    }

    #[test]
    fn rule_file_and_alerting_problems_are_reported_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        std::fs::write(
            rules.join("bad.yml"),
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(x[5m]\n",
        )
        .unwrap();
        let path = dir.path().join("sightline.toml");
        std::fs::write(
            &path,
            format!(
                "[alerting]\nrules_dir = {:?}\nresend_delay = \"soon\"\n[[alerting.receivers]]\nname = \"x\"\ntype = \"webhook\"\n",
                rules.display().to_string()
            ),
        )
        .unwrap();
        let path = path.display().to_string();
        let problems =
            load(Flags::parse_from(["sightline", "--config", path.as_str()])).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("invalid alerting.receivers[0] (\"x\").url")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("alerting.resend_delay")),
            "{problems:?}"
        );
        std::fs::write(
            &path,
            format!(
                "[alerting]\nrules_dir = {:?}\n",
                rules.display().to_string()
            ),
        )
        .unwrap();
        let problems =
            load(Flags::parse_from(["sightline", "--config", path.as_str()])).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("invalid rule file ")
                && problems[0].contains("bad.yml: group \"g\": rule 1 (alert \"A\"): expr: "),
            "{problems:?}"
        );
    }

    #[test]
    fn token_problems_name_the_entry_and_field() {
        let file: FileConfig = toml::from_str(
            r#"
            [[auth.tokens]]
            name = "a"
            scopes = ["read"]
            secret = "0123456789abcdef"

            [[auth.tokens]]
            name = "a"
            scopes = ["ingest"]
            secret = "fedcba9876543210"

            [[auth.tokens]]
            name = "b"
            scopes = []
            secret = "short"
            "#,
        )
        .unwrap();
        let mut problems = Vec::new();
        let specs = validate_tokens(&file.auth.tokens, &mut problems);
        assert_eq!(specs.len(), 1);
        assert_eq!(
            problems,
            [
                r#"invalid auth.tokens[1] ("a").name: another token already has this name"#,
                r#"invalid auth.tokens[2] ("b").scopes: give at least one of ingest, read, admin"#,
                r#"invalid auth.tokens[2] ("b").secret: must be at least 16 characters without spaces"#,
            ]
        );
        assert!(toml::from_str::<FileConfig>(
            "[[auth.tokens]]\nname = \"x\"\nscopes = [\"root\"]\nsecret = \"0123456789abcdef\"\n"
        )
        .is_err());
    }

    #[test]
    fn tls_files_go_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sightline.toml");
        std::fs::write(&path, "[server]\ntls_cert_file = \"/x/cert.pem\"\n").unwrap();
        let path = path.display().to_string();
        let problems =
            load(Flags::parse_from(["sightline", "--config", path.as_str()])).unwrap_err();
        assert_eq!(
            problems,
            ["server.tls_cert_file and server.tls_key_file go together: give both or neither"]
        );
    }

    #[test]
    fn flags_override_defaults() {
        let flags = Flags::parse_from([
            "sightline",
            "--data-dir",
            "/tmp/x",
            "--http-listen",
            "127.0.0.1:0",
        ]);
        let config = load(flags).unwrap();
        assert_eq!(config.file.store.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.http_listen.port(), 0);
    }
}
