//! The service graph, as Tempo's `service-graphs` processor builds it: an edge for every
//! request from one service to another, found by pairing the two halves of a call.
//!
//! Pairing: a CLIENT (or PRODUCER) span and the SERVER (or CONSUMER) span whose parent it is
//! are two halves of one request. Each half waits in a tenant's store of unpaired halves,
//! keyed by trace id and the client half's span id, until the other arrives (from the same or
//! another export, from the same or another exporter). The store is bounded in time
//! (`service_graph_wait_seconds`, then the half expires: `sightline_service_graph_expired_total`)
//! and in count (`service_graph_max_items`, beyond which new halves are dropped:
//! `sightline_service_graph_dropped_total`). A half that arrives twice (an exporter's retry)
//! while it waits replaces the first, so a pair counts once; a copy arriving after the pair
//! was made waits alone (see the expiry rules below).
//!
//! Edges, labelled `client`, `server` and `connection_type`:
//! - a CLIENT/SERVER pair: `connection_type=""`;
//! - a PRODUCER/CONSUMER pair: `messaging_system`;
//! - a CLIENT span with `db.system`, `db.name` or `db.namespace`: at once (databases are not
//!   instrumented), to a node named by `peer.service`, `db.namespace`, `db.name`, then
//!   `db.system`: `database`;
//! - a CLIENT or PRODUCER half that expires unpaired but names its peer (`peer.service`,
//!   `messaging.system`, `server.address`, or the older `net.peer.name`): to a virtual node of
//!   that name, `virtual_node`;
//! - a SERVER span without a parent (a request from outside): from the virtual node `user`,
//!   at once, `virtual_node`.
//!
//! Series: `traces_service_graph_request_total`, `traces_service_graph_request_failed_total`
//! (either half has status ERROR), and the histograms
//! `traces_service_graph_request_client_seconds` (client half's duration) and
//! `traces_service_graph_request_server_seconds` (server half's), each written once it has an
//! observation: an edge to a virtual node has only its client histogram, an edge from `user`
//! only its server histogram.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hashbrown::{DefaultHashBuilder, HashMap};
use sightline_model::{
    MetricMetadata, MetricType, Peer, Span, SpanBatch, SpanId, SpanKind, StatusCode, TraceId,
};

use super::series::{
    base_labels, bucket_names, AnyKey, BatchTable, Emit, ExemplarSlot, FlushedSeries, Histogram,
    KeyRef, SampleWriter, SeriesBudget, SeriesTable,
};

/// Requests per edge.
pub(crate) const REQUESTS: &str = "traces_service_graph_request_total";
/// Failed requests per edge.
pub(crate) const FAILED: &str = "traces_service_graph_request_failed_total";
/// The client half's duration.
pub(crate) const CLIENT_SECONDS: &str = "traces_service_graph_request_client_seconds";
/// The server half's duration.
pub(crate) const SERVER_SECONDS: &str = "traces_service_graph_request_server_seconds";
/// The edge labels, in key order.
const LABEL_NAMES: [&str; 3] = ["client", "server", "connection_type"];
/// The client of requests from outside (root SERVER spans).
pub(crate) const USER_NODE: &str = "user";

/// Family bits: the counters, the client histogram, the server histogram.
const COUNTS: u8 = 1;
const CLIENT: u8 = 2;
const SERVER: u8 = 4;

/// `connection_type` values.
const DIRECT: &str = "";
const MESSAGING: &str = "messaging_system";
const DATABASE: &str = "database";
const VIRTUAL: &str = "virtual_node";

/// What an edge has counted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EdgeMetrics {
    pub(crate) requests: u64,
    pub(crate) failed: u64,
    pub(crate) client: Histogram,
    pub(crate) server: Histogram,
}

impl EdgeMetrics {
    fn new(bounds_len: usize) -> Self {
        Self {
            requests: 0,
            failed: 0,
            client: Histogram::new(bounds_len),
            server: Histogram::new(bounds_len),
        }
    }

    fn merge(&mut self, other: &EdgeMetrics) {
        self.requests += other.requests;
        self.failed += other.failed;
        self.client.merge(&other.client);
        self.server.merge(&other.server);
    }
}

/// Which half of a request a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

/// One half of a request, waiting for the other.
#[derive(Debug, Clone)]
pub(crate) struct EdgeSpan {
    /// Trace id and the client half's span id: the pairing key.
    key: (TraceId, SpanId),
    side: Side,
    /// A PRODUCER or CONSUMER span.
    messaging: bool,
    service: Arc<str>,
    failed: bool,
    exemplar: ExemplarSlot,
    /// The peer a client half names, should its server never show up.
    peer: Option<Box<str>>,
}

/// What one export brings to the graph: edges known at once, and halves to pair.
#[derive(Default)]
pub(crate) struct PreparedEdges {
    pub(crate) direct: BatchTable<EdgeMetrics>,
    pub(crate) halves: Vec<EdgeSpan>,
}

/// Counts of one commit or expiry, for the self-metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GraphCounts {
    /// Edge updates refused by the series limit.
    pub(crate) refused: u64,
    /// Halves dropped because the unpaired store was full.
    pub(crate) dropped: u64,
    /// Halves that expired unpaired.
    pub(crate) expired: u64,
}

impl GraphCounts {
    fn add(&mut self, other: GraphCounts) {
        self.refused += other.refused;
        self.dropped += other.dropped;
        self.expired += other.expired;
    }
}

/// A waiting request: whichever halves have arrived.
struct PendingEdge {
    generation: u64,
    client: Option<EdgeSpan>,
    server: Option<EdgeSpan>,
}

/// A tenant's graph: edge series and unpaired halves.
#[derive(Default)]
pub(crate) struct GraphState {
    pub(crate) edges: SeriesTable<EdgeMetrics>,
    pending: HashMap<(TraceId, SpanId), PendingEdge>,
    /// Arrival order of pending keys, for expiry; stale entries (paired since) are skipped.
    order: VecDeque<(Instant, (TraceId, SpanId), u64)>,
    next_generation: u64,
}

impl GraphState {
    /// Returns the number of unpaired halves waiting.
    pub(crate) fn unpaired(&self) -> usize {
        self.pending.len()
    }
}

/// The service-graph processor's settings.
pub(crate) struct ServiceGraph {
    label_names: Vec<String>,
    bounds: Arc<[f64]>,
    bucket_names: Vec<String>,
    wait: Duration,
    max_items: usize,
}

impl ServiceGraph {
    /// Builds the processor: histogram `bounds`, how long halves `wait`, and how many may.
    pub(crate) fn new(bounds: Arc<[f64]>, wait: Duration, max_items: usize) -> Self {
        Self {
            label_names: LABEL_NAMES.iter().map(|name| name.to_string()).collect(),
            bucket_names: bucket_names(&bounds),
            bounds,
            wait,
            max_items,
        }
    }

    /// Prometheus series one edge makes at most: two counters and two histograms.
    pub(crate) fn series_per_entry(&self) -> usize {
        2 + 2 * (self.bucket_names.len() + 2)
    }

    /// Finds the edge halves of one export, and the edges that need no pairing.
    pub(crate) fn prepare(&self, hasher: &DefaultHashBuilder, batch: &SpanBatch) -> PreparedEdges {
        let mut prepared = PreparedEdges::default();
        for resource_spans in &batch.resources {
            let mut service: Option<Arc<str>> = None;
            let service_name = resource_spans.resource.service_name();
            for span in resource_spans.scopes.iter().flat_map(|scope| &scope.spans) {
                let side = match span.kind {
                    SpanKind::Client | SpanKind::Producer => Side::Client,
                    SpanKind::Server | SpanKind::Consumer => Side::Server,
                    SpanKind::Internal | SpanKind::Unspecified => continue,
                };
                let failed = span.status_code == StatusCode::Error;
                let exemplar = exemplar_of(span);
                if side == Side::Server && span.parent_span_id.is_none() {
                    if span.kind == SpanKind::Server {
                        let edge = [USER_NODE, service_name, VIRTUAL].map(Cow::Borrowed);
                        let key = KeyRef::new(hasher, &edge);
                        let metrics = prepared.direct.get_or_insert(&key, || self.new_edge());
                        count_request(metrics, failed);
                        metrics
                            .server
                            .observe(&self.bounds, exemplar.value, exemplar);
                    }
                    continue;
                }
                let peer = if side == Side::Client {
                    Peer::of(span)
                } else {
                    Peer::default()
                };
                if span.kind == SpanKind::Client {
                    if let Some(database) = peer.database_name() {
                        let edge = [
                            Cow::Borrowed(service_name),
                            database,
                            Cow::Borrowed(DATABASE),
                        ];
                        let key = KeyRef::new(hasher, &edge);
                        let metrics = prepared.direct.get_or_insert(&key, || self.new_edge());
                        count_request(metrics, failed);
                        metrics
                            .client
                            .observe(&self.bounds, exemplar.value, exemplar);
                        continue;
                    }
                }
                let key_span_id = match side {
                    Side::Client => span.span_id,
                    // Checked above: server halves without a parent never wait.
                    Side::Server => span.parent_span_id.unwrap_or(span.span_id),
                };
                let service = service
                    .get_or_insert_with(|| Arc::from(service_name))
                    .clone();
                prepared.halves.push(EdgeSpan {
                    key: (span.trace_id, key_span_id),
                    side,
                    messaging: matches!(span.kind, SpanKind::Producer | SpanKind::Consumer),
                    service,
                    failed,
                    exemplar,
                    peer: peer.virtual_node_name().map(|name| Box::from(&*name)),
                });
            }
        }
        prepared
    }

    fn new_edge(&self) -> EdgeMetrics {
        EdgeMetrics::new(self.bounds.len())
    }

    /// Adds one export's edges and halves to a tenant's graph, after expiring what waited
    /// too long.
    pub(crate) fn commit(
        &self,
        hasher: &DefaultHashBuilder,
        state: &mut GraphState,
        budget: &mut SeriesBudget,
        prepared: PreparedEdges,
        now: Instant,
    ) -> GraphCounts {
        let mut counts = self.expire(hasher, state, budget, now);
        let cost = self.series_per_entry();
        for (key, delta) in prepared.direct.into_entries() {
            match state
                .edges
                .upsert(AnyKey::Owned(key), now, budget, cost, || self.new_edge())
            {
                Some(metrics) => metrics.merge(&delta),
                None => counts.refused += delta.requests,
            }
        }
        for half in prepared.halves {
            counts.add(self.add_half(hasher, state, budget, half, now));
        }
        counts
    }

    fn add_half(
        &self,
        hasher: &DefaultHashBuilder,
        state: &mut GraphState,
        budget: &mut SeriesBudget,
        half: EdgeSpan,
        now: Instant,
    ) -> GraphCounts {
        let mut counts = GraphCounts::default();
        let key = half.key;
        if let Some(pending) = state.pending.get_mut(&key) {
            let other = match half.side {
                Side::Client => pending.server.take(),
                Side::Server => pending.client.take(),
            };
            match (other, half.side) {
                (Some(server), Side::Client) => {
                    state.pending.remove(&key);
                    counts.refused += self.record_pair(hasher, state, budget, &half, &server, now);
                }
                (Some(client), Side::Server) => {
                    state.pending.remove(&key);
                    counts.refused += self.record_pair(hasher, state, budget, &client, &half, now);
                }
                // The same half again (a retried export): keep the newer copy.
                (None, Side::Client) => pending.client = Some(half),
                (None, Side::Server) => pending.server = Some(half),
            }
            return counts;
        }
        if state.pending.len() >= self.max_items {
            counts.dropped += 1;
            return counts;
        }
        let generation = state.next_generation;
        state.next_generation += 1;
        let (client, server) = match half.side {
            Side::Client => (Some(half), None),
            Side::Server => (None, Some(half)),
        };
        state.pending.insert(
            key,
            PendingEdge {
                generation,
                client,
                server,
            },
        );
        state.order.push_back((now, key, generation));
        counts
    }

    /// Records a paired request; returns 1 when the series limit refused it.
    fn record_pair(
        &self,
        hasher: &DefaultHashBuilder,
        state: &mut GraphState,
        budget: &mut SeriesBudget,
        client: &EdgeSpan,
        server: &EdgeSpan,
        now: Instant,
    ) -> u64 {
        let connection = if client.messaging || server.messaging {
            MESSAGING
        } else {
            DIRECT
        };
        let edge = [&*client.service, &*server.service, connection].map(Cow::Borrowed);
        let key = KeyRef::new(hasher, &edge);
        let cost = self.series_per_entry();
        match state
            .edges
            .upsert(AnyKey::Borrowed(&key), now, budget, cost, || {
                self.new_edge()
            }) {
            Some(metrics) => {
                count_request(metrics, client.failed || server.failed);
                metrics
                    .client
                    .observe(&self.bounds, client.exemplar.value, client.exemplar);
                metrics
                    .server
                    .observe(&self.bounds, server.exemplar.value, server.exemplar);
                0
            }
            None => 1,
        }
    }

    /// Expires the halves that waited `wait` or longer: a client half naming its peer becomes
    /// an edge to a virtual node; every other half is only counted.
    pub(crate) fn expire(
        &self,
        hasher: &DefaultHashBuilder,
        state: &mut GraphState,
        budget: &mut SeriesBudget,
        now: Instant,
    ) -> GraphCounts {
        let mut counts = GraphCounts::default();
        while let Some(&(arrived, key, generation)) = state.order.front() {
            if now.saturating_duration_since(arrived) < self.wait {
                break;
            }
            state.order.pop_front();
            let current = state
                .pending
                .get(&key)
                .is_some_and(|pending| pending.generation == generation);
            if !current {
                continue;
            }
            let Some(pending) = state.pending.remove(&key) else {
                continue;
            };
            counts.expired += 1;
            if let (Some(client), None) = (&pending.client, &pending.server) {
                if let Some(peer) = &client.peer {
                    counts.refused += self.record_virtual(hasher, state, budget, client, peer, now);
                }
            }
        }
        // Keys paired since they arrived stay in `order` until their time comes; keep that
        // queue from outgrowing the store itself under a high rate of pairs.
        if state.order.len() > 2 * self.max_items.max(1024) {
            let pending = &state.pending;
            state.order.retain(|(_, key, generation)| {
                pending
                    .get(key)
                    .is_some_and(|waiting| waiting.generation == *generation)
            });
        }
        counts
    }

    fn record_virtual(
        &self,
        hasher: &DefaultHashBuilder,
        state: &mut GraphState,
        budget: &mut SeriesBudget,
        client: &EdgeSpan,
        peer: &str,
        now: Instant,
    ) -> u64 {
        let edge = [&*client.service, peer, VIRTUAL].map(Cow::Borrowed);
        let key = KeyRef::new(hasher, &edge);
        let cost = self.series_per_entry();
        match state
            .edges
            .upsert(AnyKey::Borrowed(&key), now, budget, cost, || {
                self.new_edge()
            }) {
            Some(metrics) => {
                count_request(metrics, client.failed);
                metrics
                    .client
                    .observe(&self.bounds, client.exemplar.value, client.exemplar);
                0
            }
            None => 1,
        }
    }

    /// Takes what a flush writes of one edge, and which families: the counters always, each
    /// histogram once it has an observation.
    pub(crate) fn snapshot(metrics: &mut EdgeMetrics) -> (EdgeMetrics, u8) {
        let mut families = COUNTS;
        if metrics.client.count > 0 {
            families |= CLIENT;
        }
        if metrics.server.count > 0 {
            families |= SERVER;
        }
        let snapshot = EdgeMetrics {
            requests: metrics.requests,
            failed: metrics.failed,
            client: metrics.client.take_snapshot(),
            server: metrics.server.take_snapshot(),
        };
        (snapshot, families)
    }

    /// Writes the flushed edges (and the families' metadata) into `writer`.
    pub(crate) fn write(&self, flushed: &[FlushedSeries<EdgeMetrics>], writer: &mut SampleWriter) {
        if flushed.is_empty() {
            return;
        }
        for (family, metric_type, help, unit) in [
            (
                REQUESTS,
                MetricType::Counter,
                "Requests between two services.",
                "",
            ),
            (
                FAILED,
                MetricType::Counter,
                "Failed requests between two services.",
                "",
            ),
            (
                CLIENT_SECONDS,
                MetricType::Histogram,
                "Request durations seen by the client.",
                "seconds",
            ),
            (
                SERVER_SECONDS,
                MetricType::Histogram,
                "Request durations seen by the server.",
                "seconds",
            ),
        ] {
            writer.metadata(MetricMetadata {
                metric_family: family.to_string(),
                metric_type,
                help: help.to_string(),
                unit: unit.to_string(),
            });
        }
        for series in flushed {
            let base = base_labels(&self.label_names, &series.values);
            let edge = &series.snapshot;
            let counts = Emit::of(series, COUNTS);
            writer.counter(&base, REQUESTS, edge.requests, counts);
            writer.counter(&base, FAILED, edge.failed, counts);
            let client = Emit::of(series, CLIENT);
            writer.histogram(
                &base,
                CLIENT_SECONDS,
                &self.bucket_names,
                &edge.client,
                client,
            );
            let server = Emit::of(series, SERVER);
            writer.histogram(
                &base,
                SERVER_SECONDS,
                &self.bucket_names,
                &edge.server,
                server,
            );
        }
    }
}

fn count_request(metrics: &mut EdgeMetrics, failed: bool) {
    metrics.requests += 1;
    if failed {
        metrics.failed += 1;
    }
}

fn exemplar_of(span: &Span) -> ExemplarSlot {
    ExemplarSlot {
        trace_id: span.trace_id,
        span_id: span.span_id,
        value: span.duration_nanos() as f64 / 1e9,
        timestamp_ms: (span.end_time_unix_nano / 1_000_000) as i64,
    }
}
