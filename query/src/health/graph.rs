//! The dependency graph: one node per service and per peer the service graph names (the
//! `user` who calls root spans, databases, queues, external APIs), one edge per
//! `(client, server, connection_type)`, each with its figures and health.

use std::collections::BTreeMap;

use serde::Serialize;

use super::objectives::{judge, Evidence, HealthConfig, HealthStatus};
use super::services::ServiceHealth;
use super::stats::{EdgeKey, EdgeRed, Red};

/// The service graph's name for callers from outside (root `SERVER` spans).
pub const USER_NODE: &str = "user";

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// An instrumented service.
    Service,
    /// Callers from outside.
    User,
    /// A database (`db.system`), seen only from its clients.
    Database,
    /// A messaging system (`messaging.system`) with no instrumented consumer.
    Messaging,
    /// Any other uninstrumented peer (`peer.service`, `server.address`).
    External,
}

/// A node and its health.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Its name: the service name, or the peer's.
    pub name: String,
    /// What it is.
    pub kind: NodeKind,
    /// Its health: a service's own, a peer's judged on the requests it received.
    pub status: HealthStatus,
    /// Why.
    pub reasons: Vec<String>,
    /// A service's own figures; a peer's, the sum of its incoming edges.
    pub red: Red,
}

/// The graph for a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    /// Nodes, by name.
    pub nodes: Vec<Node>,
    /// Edges with their figures, by client, server and connection type.
    pub edges: Vec<(EdgeKey, EdgeRed)>,
}

/// Builds the graph from judged services and the window's edges.
pub fn build_graph(
    config: &HealthConfig,
    services: &[ServiceHealth],
    edges: BTreeMap<EdgeKey, EdgeRed>,
) -> Graph {
    let mut nodes: BTreeMap<String, Node> = services
        .iter()
        .map(|service| {
            let node = Node {
                name: service.name.clone(),
                kind: NodeKind::Service,
                status: service.status,
                reasons: service.reasons.clone(),
                red: service.red.clone(),
            };
            (service.name.clone(), node)
        })
        .collect();
    // Peers: everything an edge names that is not a service, with what it received.
    let mut peers: BTreeMap<String, (NodeKind, Red)> = BTreeMap::new();
    for ((client, server, connection_type), edge) in &edges {
        if !nodes.contains_key(client) && !peers.contains_key(client) {
            let kind = if client == USER_NODE {
                NodeKind::User
            } else {
                NodeKind::External
            };
            peers.insert(client.clone(), (kind, Red::default()));
        }
        if !nodes.contains_key(server) {
            let kind = match connection_type.as_str() {
                "database" => NodeKind::Database,
                "messaging_system" => NodeKind::Messaging,
                _ => NodeKind::External,
            };
            let (known_kind, received) = peers
                .entry(server.clone())
                .or_insert((kind, Red::default()));
            // The most specific kind wins: a database seen also as a plain peer stays a database.
            *known_kind = (*known_kind).min(kind);
            received.merge(&edge.latency());
        }
    }
    for (name, (kind, red)) in peers {
        let (status, reasons) = if kind == NodeKind::User {
            (HealthStatus::Healthy, Vec::new())
        } else {
            let evidence = Evidence {
                requests: red.requests,
                error_ratio: red.error_ratio(),
                latency_p99_ms: red.quantile_seconds(0.99).map(|seconds| seconds * 1000.0),
                ..Evidence::default()
            };
            judge(&config.objectives(&name), &evidence)
        };
        nodes.insert(
            name.clone(),
            Node {
                name,
                kind,
                status,
                reasons,
                red,
            },
        );
    }
    Graph {
        nodes: nodes.into_values().collect(),
        edges: edges.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::stats::KindRed;

    fn red(requests: f64, errors: f64) -> Red {
        Red {
            requests,
            errors,
            buckets: vec![(0.1, requests), (f64::INFINITY, requests)],
        }
    }

    fn edge(
        client: &str,
        server: &str,
        kind: &str,
        requests: f64,
        errors: f64,
    ) -> (EdgeKey, EdgeRed) {
        (
            (client.into(), server.into(), kind.into()),
            EdgeRed {
                red: Red {
                    buckets: Vec::new(),
                    ..red(requests, errors)
                },
                client_buckets: red(requests, errors).buckets,
            },
        )
    }

    #[test]
    fn peers_become_typed_nodes_judged_on_what_they_received() {
        let config = HealthConfig::default();
        let figures = KindRed {
            entry: red(100.0, 0.0),
            all: red(150.0, 0.0),
        };
        let frontend = crate::health::services::judge_one(
            &config,
            "frontend".into(),
            &figures,
            vec![],
            vec![],
        );
        let edges: BTreeMap<_, _> = [
            edge(USER_NODE, "frontend", "", 100.0, 0.0),
            edge("frontend", "orders", "database", 50.0, 10.0),
            edge("frontend", "kafka", "messaging_system", 20.0, 0.0),
            edge("frontend", "api.stripe.test", "virtual_node", 30.0, 0.0),
        ]
        .into_iter()
        .collect();
        let graph = build_graph(&config, &[frontend], edges);
        let kinds: Vec<(&str, NodeKind, HealthStatus)> = graph
            .nodes
            .iter()
            .map(|node| (node.name.as_str(), node.kind, node.status))
            .collect();
        assert_eq!(
            kinds,
            [
                ("api.stripe.test", NodeKind::External, HealthStatus::Healthy),
                ("frontend", NodeKind::Service, HealthStatus::Healthy),
                ("kafka", NodeKind::Messaging, HealthStatus::Healthy),
                ("orders", NodeKind::Database, HealthStatus::Unhealthy),
                ("user", NodeKind::User, HealthStatus::Healthy),
            ]
        );
        let orders = &graph.nodes[3];
        assert_eq!((orders.red.requests, orders.red.errors), (50.0, 10.0));
        assert_eq!(orders.red.quantile_seconds(0.5), Some(0.05));
        assert_eq!(graph.edges.len(), 4);
    }
}
