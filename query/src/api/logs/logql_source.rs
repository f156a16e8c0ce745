//! The log store as LogQL's [`LogSource`]: selections page through
//! [`LogStore::search_blocking`] in the requested direction (the LogQL engine runs on a
//! blocking thread), with `service_name="…"` pushed down to the store's service filter; stream
//! matchers are then applied exactly on each record's stream labels.
//!
//! `series` (and the label endpoints built on it) reads the records of the range, at most
//! [`MAX_SERIES_SCAN_RECORDS`], and collects their distinct stream label sets.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sightline_model::{Labels, TenantId};
use sightline_store::logs::{LogDirection, LogQuery};
use sightline_store::LogStore;

use crate::logql::source::{labels_match, line, stream_labels, structured_metadata};
use crate::logql::{Direction, Error, LabelMatcher, LogEntry, LogRequest, LogSource, MatchOp};

/// Records read per page of a selection, at most (the cap bounds the memory of a page of long
/// lines): the first page holds what the engine hints it needs (at least
/// [`FIRST_PAGE_RECORDS`]), each next one twice as many, since needing another page means
/// filters are rejecting records. (Each page is one store search; pages of the engine's
/// limit made a rare line filter over a long range read the stream's postings thousands of
/// times.)
const PAGE_RECORDS: usize = 2_000;
/// Records of the first page, at least.
const FIRST_PAGE_RECORDS: usize = 100;
/// Records a `series` call reads at most; streams seen only after that are not reported.
pub(crate) const MAX_SERIES_SCAN_RECORDS: usize = 1_000_000;

/// The store query for a time range and matchers: `service_name` equality pushed down.
fn store_query(
    matchers: &[LabelMatcher],
    start_unix_nano: u64,
    end_unix_nano: u64,
    direction: LogDirection,
    limit: usize,
) -> Option<LogQuery> {
    if end_unix_nano <= start_unix_nano {
        return None;
    }
    let service = matchers
        .iter()
        .find(|matcher| matcher.name == "service_name" && matcher.op == MatchOp::Equal)
        .map(|matcher| matcher.value.clone());
    Some(LogQuery {
        start_unix_nano,
        end_unix_nano: end_unix_nano - 1,
        service,
        direction,
        limit,
        ..LogQuery::default()
    })
}

/// Visits every record of the query, page by page, until `visit` breaks.
fn scan(
    store: &LogStore,
    tenant: &TenantId,
    mut query: LogQuery,
    visit: &mut dyn FnMut(&sightline_store::logs::LogHit) -> ControlFlow<()>,
) -> Result<(), Error> {
    loop {
        let page = store.search_blocking(tenant, query.clone())?;
        for hit in &page.hits {
            if visit(hit).is_break() {
                return Ok(());
            }
        }
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(()),
        }
        query.limit = (query.limit * 2).min(PAGE_RECORDS);
    }
}

impl LogSource for LogStore {
    fn select(
        &self,
        tenant: &TenantId,
        request: &LogRequest,
        visit: &mut dyn FnMut(LogEntry) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let direction = match request.direction {
            Direction::Forward => LogDirection::Forward,
            Direction::Backward => LogDirection::Backward,
        };
        let page = request.limit_hint.map_or(PAGE_RECORDS, |hint| {
            hint.clamp(FIRST_PAGE_RECORDS, PAGE_RECORDS)
        });
        let Some(query) = store_query(
            &request.matchers,
            request.start_unix_nano,
            request.end_unix_nano,
            direction,
            page,
        ) else {
            return Ok(());
        };
        scan(self, tenant, query, &mut |hit| {
            // The line first: a line filter usually rejects most records, before their labels
            // and metadata are built.
            let line = line(&hit.row);
            if !request
                .required_substrings
                .iter()
                .all(|needle| line.contains(needle.as_str()))
            {
                return ControlFlow::Continue(());
            }
            let labels = stream_labels(&hit.row);
            if !labels_match(&labels, &request.matchers) {
                return ControlFlow::Continue(());
            }
            visit(LogEntry {
                timestamp_unix_nano: hit.timestamp_unix_nano,
                labels,
                line,
                metadata: structured_metadata(&hit.row),
            })
        })
    }

    fn series(
        &self,
        tenant: &TenantId,
        matchers: &[LabelMatcher],
        start_unix_nano: u64,
        end_unix_nano: u64,
    ) -> Result<Vec<Labels>, Error> {
        let Some(query) = store_query(
            matchers,
            start_unix_nano,
            end_unix_nano,
            LogDirection::Backward,
            PAGE_RECORDS,
        ) else {
            return Ok(Vec::new());
        };
        let mut found = HashSet::new();
        let mut read = 0usize;
        scan(self, tenant, query, &mut |hit| {
            read += 1;
            let labels = stream_labels(&hit.row);
            if labels_match(&labels, matchers) {
                found.insert(labels);
            }
            if read >= MAX_SERIES_SCAN_RECORDS {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok(found.into_iter().collect())
    }
}
