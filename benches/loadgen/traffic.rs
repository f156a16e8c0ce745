//! Realistic OTLP traffic: services calling services, with semantic-convention attributes.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::attributes;
use crate::rng::Rng;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};

const SERVICES: usize = 24;
const ROUTES: &[&str] = &[
    "/api/v1/items/{id}",
    "/api/v1/cart",
    "/checkout",
    "/login",
    "/search",
    "/health",
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
const DB_SYSTEMS: &[&str] = &["postgresql", "redis", "mysql", "mongodb"];

/// Generates the traffic from a seeded [`Rng`], so runs are repeatable.
pub struct Generator {
    rng: Rng,
}

impl Generator {
    /// Starts a generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
        }
    }

    fn attributes(&mut self, service: usize, kind: span::SpanKind) -> Vec<KeyValue> {
        let route = self.rng.pick(ROUTES);
        let method = self.rng.pick(METHODS);
        let status = if self.rng.below(33) == 0 { 503 } else { 200 };
        let mut attributes = vec![
            attributes::string("http.request.method", method.to_string()),
            attributes::string("http.route", route.to_string()),
            attributes::int("http.response.status_code", status),
            attributes::string("url.scheme", "https".to_string()),
            attributes::string(
                "server.address",
                format!("svc-{:02}.internal", (service + 1) % SERVICES),
            ),
            attributes::int("server.port", 8080),
            attributes::string("network.protocol.version", "1.1".to_string()),
            attributes::string(
                "user_agent.original",
                "Mozilla/5.0 (X11; Linux x86_64)".to_string(),
            ),
            attributes::string(
                "client.address",
                format!("10.0.{}.{}", self.rng.below(255), self.rng.below(255)),
            ),
            attributes::string("thread.name", format!("worker-{}", self.rng.below(16))),
        ];
        if kind == span::SpanKind::Client && self.rng.below(2) == 0 {
            attributes.push(attributes::string(
                "db.system",
                self.rng.pick(DB_SYSTEMS).to_string(),
            ));
            attributes.push(attributes::string(
                "db.statement",
                format!("SELECT * FROM items WHERE id = {}", self.rng.below(100_000)),
            ));
            attributes.push(attributes::string("db.name", "shop".to_string()));
        }
        let extra = self.rng.below(13);
        for index in 0..extra {
            attributes.push(attributes::int(
                &format!("app.counter.{index}"),
                self.rng.below(1000) as i64,
            ));
        }
        attributes
    }

    /// Builds one export request of `traces` traces whose spans end about `now` (unix
    /// nanoseconds); returns it, its span count and its trace ids as hex.
    pub fn request(
        &mut self,
        traces: usize,
        now: u64,
    ) -> (ExportTraceServiceRequest, u64, Vec<String>) {
        let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES];
        let mut span_count = 0u64;
        let mut trace_ids = Vec::new();
        for _ in 0..traces {
            let trace_id: Vec<u8> = [
                self.rng.next_u64().to_be_bytes(),
                self.rng.next_u64().to_be_bytes(),
            ]
            .concat();
            trace_ids.push(hex::encode(&trace_id));
            let spans_in_trace = 5 + self.rng.below(56);
            let root_service = self.rng.below(SERVICES);
            let mut parents: Vec<(Vec<u8>, usize, u64, u64)> = Vec::new();
            let root_duration =
                1_000_000 + (self.rng.next_u64() % 1_000_000_000).pow(2) / 1_000_000_000;
            for index in 0..spans_in_trace {
                let span_id = (self.rng.next_u64() | 1).to_be_bytes().to_vec();
                let (parent_id, service, start, duration) = if index == 0 {
                    (Vec::new(), root_service, now - root_duration, root_duration)
                } else {
                    let (parent_id, parent_service, parent_start, parent_duration) =
                        parents[self.rng.below(parents.len())].clone();
                    let service = if self.rng.below(3) == 0 {
                        self.rng.below(SERVICES)
                    } else {
                        parent_service
                    };
                    let offset = self.rng.next_u64() % (parent_duration / 2 + 1);
                    let duration = (parent_duration - offset) / 2 + 1;
                    (parent_id, service, parent_start + offset, duration)
                };
                let kind = match index {
                    0 => span::SpanKind::Server,
                    _ if self.rng.below(2) == 0 => span::SpanKind::Client,
                    _ => span::SpanKind::Internal,
                };
                let error = self.rng.below(33) == 0;
                let name = format!("{} {}", self.rng.pick(METHODS), self.rng.pick(ROUTES));
                by_service[service].push(Span {
                    trace_id: trace_id.clone(),
                    span_id: span_id.clone(),
                    parent_span_id: parent_id,
                    name,
                    kind: kind as i32,
                    start_time_unix_nano: start,
                    end_time_unix_nano: start + duration,
                    attributes: self.attributes(service, kind),
                    status: Some(Status {
                        code: if error {
                            status::StatusCode::Error as i32
                        } else {
                            status::StatusCode::Unset as i32
                        },
                        message: if error {
                            "internal error".to_string()
                        } else {
                            String::new()
                        },
                    }),
                    ..Span::default()
                });
                parents.push((span_id, service, start, duration));
                span_count += 1;
            }
        }
        let resource_spans = by_service
            .into_iter()
            .enumerate()
            .filter(|(_, spans)| !spans.is_empty())
            .map(|(service, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        attributes::string("service.name", format!("svc-{service:02}")),
                        attributes::string("service.version", "1.4.2".to_string()),
                        attributes::string("deployment.environment", "production".to_string()),
                        attributes::string("host.name", format!("node-{}", service % 5)),
                        attributes::string("telemetry.sdk.language", "rust".to_string()),
                    ],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "loadgen".to_string(),
                        version: "1.0.0".to_string(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect();
        (
            ExportTraceServiceRequest { resource_spans },
            span_count,
            trace_ids,
        )
    }
}
