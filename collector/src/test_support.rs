//! Helpers the receivers' unit tests share.

use sightline_model::TenantId;
use sightline_store::logs::{LogFilter, LogQuery};
use sightline_store::LogStore;

/// How many of the default tenant's records match `text` (the store's query language).
pub(crate) async fn count_logs(logs: &LogStore, text: &str) -> usize {
    let query = LogQuery {
        filter: LogFilter::parse(text).unwrap(),
        ..LogQuery::default()
    };
    logs.search(&TenantId::default_tenant(), query)
        .await
        .unwrap()
        .hits
        .len()
}
