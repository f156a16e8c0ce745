//! Realistic OTLP log traffic: what 24 services' SDK log exporters send — access lines,
//! business events, cache and database chatter, retries, and now and then an error with its
//! stack trace — with semantic-convention resource and record attributes.
//!
//! Records come in requests: the 1 to `max_group` consecutive records a service logs while
//! handling one request share its `request_id=` (16 random hex digits, found in no other
//! request: the rare tokens the searches look for) and, for 70% of requests, its trace and
//! span id. `max_group` 1 gives every record its own ids (the worst case for the index: three
//! unique terms per record). Every record is timestamped at generation time, so a run fills
//! one day index the way live traffic does.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, InstrumentationScope, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::attributes;
use crate::rng::Rng;

/// Services sending logs.
pub const SERVICES: usize = 24;
/// A word found in about a fifth of the records (the order events), for the common-word search.
pub const COMMON_WORD: &str = "order";

const ROUTES: &[&str] = &[
    "/api/v1/items/{id}",
    "/api/v1/cart",
    "/checkout",
    "/login",
    "/search",
    "/api/v1/orders/{id}",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const PEERS: &[&str] = &["inventory", "payments", "pricing", "shipping", "users"];
const LOGGERS: &[&str] = &[
    "com.example.http.AccessLog",
    "com.example.orders.OrderService",
    "com.example.cache.CacheClient",
    "com.example.db.ConnectionPool",
    "com.example.client.RetryingClient",
];
const CURRENCIES: &[&str] = &["EUR", "USD", "GBP"];
const ERRORS: &[(&str, &str)] = &[
    (
        "java.net.SocketTimeoutException",
        "Read timed out after 2000 ms",
    ),
    (
        "java.sql.SQLTransientConnectionException",
        "HikariPool-1 - Connection is not available, request timed out after 30000ms",
    ),
    (
        "java.lang.IllegalStateException",
        "Order is already being processed",
    ),
];

/// Generates the traffic from a seeded [`Rng`], so runs are repeatable.
pub struct Generator {
    rng: Rng,
    /// Most records per request.
    max_group: usize,
    /// The current request: records left, its request id, trace id and span id.
    group_left: usize,
    request_id: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    /// Which of the services this generator sends for, in turn.
    first_service: usize,
    stride: usize,
    turn: usize,
}

/// One export request and what it holds.
pub struct Request {
    pub request: ExportLogsServiceRequest,
    pub records: u64,
    /// The request id of its first record (a request of one record), with its service.
    pub sample: (String, String),
}

/// The name of service `index`.
pub fn service_name(index: usize) -> String {
    format!("svc-{index:02}")
}

impl Generator {
    /// A generator from a non-zero seed, sending for services `first`, `first + stride`, …,
    /// with requests of 1 to `max_group` records.
    pub fn new(seed: u64, first: usize, stride: usize, max_group: usize) -> Self {
        Self {
            rng: Rng::new(seed),
            max_group: max_group.max(1),
            group_left: 0,
            request_id: String::new(),
            trace_id: Vec::new(),
            span_id: Vec::new(),
            first_service: first % SERVICES,
            stride: stride.max(1),
            turn: 0,
        }
    }

    /// One export of `records` records from one service instance, as an SDK's batch log
    /// processor sends them, the last at `now` (unix nanoseconds).
    pub fn request(&mut self, records: usize, now: u64) -> Request {
        let service = (self.first_service + self.turn * self.stride) % SERVICES;
        self.turn += 1;
        let instance = self.rng.below(4);
        let name = service_name(service);
        let resource = Resource {
            attributes: vec![
                attributes::string("service.name", name.clone()),
                attributes::string("service.namespace", "shop"),
                attributes::string(
                    "service.version",
                    format!("1.{}.{}", service % 5, service % 3),
                ),
                attributes::string(
                    "service.instance.id",
                    format!("{name}-{instance}-7f9c6d5b8-x{instance}q2z"),
                ),
                attributes::string("host.name", format!("node-{:02}", (service + instance) % 9)),
                attributes::string("deployment.environment", "production"),
                attributes::string("k8s.namespace.name", "shop"),
                attributes::string("k8s.pod.name", format!("{name}-7f9c6d5b8-x{instance}q2z")),
                attributes::string("telemetry.sdk.language", "java"),
                attributes::string("telemetry.sdk.name", "opentelemetry"),
                attributes::string("telemetry.sdk.version", "1.44.1"),
            ],
            ..Default::default()
        };
        let mut by_logger: Vec<Vec<LogRecord>> = vec![Vec::new(); LOGGERS.len()];
        let mut sample = (String::new(), name.clone());
        // Requests do not span exports (an export is one service's).
        self.group_left = 0;
        for index in 0..records {
            let time = now - (records - index) as u64 * 1_000;
            let (logger, record, request_id) = self.record(&name, time);
            if index == 0 {
                sample.0 = request_id;
                // The sample's request ends here, so its records are all in this export.
                self.group_left = 0;
            }
            by_logger[logger].push(record);
        }
        let scope_logs = by_logger
            .into_iter()
            .enumerate()
            .filter(|(_, records)| !records.is_empty())
            .map(|(logger, log_records)| ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: LOGGERS[logger].to_string(),
                    ..Default::default()
                }),
                log_records,
                ..Default::default()
            })
            .collect();
        Request {
            request: ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(resource),
                    scope_logs,
                    schema_url: "https://opentelemetry.io/schemas/1.26.0".to_string(),
                }],
            },
            records: records as u64,
            sample,
        }
    }

    /// One record: (logger index, record, its request id).
    fn record(&mut self, service: &str, time: u64) -> (usize, LogRecord, String) {
        if self.group_left == 0 {
            self.group_left = 1 + self.rng.below(self.max_group);
            self.request_id = format!("{:016x}", self.rng.next_u64());
            (self.trace_id, self.span_id) = if self.rng.below(10) < 7 {
                let mut trace = self.rng.next_u64().to_be_bytes().to_vec();
                trace.extend(self.rng.next_u64().to_be_bytes());
                (trace, self.rng.next_u64().to_be_bytes().to_vec())
            } else {
                (Vec::new(), Vec::new())
            };
        }
        self.group_left -= 1;
        let request_id = self.request_id.clone();
        let traced = !self.trace_id.is_empty();
        let (trace_id, span_id) = (self.trace_id.clone(), self.span_id.clone());
        let kind = self.rng.below(100);
        let (logger, severity, body, attributes) = match kind {
            0..=44 => {
                let method = self.rng.pick(METHODS);
                let route = self.rng.pick(ROUTES);
                let status = match self.rng.below(50) {
                    0 => 503,
                    1 | 2 => 404,
                    _ => 200,
                };
                let millis = 2 + self.rng.below(40) + self.rng.below(3) * self.rng.below(400);
                let path = route.replace("{id}", &(10_000 + self.rng.below(90_000)).to_string());
                let body = format!(
                    "{method} {path} {status} {millis}ms bytes={} client=10.{}.{}.{} request_id={request_id}",
                    200 + self.rng.below(20_000),
                    self.rng.below(256),
                    self.rng.below(256),
                    self.rng.below(256)
                );
                let attributes = vec![
                    attributes::string("http.request.method", method),
                    attributes::string("http.route", route),
                    attributes::int("http.response.status_code", status),
                    attributes::int("http.server.request.duration_ms", millis as i64),
                ];
                let severity = if status >= 500 { 13 } else { 9 };
                (0, severity, body, attributes)
            }
            45..=64 => {
                let order = 1_000_000 + self.rng.below(9_000_000);
                let items = 1 + self.rng.below(6);
                let cents = 500 + self.rng.below(50_000);
                let currency = self.rng.pick(CURRENCIES);
                let body = format!(
                    "{COMMON_WORD} {order} placed by customer c{}: {items} items, total {}.{:02} {currency} request_id={request_id}",
                    self.rng.below(200_000),
                    cents / 100,
                    cents % 100
                );
                let attributes = vec![
                    attributes::int("order.id", order as i64),
                    attributes::int("order.items", items as i64),
                    attributes::string("order.currency", currency),
                ];
                (1, 9, body, attributes)
            }
            65..=84 => {
                let hit = self.rng.below(4) != 0;
                let body = format!(
                    "cache {} key=item:{} ttl=300s took {}us request_id={request_id}",
                    if hit { "hit" } else { "miss" },
                    self.rng.below(100_000),
                    20 + self.rng.below(900)
                );
                (2, 5, body, vec![attributes::string("cache.name", "items")])
            }
            85..=94 => {
                let body = format!(
                    "acquired connection from pool postgresql://orders-db:5432/orders active={}/50 wait={}.{}ms request_id={request_id}",
                    self.rng.below(50),
                    self.rng.below(20),
                    self.rng.below(10)
                );
                let attributes = vec![
                    attributes::string("db.system", "postgresql"),
                    attributes::string("db.name", "orders"),
                ];
                (3, 5, body, attributes)
            }
            95..=98 => {
                let peer = self.rng.pick(PEERS);
                let attempt = 1 + self.rng.below(4);
                let body = format!(
                    "retrying call to {peer} after {}ms (attempt {attempt}/5): connection reset by peer request_id={request_id}",
                    100 * attempt
                );
                let attributes = vec![
                    attributes::string("peer.service", peer),
                    attributes::int("retry.attempt", attempt as i64),
                ];
                (4, 13, body, attributes)
            }
            _ => {
                let (kind, message) = ERRORS[self.rng.below(ERRORS.len())];
                let body = format!("request failed: {kind}: {message} request_id={request_id}");
                let stack = format!(
                    "{kind}: {message}\n\tat com.example.{service}.Handler.handle(Handler.java:{})\n\tat com.example.http.Router.route(Router.java:88)\n\tat io.netty.channel.AbstractChannelHandlerContext.invokeChannelRead(AbstractChannelHandlerContext.java:444)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)",
                    40 + self.rng.below(400)
                );
                let attributes = vec![
                    attributes::string("exception.type", kind),
                    attributes::string("exception.message", message),
                    attributes::string("exception.stacktrace", stack),
                ];
                (1, 17, body, attributes)
            }
        };
        // A few services log structured bodies (a key-value map), as some appenders do.
        let body = if service.ends_with('7') {
            any_value::Value::KvlistValue(KeyValueList {
                values: vec![
                    attributes::string("message", body),
                    attributes::string("logger", LOGGERS[logger]),
                ],
            })
        } else {
            any_value::Value::StringValue(body)
        };
        let severity_text = match severity {
            5 => "DEBUG",
            9 => "INFO",
            13 => "WARN",
            _ => "ERROR",
        };
        let record = LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: time + 150_000,
            severity_number: severity,
            severity_text: severity_text.to_string(),
            body: Some(AnyValue { value: Some(body) }),
            attributes,
            flags: u32::from(traced),
            trace_id,
            span_id,
            ..Default::default()
        };
        (logger, record, request_id)
    }
}
