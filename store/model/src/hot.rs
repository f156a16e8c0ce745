//! Attribute keys promoted to dedicated columns: the writer, the pruning code and the docs all
//! read this one table.

/// Span attribute keys stored in dedicated, dictionary-encoded string columns as well as in the
/// generic attribute column. Values are rendered as text. The column name is the key with `.`
/// replaced by `_`.
pub const HOT_SPAN_ATTRIBUTES: &[&str] = &[
    "http.request.method",
    "http.route",
    "http.response.status_code",
    "rpc.service",
    "rpc.method",
    "db.system",
    "messaging.system",
    "peer.service",
    "server.address",
];

/// Returns the dedicated column name for a hot attribute key.
pub fn column_name(key: &str) -> String {
    format!("attr_{}", key.replace('.', "_"))
}
