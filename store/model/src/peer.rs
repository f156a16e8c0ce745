//! What a client span says about its callee: `peer.service`, the database attributes
//! (`db.namespace`, `db.name`, `db.system`), `messaging.system`, `server.address` and the older
//! `net.peer.name`, which name the node of a database edge or of a virtual node.
//!
//! One definition for both sides: the collector's service-graph processor names edges with it,
//! and the query side's edge search finds the spans of an edge with it.

use std::borrow::Cow;

use crate::Span;

/// The attributes of a client span that name what it calls, found in one pass.
#[derive(Debug, Default)]
pub struct Peer<'a> {
    peer_service: Option<Cow<'a, str>>,
    db_namespace: Option<Cow<'a, str>>,
    db_name: Option<Cow<'a, str>>,
    db_system: Option<Cow<'a, str>>,
    messaging_system: Option<Cow<'a, str>>,
    server_address: Option<Cow<'a, str>>,
    net_peer_name: Option<Cow<'a, str>>,
}

impl<'a> Peer<'a> {
    /// Reads the naming attributes of `span`.
    pub fn of(span: &'a Span) -> Self {
        let mut peer = Peer::default();
        for attribute in &span.attributes {
            let slot = match attribute.key.as_str() {
                "peer.service" => &mut peer.peer_service,
                "db.namespace" => &mut peer.db_namespace,
                "db.name" => &mut peer.db_name,
                "db.system" | "db.system.name" => &mut peer.db_system,
                "messaging.system" => &mut peer.messaging_system,
                "server.address" => &mut peer.server_address,
                "net.peer.name" => &mut peer.net_peer_name,
                _ => continue,
            };
            let text = attribute.value.as_text();
            if !text.is_empty() {
                *slot = Some(text);
            }
        }
        peer
    }

    /// The database node's name, when the span calls a database.
    pub fn database_name(&self) -> Option<Cow<'a, str>> {
        let is_database =
            self.db_system.is_some() || self.db_name.is_some() || self.db_namespace.is_some();
        if !is_database {
            return None;
        }
        self.peer_service
            .clone()
            .or_else(|| self.db_namespace.clone())
            .or_else(|| self.db_name.clone())
            .or_else(|| self.db_system.clone())
    }

    /// The virtual node's name, should the span's server never show up.
    pub fn virtual_node_name(&self) -> Option<Cow<'a, str>> {
        self.peer_service
            .clone()
            .or_else(|| self.messaging_system.clone())
            .or_else(|| self.server_address.clone())
            .or_else(|| self.net_peer_name.clone())
    }
}
