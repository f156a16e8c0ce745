use std::time::{SystemTime, UNIX_EPOCH};

use sightline_model::{
    AnyValue, Event, KeyValue, Link, Resource, ResourceSpans, Scope, ScopeSpans, Span, SpanId,
    StatusCode,
};

use super::*;
use crate::part::writer::ROW_GROUP_ROWS;

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        data_dir: dir.to_path_buf(),
        ..StoreConfig::default()
    }
}

/// A store over `dir` that merges a partition's parts once three are there.
async fn compacting_store(dir: &std::path::Path) -> SpanStore {
    SpanStore::open(StoreConfig {
        compaction_min_parts: 3,
        ..config(dir)
    })
    .await
    .unwrap()
}

fn span(trace: u8, id: u8, parent: Option<u8>, start: u64) -> Span {
    Span {
        trace_id: TraceId([trace; 16]),
        span_id: SpanId([id; 8]),
        parent_span_id: parent.map(|parent| SpanId([parent; 8])),
        trace_state: "k=v".into(),
        flags: 1,
        name: format!("op-{id}"),
        kind: SpanKind::Server,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000_000 * u64::from(id),
        attributes: vec![
            KeyValue::new("http.route", AnyValue::String("/users/{id}".into())),
            KeyValue::new("retries", AnyValue::Int(3)),
            KeyValue::new("ratio", AnyValue::Double(0.25)),
            KeyValue::new("blob", AnyValue::Bytes(vec![0, 255])),
            KeyValue::new(
                "list",
                AnyValue::Array(vec![AnyValue::Bool(true), AnyValue::Empty]),
            ),
        ],
        dropped_attributes_count: 2,
        events: vec![Event {
            time_unix_nano: start + 5,
            name: "exception".into(),
            attributes: vec![],
            dropped_attributes_count: 1,
        }],
        dropped_events_count: 3,
        links: vec![Link {
            trace_id: TraceId([9; 16]),
            span_id: SpanId([9; 8]),
            flags: 1,
            ..Link::default()
        }],
        dropped_links_count: 4,
        status_code: if id.is_multiple_of(2) {
            StatusCode::Error
        } else {
            StatusCode::Ok
        },
        status_message: "m".into(),
    }
}

fn batch(service: &str, spans: Vec<Span>) -> SpanBatch {
    SpanBatch {
        resources: vec![ResourceSpans {
            resource: Resource {
                attributes: vec![KeyValue::new(
                    "service.name",
                    AnyValue::String(service.into()),
                )],
                dropped_attributes_count: 1,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            },
            scopes: vec![ScopeSpans {
                scope: Scope {
                    name: "lib".into(),
                    version: "1.0".into(),
                    ..Scope::default()
                },
                spans,
            }],
        }],
    }
}

/// A trace id whose order is unrelated to `index`, so consecutive indices spread over a part.
fn trace(index: u32) -> TraceId {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&index.wrapping_mul(2_654_435_761).to_be_bytes());
    bytes[15] = 1;
    TraceId(bytes)
}

fn sorted(mut rows: Vec<SpanRow>) -> Vec<SpanRow> {
    rows.sort_by_key(|row| row.span.span_id);
    rows
}

#[tokio::test]
async fn spans_survive_head_flush_and_reopen_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let start = now_nanos();
    let input = batch(
        "checkout",
        vec![
            span(1, 1, None, start),
            span(1, 2, Some(1), start + 10),
            span(2, 3, None, start + 20),
        ],
    );
    let expected = sorted(
        input
            .clone()
            .into_rows()
            .into_iter()
            .filter(|row| row.span.trace_id == TraceId([1; 16]))
            .collect(),
    );

    let store = SpanStore::open(config(dir.path())).await.unwrap();
    store.append(&tenant, input).await.unwrap();
    assert_eq!(
        sorted(store.find_trace(&tenant, TraceId([1; 16])).await.unwrap()),
        expected,
        "from the head"
    );

    store.flush().await.unwrap();
    assert_eq!(
        sorted(store.find_trace(&tenant, TraceId([1; 16])).await.unwrap()),
        expected,
        "from a part"
    );
    assert!(store
        .find_trace(&tenant, TraceId([3; 16]))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .find_trace(&TenantId::new("other").unwrap(), TraceId([1; 16]))
        .await
        .unwrap()
        .is_empty());

    // Unflushed data after the flush comes back by WAL replay, flushed data from the catalog.
    store
        .append(&tenant, batch("cart", vec![span(4, 5, None, start + 30)]))
        .await
        .unwrap();
    drop(store);
    let reopened = SpanStore::open(config(dir.path())).await.unwrap();
    assert_eq!(
        sorted(
            reopened
                .find_trace(&tenant, TraceId([1; 16]))
                .await
                .unwrap()
        ),
        expected
    );
    assert_eq!(
        reopened
            .find_trace(&tenant, TraceId([4; 16]))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        reopened.services(&tenant).await.unwrap(),
        vec!["cart".to_string(), "checkout".to_string()]
    );
}

#[tokio::test]
async fn search_finds_newest_traces_in_head_and_parts() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let start = now_nanos();
    let store = SpanStore::open(config(dir.path())).await.unwrap();
    store
        .append(
            &tenant,
            batch(
                "a",
                vec![span(1, 1, None, start), span(2, 2, None, start + 100)],
            ),
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    store
        .append(&tenant, batch("a", vec![span(3, 3, None, start + 200)]))
        .await
        .unwrap();
    store
        .append(&tenant, batch("b", vec![span(4, 4, None, start + 300)]))
        .await
        .unwrap();

    let all = SpanQuery {
        service: Some("a".into()),
        start_unix_nano: 0,
        end_unix_nano: u64::MAX,
        limit: 10,
        ..SpanQuery::default()
    };
    assert_eq!(
        store.search_trace_ids(&tenant, &all).await.unwrap(),
        vec![TraceId([3; 16]), TraceId([2; 16]), TraceId([1; 16])]
    );
    let limited = SpanQuery {
        limit: 2,
        ..all.clone()
    };
    assert_eq!(
        store.search_trace_ids(&tenant, &limited).await.unwrap(),
        vec![TraceId([3; 16]), TraceId([2; 16])]
    );
    let errors = SpanQuery {
        status: Some(StatusCode::Error),
        ..all.clone()
    };
    assert_eq!(
        store.search_trace_ids(&tenant, &errors).await.unwrap(),
        vec![TraceId([2; 16])]
    );
    let by_attribute = SpanQuery {
        attributes: vec![("retries".into(), "3".into())],
        min_duration_nanos: Some(2_000_000),
        ..all.clone()
    };
    assert_eq!(
        store
            .search_trace_ids(&tenant, &by_attribute)
            .await
            .unwrap(),
        vec![TraceId([3; 16]), TraceId([2; 16])]
    );
    let by_hot_column = SpanQuery {
        attributes: vec![("http.route".into(), "/users/{id}".into())],
        ..all.clone()
    };
    assert_eq!(
        store
            .search_trace_ids(&tenant, &by_hot_column)
            .await
            .unwrap()
            .len(),
        3
    );
    let by_hot_column_miss = SpanQuery {
        attributes: vec![("http.route".into(), "/other".into())],
        ..all.clone()
    };
    assert!(store
        .search_trace_ids(&tenant, &by_hot_column_miss)
        .await
        .unwrap()
        .is_empty());
    let by_resource = SpanQuery {
        service: None,
        attributes: vec![("service.name".into(), "b".into())],
        ..all
    };
    assert_eq!(
        store.search_trace_ids(&tenant, &by_resource).await.unwrap(),
        vec![TraceId([4; 16])]
    );
    let operations = store.operations(&tenant, "a").await.unwrap();
    assert_eq!(operations.len(), 3);
}

#[tokio::test]
async fn compaction_merges_parts_and_keeps_every_span() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let start = now_nanos();
    let store = compacting_store(dir.path()).await;
    for index in 1..=3u8 {
        store
            .append(
                &tenant,
                batch(
                    "a",
                    vec![span(index, index, None, start + u64::from(index))],
                ),
            )
            .await
            .unwrap();
        store.flush().await.unwrap();
    }
    assert_eq!(store.inner.catalog.parts(&tenant).len(), 3);
    store.run_maintenance_once().await.unwrap();
    assert_eq!(store.inner.catalog.parts(&tenant).len(), 1);
    for index in 1..=3u8 {
        assert_eq!(
            store
                .find_trace(&tenant, TraceId([index; 16]))
                .await
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn retention_deletes_expired_day_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let store = SpanStore::open(StoreConfig {
        retention_hours: 48,
        ..config(dir.path())
    })
    .await
    .unwrap();
    let old = now_nanos() - 3 * 24 * 3600 * 1_000_000_000;
    store
        .append(&tenant, batch("a", vec![span(1, 1, None, old)]))
        .await
        .unwrap();
    store
        .append(&tenant, batch("a", vec![span(2, 2, None, now_nanos())]))
        .await
        .unwrap();
    store.flush().await.unwrap();
    store.run_maintenance_once().await.unwrap();
    assert!(store
        .find_trace(&tenant, TraceId([1; 16]))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .find_trace(&tenant, TraceId([2; 16]))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn torn_wal_tail_is_ignored_on_replay() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let store = SpanStore::open(config(dir.path())).await.unwrap();
    store
        .append(&tenant, batch("a", vec![span(1, 1, None, now_nanos())]))
        .await
        .unwrap();
    store.inner.wal.close().await;
    drop(store);
    let (_, segment) = wal::list_segments(&dir.path().join("wal"))
        .unwrap()
        .pop()
        .unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(segment)
        .unwrap();
    std::io::Write::write_all(&mut file, &[200, 0, 0, 0, 1, 2]).unwrap();
    let reopened = SpanStore::open(config(dir.path())).await.unwrap();
    assert_eq!(
        reopened
            .find_trace(&tenant, TraceId([1; 16]))
            .await
            .unwrap()
            .len(),
        1
    );
    reopened
        .append(&tenant, batch("a", vec![span(2, 2, None, now_nanos())]))
        .await
        .unwrap();
}

#[tokio::test]
async fn failed_flush_keeps_spans_queryable_and_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let store = SpanStore::open(config(dir.path())).await.unwrap();
    store
        .append(&tenant, batch("a", vec![span(1, 1, None, now_nanos())]))
        .await
        .unwrap();
    // A file where the parts directory should be makes every part write fail.
    let blocker = dir.path().join("objects").join("spans");
    std::fs::write(&blocker, b"not a directory").unwrap();
    assert!(store.flush().await.is_err());
    assert_eq!(
        store
            .find_trace(&tenant, TraceId([1; 16]))
            .await
            .unwrap()
            .len(),
        1,
        "still in the frozen head"
    );
    store
        .append(&tenant, batch("a", vec![span(2, 2, None, now_nanos())]))
        .await
        .unwrap();
    assert!(store.flush().await.is_err());
    std::fs::remove_file(&blocker).unwrap();
    store.flush().await.unwrap();
    assert_eq!(
        store.inner.catalog.parts(&tenant).len(),
        2,
        "both rotations written"
    );
    assert!(store.pending_rotations().is_empty());
    assert_eq!(
        wal::list_segments(&dir.path().join("wal")).unwrap().len(),
        1,
        "flushed segments deleted"
    );
    for id in [1, 2] {
        assert_eq!(
            store
                .find_trace(&tenant, TraceId([id; 16]))
                .await
                .unwrap()
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn lookups_in_a_many_page_part_find_every_span_of_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let store = SpanStore::open(config(dir.path())).await.unwrap();
    let start = now_nanos();
    let spans: Vec<Span> = (0..3000u32)
        .flat_map(|index| {
            (1..=5u8).map(move |id| Span {
                trace_id: trace(index),
                span_id: SpanId([id; 8]),
                start_time_unix_nano: start,
                ..Span::default()
            })
        })
        .collect();
    store.append(&tenant, batch("a", spans)).await.unwrap();
    store.flush().await.unwrap();
    let part = &store.inner.catalog.parts(&tenant)[0];
    assert!(
        part.metadata.metadata().row_group(0).num_rows()
            > 4 * crate::part::writer::PAGE_ROWS as i64
    );
    for index in [0, 1, 1499, 2999] {
        let rows = store.find_trace(&tenant, trace(index)).await.unwrap();
        assert_eq!(rows.len(), 5, "trace {index}");
        assert!(rows.iter().all(|row| row.span.trace_id == trace(index)));
    }
    assert!(store
        .find_trace(&tenant, trace(3001))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_search_reads_every_row_group_of_a_part() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let store = SpanStore::open(config(dir.path())).await.unwrap();
    let start = now_nanos();
    // Three and a half row groups' worth of spans, time slices in trace order; the first, a
    // middle and the last slice each hold a trace with a span "needle".
    let traces = 7 * ROW_GROUP_ROWS as u32 / 10;
    let needles = [100, traces / 2, traces - 100];
    let spans: Vec<Span> = (0..traces)
        .flat_map(|index| {
            (1..=5u8).map(move |id| Span {
                trace_id: trace(index),
                span_id: SpanId([id; 8]),
                name: if id == 3 && needles.contains(&index) {
                    "needle".to_string()
                } else {
                    format!("op-{id}")
                },
                start_time_unix_nano: start + u64::from(index),
                ..Span::default()
            })
        })
        .collect();
    store.append(&tenant, batch("a", spans)).await.unwrap();
    store.flush().await.unwrap();
    let part = &store.inner.catalog.parts(&tenant)[0];
    assert!(part.metadata.metadata().num_row_groups() >= 3);
    let query = SpanQuery {
        service: Some("a".into()),
        operation: Some("needle".into()),
        start_unix_nano: 0,
        end_unix_nano: u64::MAX,
        limit: 10,
        ..SpanQuery::default()
    };
    let mut newest_first = needles;
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(
        store.search_trace_ids(&tenant, &query).await.unwrap(),
        newest_first.map(trace).to_vec()
    );
}

/// (row group, trace id, start) of every row of a part, in file order.
async fn part_rows(store: &SpanStore, part: &PartInfo) -> Vec<(usize, TraceId, u64)> {
    let mut rows = Vec::new();
    for row_group in 0..part.metadata.metadata().num_row_groups() {
        let batch = crate::part::reader::read_row_group(&store.inner.objects, part, row_group)
            .await
            .unwrap();
        let columns = crate::part::schema::SpanColumns::new(&batch, "test");
        for row in 0..batch.num_rows() {
            rows.push((
                row_group,
                columns.trace_id(row).unwrap(),
                columns.u64("start_time_unix_nano").unwrap().value(row),
            ));
        }
    }
    rows
}

/// Asserts that each row group of `rows` (from [`part_rows`]) is sorted by trace id and start.
fn assert_row_groups_sorted_by_trace(rows: &[(usize, TraceId, u64)]) {
    for pair in rows.windows(2) {
        if pair[0].0 == pair[1].0 {
            assert!(
                (pair[0].1, pair[0].2) <= (pair[1].1, pair[1].2),
                "row group {} is not sorted by trace id",
                pair[0].0
            );
        }
    }
}

/// `traces` traces of four spans each (a chain: span `n` the parent of span `n + 1`), trace
/// `index` starting at `start + 10 * index`.
fn spread_traces(traces: impl Iterator<Item = u32>, start: u64) -> Vec<Span> {
    traces
        .flat_map(|index| {
            (1..=4u8).map(move |id| Span {
                trace_id: trace(index),
                span_id: SpanId([id; 8]),
                parent_span_id: (id > 1).then_some(SpanId([id - 1; 8])),
                start_time_unix_nano: start + 10 * u64::from(index) + u64::from(id),
                ..Span::default()
            })
        })
        .collect()
}

#[tokio::test]
async fn compaction_writes_time_slices_each_sorted_by_trace() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let store = compacting_store(dir.path()).await;
    let start = now_nanos();
    // Three parts whose times interleave over the whole range, each more than a row group.
    let traces = ROW_GROUP_ROWS as u32;
    for flush in 0..3u32 {
        let spans = spread_traces((0..traces).filter(|index| index % 3 == flush), start);
        store.append(&tenant, batch("a", spans)).await.unwrap();
        store.flush().await.unwrap();
    }
    store.run_maintenance_once().await.unwrap();
    let parts = store.inner.catalog.parts(&tenant);
    assert_eq!(parts.len(), 1);
    let part = &parts[0];
    assert_eq!(part.rows, 4 * u64::from(traces));
    assert!(part.row_group_starts.len() >= 3);
    assert!(
        part.row_group_starts
            .windows(2)
            .all(|pair| pair[0].1 <= pair[1].0),
        "row groups overlap in time: {:?}",
        part.row_group_starts
    );
    let rows = part_rows(&store, part).await;
    assert_eq!(rows.len(), 4 * traces as usize);
    assert_row_groups_sorted_by_trace(&rows);
    // Parents come back whether stored as row offsets or, across slices, as ids.
    let trace_ids: Vec<u32> = (0..traces).step_by(97).chain([traces - 1]).collect();
    for index in trace_ids {
        let mut rows = store.find_trace(&tenant, trace(index)).await.unwrap();
        rows.sort_by_key(|row| row.span.span_id);
        let parents: Vec<Option<SpanId>> = rows.iter().map(|row| row.span.parent_span_id).collect();
        let expected: Vec<Option<SpanId>> = (1..=4u8)
            .map(|id| (id > 1).then_some(SpanId([id - 1; 8])))
            .collect();
        assert_eq!(parents, expected, "trace {index}");
    }
}

#[tokio::test]
async fn parts_sorted_by_trace_id_merge_into_time_slices() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let store = SpanStore::open(config(dir.path())).await.unwrap();
    let start = now_nanos();
    let day = crate::part::day_of_unix_nanos(start);
    let traces = ROW_GROUP_ROWS as u32;
    // Two parts laid out as format 1 wrote them: every row sorted by trace id, so each row
    // group spans the part's whole time range and the merge's buffer overflows its cap.
    let mut inputs = Vec::new();
    for part in 0..2u32 {
        let spans = spread_traces((0..traces).filter(|index| index % 2 == part), start);
        let rows = crate::part::schema::rows_to_batch(&batch("a", spans).into_rows()).unwrap();
        let mut order: Vec<u32> = (0..rows.num_rows() as u32).collect();
        crate::part::schema::sort_rows_by_trace(&rows, &mut order).unwrap();
        let rows = crate::part::schema::take_rows(&rows, &order).unwrap();
        let rows = crate::part::attributes::reshape(&rows, &[], "test").unwrap();
        let path = crate::part::writer::new_part_path(&tenant, &day);
        let mut encoder = crate::part::writer::PartEncoder::new(
            path.as_ref(),
            rows.num_rows(),
            10_000,
            &[],
            &Default::default(),
        )
        .unwrap();
        let row_group_rows = ROW_GROUP_ROWS;
        for offset in (0..rows.num_rows()).step_by(row_group_rows) {
            let length = row_group_rows.min(rows.num_rows() - offset);
            encoder
                .write_row_group(&rows.slice(offset, length))
                .unwrap();
        }
        let bytes = encoder.finish().unwrap();
        let part = crate::part::writer::put_part(&store.inner.objects, path, &tenant, &day, bytes)
            .await
            .unwrap();
        assert!(part.row_group_starts.len() >= 2);
        inputs.push(part);
    }
    let merged = crate::compact::merge::merge_into_time_slices(
        &store.inner.objects,
        &tenant,
        &day,
        &inputs,
        crate::part::writer::ROW_GROUP_ROWS,
    )
    .await
    .unwrap();
    assert_eq!(merged.rows, 4 * u64::from(traces));
    let rows = part_rows(&store, &merged).await;
    assert_eq!(rows.len(), 4 * traces as usize);
    assert_row_groups_sorted_by_trace(&rows);
    let mut found: Vec<(TraceId, u64)> = rows.iter().map(|(_, id, start)| (*id, *start)).collect();
    found.sort_unstable();
    let mut sent: Vec<(TraceId, u64)> = spread_traces(0..traces, start)
        .iter()
        .map(|span| (span.trace_id, span.start_time_unix_nano))
        .collect();
    sent.sort_unstable();
    assert_eq!(found, sent);
}

#[tokio::test]
async fn a_search_for_the_latest_matches_reads_only_the_latest_slices() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let store = SpanStore::open(config(dir.path())).await.unwrap();
    let start = now_nanos() - 1_000_000_000;
    // More row groups of time slices than a search keeps in flight beside the first (so
    // reading them all would fail the bound below); every trace matches.
    let in_flight = crate::scan::read_ahead() as u64;
    let slices = in_flight + 4;
    let traces = (slices as usize * ROW_GROUP_ROWS / 4) as u32;
    store
        .append(&tenant, batch("a", spread_traces(0..traces, start)))
        .await
        .unwrap();
    store.flush().await.unwrap();
    let part = store.inner.catalog.parts(&tenant)[0].clone();
    assert_eq!(part.row_group_starts.len() as u64, slices);
    let query = SpanQuery {
        service: Some("a".into()),
        start_unix_nano: 0,
        end_unix_nano: u64::MAX,
        limit: 20,
        ..SpanQuery::default()
    };
    let budget = crate::scan::ScanBudget::new(0);
    let found = crate::scan::with_budget(budget.clone(), store.search_trace_ids(&tenant, &query))
        .await
        .unwrap();
    let newest: Vec<TraceId> = (traces - 20..traces).rev().map(trace).collect();
    assert_eq!(found, newest);
    // The newest slice holds the answer; at most the reads kept in flight beside it go on.
    // Measured against the same search asked for every trace, which reads every slice.
    let every_slice = crate::scan::ScanBudget::new(0);
    let all = SpanQuery {
        limit: traces as usize + 1,
        ..query
    };
    crate::scan::with_budget(every_slice.clone(), store.search_trace_ids(&tenant, &all))
        .await
        .unwrap();
    let full = every_slice.used_bytes();
    let most_read = (2 * (1 + in_flight) + 1) * full / (2 * slices);
    assert!(
        budget.used_bytes() <= most_read,
        "read {} bytes where reading every slice takes {full}",
        budget.used_bytes(),
    );
}

/// Every `.parquet` file under `dir`.
fn parquet_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|extension| extension == "parquet")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The part under `spans_dir` holding trace `[trace; 16]` (a footer keeps its trace ids' min and
/// max in the clear).
fn part_holding(spans_dir: &std::path::Path, trace: u8) -> std::path::PathBuf {
    let needle = TraceId([trace; 16]).0;
    parquet_files(spans_dir)
        .into_iter()
        .find(|path| {
            std::fs::read(path)
                .unwrap()
                .windows(16)
                .any(|window| window == needle)
        })
        .expect("a part holds the trace")
}

/// Garbles the first half of a file (its data pages), leaving the footer intact.
fn garble_data_pages(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let half = bytes.len() / 2;
    for byte in &mut bytes[4..half] {
        *byte ^= 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn corrupt_parts_are_quarantined_and_the_rest_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let start = now_nanos();
    let store = SpanStore::open(config(dir.path())).await.unwrap();
    for trace in 1..=3 {
        let spans = (1..=20)
            .map(|id| span(trace, id, None, start + u64::from(id)))
            .collect();
        store.append(&tenant, batch("a", spans)).await.unwrap();
        store.flush().await.unwrap();
    }
    let spans_dir = dir.path().join("objects").join("spans");
    let parts = parquet_files(&spans_dir);
    assert_eq!(parts.len(), 3);
    // Part of trace 1: its data pages garbled (the footer intact), found when read.
    garble_data_pages(&part_holding(&spans_dir, 1));
    assert!(store
        .find_trace(&tenant, TraceId([1; 16]))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .find_trace(&tenant, TraceId([2; 16]))
            .await
            .unwrap()
            .len(),
        20
    );
    let quarantine = dir.path().join("objects").join("quarantine");
    assert_eq!(
        parquet_files(&quarantine).len(),
        1,
        "the garbled part moved"
    );
    assert_eq!(parquet_files(&spans_dir).len(), 2);
    store.close().await.unwrap();

    // Part of trace 2: its footer garbled, found at start-up.
    let footer_corrupt = part_holding(&spans_dir, 2);
    let mut bytes = std::fs::read(&footer_corrupt).unwrap();
    let length = bytes.len();
    for byte in &mut bytes[length - 40..length - 8] {
        *byte ^= 0xff;
    }
    std::fs::write(&footer_corrupt, bytes).unwrap();
    let reopened = SpanStore::open(config(dir.path())).await.unwrap();
    assert_eq!(parquet_files(&quarantine).len(), 2);
    assert!(reopened
        .find_trace(&tenant, TraceId([2; 16]))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        reopened
            .find_trace(&tenant, TraceId([3; 16]))
            .await
            .unwrap()
            .len(),
        20
    );
    let everything = SpanQuery {
        service: Some("a".into()),
        start_unix_nano: 0,
        end_unix_nano: u64::MAX,
        limit: 10,
        ..SpanQuery::default()
    };
    assert_eq!(
        reopened
            .search_trace_ids(&tenant, &everything)
            .await
            .unwrap(),
        [TraceId([3; 16])]
    );
}

#[tokio::test]
async fn a_corrupt_part_found_by_compaction_is_quarantined_and_the_rest_merged() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let start = now_nanos();
    let store = compacting_store(dir.path()).await;
    for index in 1..=4u8 {
        let spans = (1..=20)
            .map(|id| span(index, id, None, start + u64::from(id)))
            .collect();
        store.append(&tenant, batch("a", spans)).await.unwrap();
        store.flush().await.unwrap();
    }
    let spans_dir = dir.path().join("objects").join("spans");
    garble_data_pages(&part_holding(&spans_dir, 1));

    // The merge meets the garbled pages: that part is quarantined, the pass still succeeds.
    store.run_maintenance_once().await.unwrap();
    let quarantine = dir.path().join("objects").join("quarantine");
    assert_eq!(parquet_files(&quarantine).len(), 1);
    assert_eq!(store.inner.catalog.parts(&tenant).len(), 3);
    // The next pass merges the other three.
    store.run_maintenance_once().await.unwrap();
    assert_eq!(store.inner.catalog.parts(&tenant).len(), 1);
    for index in 2..=4u8 {
        let rows = store
            .find_trace(&tenant, TraceId([index; 16]))
            .await
            .unwrap();
        assert_eq!(rows.len(), 20, "trace {index}");
    }
}

#[tokio::test]
async fn parts_with_different_attribute_columns_merge_without_losing_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let store = compacting_store(dir.path()).await;
    let start = now_nanos();
    // Each flush has its own attributes: "a" as an int, then "b" and a bytes value, then "a"
    // as a string before a repeated key.
    let attributes_of = |flush: u32, index: u32| -> Vec<KeyValue> {
        let index = i64::from(index);
        match flush {
            0 => vec![KeyValue::new("a", AnyValue::Int(index))],
            1 => vec![
                KeyValue::new("b", AnyValue::String(format!("b{index}"))),
                KeyValue::new("raw", AnyValue::Bytes(vec![index as u8])),
            ],
            _ => vec![
                KeyValue::new("a", AnyValue::String(index.to_string())),
                KeyValue::new("a", AnyValue::Int(-index)),
            ],
        }
    };
    let mut sent = Vec::new();
    for flush in 0..3u32 {
        let spans: Vec<Span> = (0..100u32)
            .map(|index| Span {
                trace_id: trace(flush * 1000 + index),
                span_id: SpanId([1; 8]),
                start_time_unix_nano: start + u64::from(index),
                end_time_unix_nano: start + u64::from(index) + 10,
                attributes: attributes_of(flush, index),
                ..Span::default()
            })
            .collect();
        sent.extend(spans.clone());
        store.append(&tenant, batch("a", spans)).await.unwrap();
        store.flush().await.unwrap();
    }
    let columns = |store: &SpanStore| -> Vec<Vec<String>> {
        store
            .inner
            .catalog
            .parts(&tenant)
            .iter()
            .map(|part| part.attribute_columns.iter().map(|c| c.name()).collect())
            .collect()
    };
    assert_eq!(columns(&store).len(), 3);
    store.run_maintenance_once().await.unwrap();
    assert_eq!(
        columns(&store),
        [[
            "attributes.string.a".to_string(),
            "attributes.int.a".to_string(),
            "attributes.string.b".to_string(),
        ]]
    );
    for span in &sent {
        let rows = store.find_trace(&tenant, span.trace_id).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].span.attributes, span.attributes);
    }
    let search = |key: &str, value: &str| SpanQuery {
        attributes: vec![(key.into(), value.into())],
        start_unix_nano: 0,
        end_unix_nano: u64::MAX,
        limit: 10,
        ..SpanQuery::default()
    };
    // "a" = 7: the int in the first flush and the first (string) "a" of the third.
    let mut found = store
        .search_trace_ids(&tenant, &search("a", "7"))
        .await
        .unwrap();
    found.sort();
    let mut expected = vec![trace(7), trace(2007)];
    expected.sort();
    assert_eq!(found, expected);
    assert!(store
        .search_trace_ids(&tenant, &search("a", "-7"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .search_trace_ids(&tenant, &search("raw", "07"))
            .await
            .unwrap(),
        [trace(1007)]
    );
    assert_eq!(
        store
            .search_trace_ids(&tenant, &search("b", "b7"))
            .await
            .unwrap(),
        [trace(1007)]
    );
}

#[tokio::test]
async fn a_hot_attribute_held_in_an_attribute_column_is_stored_once_and_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::default_tenant();
    let store = SpanStore::open(config(dir.path())).await.unwrap();
    let start = now_nanos();
    let status = "http.response.status_code";
    // Trace 0: an int status (held by the int column); 1: a string status (a second column
    // for the key); 2: bytes first, then an int (the first value is in the encoded rest);
    // 3: no status on the span (its resource has none either).
    let attributes = [
        vec![KeyValue::new(status, AnyValue::Int(503))],
        vec![KeyValue::new(status, AnyValue::String("503".into()))],
        vec![
            KeyValue::new(status, AnyValue::Bytes(vec![5])),
            KeyValue::new(status, AnyValue::Int(503)),
        ],
        vec![KeyValue::new("other", AnyValue::Int(503))],
    ];
    let spans: Vec<Span> = (0..400u32)
        .map(|index| Span {
            trace_id: trace(index),
            span_id: SpanId([1; 8]),
            start_time_unix_nano: start + u64::from(index),
            end_time_unix_nano: start + u64::from(index) + 10,
            attributes: attributes[index as usize % 4].clone(),
            ..Span::default()
        })
        .collect();
    store.append(&tenant, batch("a", spans)).await.unwrap();
    let search = |value: &str| SpanQuery {
        attributes: vec![(status.into(), value.into())],
        start_unix_nano: 0,
        end_unix_nano: u64::MAX,
        limit: 1000,
        ..SpanQuery::default()
    };
    let sorted_ids = |mut ids: Vec<TraceId>| {
        ids.sort();
        ids
    };
    let expected_503 = sorted_ids((0..400).filter(|i| i % 4 < 2).map(trace).collect());
    let expected_bytes = sorted_ids((0..400).filter(|i| i % 4 == 2).map(trace).collect());
    for stage in ["head", "part"] {
        let found = store
            .search_trace_ids(&tenant, &search("503"))
            .await
            .unwrap();
        assert_eq!(sorted_ids(found), expected_503, "{stage}");
        let found = store
            .search_trace_ids(&tenant, &search("05"))
            .await
            .unwrap();
        assert_eq!(sorted_ids(found), expected_bytes, "{stage}");
        assert!(store
            .search_trace_ids(&tenant, &search("200"))
            .await
            .unwrap()
            .is_empty());
        store.flush().await.unwrap();
    }
    // In the part, only the bytes value (the first of its span, in the rest) has hot text.
    let part = &store.inner.catalog.parts(&tenant)[0];
    let rows = crate::part::reader::read_row_group(&store.inner.objects, part, 0)
        .await
        .unwrap();
    let hot = rows
        .column_by_name(&sightline_model::hot::column_name(status))
        .unwrap();
    assert_eq!(hot.len() - hot.null_count(), 100);
}
