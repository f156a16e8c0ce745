//! Live tail: `GET /api/v1/logs/tail` as server-sent events.
//!
//! Each subscriber receives the store's broadcast of durable records, keeps its tenant's that
//! match the filters, and sends each as a `log` event. A subscriber that falls more than
//! [`TAIL_CHANNEL_CAPACITY`](sightline_store::logs::TAIL_CHANNEL_CAPACITY) batches behind gets
//! a `lagged` event with the number of batches it missed, then continues with the newest.
//! Subscribers are bounded ([`MAX_TAIL_SUBSCRIBERS`]); beyond that the request answers 503.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use http::HeaderMap;
use sightline_model::TenantId;
use sightline_store::logs::{LogQuery, TailBatch};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, OwnedSemaphorePermit};

use super::{params, parse_log_filters, render::RecordJson, LogsError};
use crate::api::AppState;
use crate::error::Error;

/// Concurrent tail subscribers allowed.
pub(crate) const MAX_TAIL_SUBSCRIBERS: usize = 64;

/// Creates the semaphore bounding tail subscribers.
pub(crate) fn new_tail_permits() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(MAX_TAIL_SUBSCRIBERS))
}

struct Subscriber {
    receiver: broadcast::Receiver<Arc<TailBatch>>,
    tenant: TenantId,
    query: LogQuery,
    pending: std::collections::VecDeque<Event>,
    _permit: OwnedSemaphorePermit,
}

pub(super) async fn tail(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, LogsError> {
    let params = params(query)?;
    let mut log_query = parse_log_filters(&params, 0)?;
    // A tail has no time window: every new record counts.
    log_query.start_unix_nano = 0;
    log_query.end_unix_nano = u64::MAX;
    let tenant = state.tenant(&headers)?;
    let permit = state
        .tail_permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            Error::Store(sightline_store::Error::Overloaded {
                used_bytes: MAX_TAIL_SUBSCRIBERS as u64,
                limit_bytes: MAX_TAIL_SUBSCRIBERS as u64,
            })
        })?;
    let subscriber = Subscriber {
        receiver: state.logs.subscribe(),
        tenant,
        query: log_query,
        pending: std::collections::VecDeque::new(),
        _permit: permit,
    };
    Ok(Sse::new(events(subscriber))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn events(subscriber: Subscriber) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(subscriber, |mut subscriber| async move {
        loop {
            if let Some(event) = subscriber.pending.pop_front() {
                return Some((Ok(event), subscriber));
            }
            match subscriber.receiver.recv().await {
                Ok(batch) => {
                    if batch.tenant != subscriber.tenant {
                        continue;
                    }
                    for hit in batch.hits.iter() {
                        if subscriber
                            .query
                            .matches(hit.timestamp_unix_nano, hit.sequence, &hit.row)
                        {
                            let json = serde_json::to_string(&RecordJson::from_hit(hit))
                                .unwrap_or_else(|_| "{}".to_string());
                            subscriber
                                .pending
                                .push_back(Event::default().event("log").data(json));
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let data = serde_json::json!({ "missed_batches": missed }).to_string();
                    return Some((Ok(Event::default().event("lagged").data(data)), subscriber));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}
