//! Searching the traces of one edge of the service graph: `service=A&peerService=B` finds
//! traces in which `A` calls `B`, by the same pairing rules the collector's service-graph
//! processor draws the edge with (so a click on an edge of the map lists its traces):
//!
//! - a CLIENT (or PRODUCER) span of `A` whose child is a SERVER (or CONSUMER) span of `B`;
//! - a CLIENT span of `A` calling a database named `B` ([`Peer::database_name`]);
//! - a CLIENT or PRODUCER span of `A` with no server-side child that names `B` as its peer
//!   ([`Peer::virtual_node_name`]: `peer.service`, `messaging.system`, `server.address`, …);
//! - from the virtual node `user`: a SERVER span of `B` without a parent.
//!
//! The store finds traces by one span's filters, not by a pair of spans, so the search runs in
//! two steps: the span filters select up to [`EDGE_CANDIDATE_FACTOR`] × `limit` candidate
//! traces (spans of `A`, or of `B` for `user`), newest first, and each candidate is assembled
//! and kept when it holds the edge, until `limit` are kept.

use sightline_model::{Peer, SpanKind};
use sightline_store::SpanQuery;

use super::QueryParams;
use crate::error::Error;
use crate::trace::{AssembledSpan, AssembledTrace};

/// How many candidate traces an edge search reads per trace it may return.
pub const EDGE_CANDIDATE_FACTOR: usize = 5;
/// The most candidate traces one edge search reads, whatever its limit.
pub const MAX_EDGE_CANDIDATES: usize = 5_000;
/// The virtual node requests from outside the system come from.
const USER_NODE: &str = "user";

/// One edge of the service graph: `client` calls `server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeFilter {
    /// The calling side: a service, or `user`.
    pub client: String,
    /// The called side: a service, a database, or a virtual node.
    pub server: String,
}

impl EdgeFilter {
    /// Reads `peerService` (with `service` as the client side); `None` without it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when `peerService` is given without `service`.
    pub fn from_params(params: &QueryParams) -> Result<Option<Self>, Error> {
        let Some(server) = params.get("peerService") else {
            return Ok(None);
        };
        let Some(client) = params.get("service") else {
            return Err(Error::invalid_parameter(
                "peerService",
                "needs `service`, the calling side of the edge",
            ));
        };
        Ok(Some(Self {
            client: client.to_owned(),
            server: server.to_owned(),
        }))
    }

    /// The store query selecting candidate traces: `query`'s filters and time range, the
    /// candidate budget as its limit, and for `user` the called service as its service.
    pub fn candidate_query(&self, query: &SpanQuery) -> SpanQuery {
        let mut candidates = query.clone();
        candidates.limit = query
            .limit
            .saturating_mul(EDGE_CANDIDATE_FACTOR)
            .min(MAX_EDGE_CANDIDATES);
        if self.client == USER_NODE {
            candidates.service = Some(self.server.clone());
        }
        candidates
    }

    /// Says whether `trace` holds a call from the client side to the server side.
    pub fn matches(&self, trace: &AssembledTrace) -> bool {
        trace.spans.iter().any(|span| {
            self.is_call(trace, span) || (self.client == USER_NODE && self.is_user_entry(span))
        })
    }

    /// `span` is a client half of this edge's caller that reaches the called side.
    fn is_call(&self, trace: &AssembledTrace, span: &AssembledSpan) -> bool {
        let kind = span.row.span.kind;
        if *span.row.service_name != *self.client
            || !matches!(kind, SpanKind::Client | SpanKind::Producer)
        {
            return false;
        }
        let mut has_server_half = false;
        for &child in &span.children {
            let child = &trace.spans[child].row;
            if matches!(child.span.kind, SpanKind::Server | SpanKind::Consumer) {
                if *child.service_name == *self.server {
                    return true;
                }
                has_server_half = true;
            }
        }
        let peer = Peer::of(&span.row.span);
        if kind == SpanKind::Client
            && peer
                .database_name()
                .is_some_and(|name| name == self.server.as_str())
        {
            return true;
        }
        !has_server_half
            && peer
                .virtual_node_name()
                .is_some_and(|name| name == self.server.as_str())
    }

    /// `span` is a request into the called service from outside: a SERVER span without a
    /// parent.
    fn is_user_entry(&self, span: &AssembledSpan) -> bool {
        span.row.span.kind == SpanKind::Server
            && span.row.span.parent_span_id.is_none()
            && *span.row.service_name == *self.server
    }
}

/// Keeps the traces that hold `edge`, at most `limit`, in their order.
pub fn keep_edge_traces(
    traces: Vec<AssembledTrace>,
    edge: &EdgeFilter,
    limit: usize,
) -> Vec<AssembledTrace> {
    traces
        .into_iter()
        .filter(|trace| edge.matches(trace))
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use sightline_model::{AnyValue, KeyValue, SpanRow};

    use super::*;
    use crate::trace::assemble_trace;
    use crate::trace::fixtures::row;

    fn kind(mut span: SpanRow, kind: SpanKind) -> SpanRow {
        span.span.kind = kind;
        span
    }

    fn with_attribute(mut span: SpanRow, key: &str, value: &str) -> SpanRow {
        span.span.attributes.push(KeyValue {
            key: key.to_owned(),
            value: AnyValue::String(value.to_owned()),
        });
        span
    }

    fn edge(client: &str, server: &str) -> EdgeFilter {
        EdgeFilter {
            client: client.to_owned(),
            server: server.to_owned(),
        }
    }

    fn trace(rows: Vec<SpanRow>) -> AssembledTrace {
        assemble_trace(rows).expect("rows make a trace")
    }

    /// frontend (server, root) → frontend client → checkout server → checkout client to
    /// postgres (db) and to an unanswered `payments` peer.
    fn checkout() -> AssembledTrace {
        trace(vec![
            kind(row("frontend", 1, 0, 0, 100), SpanKind::Server),
            kind(row("frontend", 2, 1, 10, 90), SpanKind::Client),
            kind(row("checkout", 3, 2, 20, 80), SpanKind::Server),
            with_attribute(
                kind(row("checkout", 4, 3, 30, 40), SpanKind::Client),
                "db.system",
                "postgresql",
            ),
            with_attribute(
                kind(row("checkout", 5, 3, 50, 60), SpanKind::Client),
                "peer.service",
                "payments",
            ),
        ])
    }

    #[test]
    fn a_client_server_pair_is_the_edge_in_its_direction_only() {
        let trace = checkout();
        assert!(edge("frontend", "checkout").matches(&trace));
        assert!(!edge("checkout", "frontend").matches(&trace));
        assert!(!edge("frontend", "payments").matches(&trace));
    }

    #[test]
    fn databases_virtual_nodes_and_user_are_named_like_the_service_graph() {
        let trace = checkout();
        assert!(edge("checkout", "postgresql").matches(&trace));
        assert!(edge("checkout", "payments").matches(&trace));
        assert!(edge("user", "frontend").matches(&trace));
        assert!(!edge("user", "checkout").matches(&trace));
    }

    #[test]
    fn a_peer_named_by_a_client_that_got_its_server_half_is_not_a_virtual_edge() {
        let answered = trace(vec![
            with_attribute(
                kind(row("frontend", 1, 0, 0, 100), SpanKind::Client),
                "peer.service",
                "checkout-lb",
            ),
            kind(row("checkout", 2, 1, 10, 90), SpanKind::Server),
        ]);
        assert!(edge("frontend", "checkout").matches(&answered));
        assert!(!edge("frontend", "checkout-lb").matches(&answered));
    }

    #[test]
    fn the_filter_needs_the_calling_side_and_widens_the_candidates() {
        let params = |pairs: &[(&str, &str)]| {
            QueryParams::new(
                pairs
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.to_string()))
                    .collect(),
            )
        };
        assert_eq!(EdgeFilter::from_params(&params(&[])).unwrap(), None);
        assert!(EdgeFilter::from_params(&params(&[("peerService", "b")])).is_err());
        let filter = EdgeFilter::from_params(&params(&[("service", "user"), ("peerService", "b")]))
            .unwrap()
            .unwrap();
        let query = SpanQuery {
            service: Some("user".to_owned()),
            limit: 20,
            ..SpanQuery::default()
        };
        let candidates = filter.candidate_query(&query);
        assert_eq!(candidates.limit, 100);
        assert_eq!(candidates.service.as_deref(), Some("b"));
        let big = SpanQuery {
            limit: 10_000,
            ..query
        };
        assert_eq!(filter.candidate_query(&big).limit, MAX_EDGE_CANDIDATES);
    }
}
