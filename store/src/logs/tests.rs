use sightline_model::{
    AnyValue, KeyValue, LogRecord, Resource, ResourceLogs, Scope, ScopeLogs, SpanId,
};

use super::*;

/// 2026-11-20T00:00:00Z plus some minutes, far from a day boundary.
const BASE: u64 = 1_795_132_800_000_000_000 + 6 * 3_600_000_000_000;
const SECOND: u64 = 1_000_000_000;

fn config(dir: &Path) -> StoreConfig {
    StoreConfig {
        data_dir: dir.to_path_buf(),
        retention_hours: 24 * 365 * 100,
        ..StoreConfig::default()
    }
}

fn record(offset_seconds: u64, body: &str, severity: i32) -> LogRecord {
    LogRecord {
        time_unix_nano: BASE + offset_seconds * SECOND,
        observed_time_unix_nano: BASE + offset_seconds * SECOND + 5,
        severity_number: severity,
        severity_text: match severity {
            17.. => "ERROR",
            13.. => "WARN",
            _ => "INFO",
        }
        .to_string(),
        body: Some(AnyValue::String(body.to_string())),
        attributes: vec![
            KeyValue::new("http.method", AnyValue::String("GET".into())),
            KeyValue::new("status", AnyValue::Int(i64::from(severity) * 10)),
        ],
        ..LogRecord::default()
    }
}

fn batch(service: &str, records: Vec<LogRecord>) -> LogBatch {
    LogBatch {
        resources: vec![ResourceLogs {
            resource: Resource {
                attributes: vec![
                    KeyValue::new("service.name", AnyValue::String(service.into())),
                    KeyValue::new("host.name", AnyValue::String("web-1".into())),
                ],
                ..Resource::default()
            },
            scopes: vec![ScopeLogs {
                scope: Scope {
                    name: "app.logger".into(),
                    ..Scope::default()
                },
                logs: records,
            }],
        }],
    }
}

fn tenant() -> TenantId {
    TenantId::default_tenant()
}

async fn bodies(store: &LogStore, text: &str) -> Vec<String> {
    let query = LogQuery {
        filter: LogFilter::parse(text).unwrap(),
        limit: 1000,
        ..LogQuery::default()
    };
    store
        .search(&tenant(), query)
        .await
        .unwrap()
        .hits
        .into_iter()
        .map(|hit| hit.row.record.body.unwrap().to_text())
        .collect()
}

async fn sample_store(dir: &Path) -> LogStore {
    let store = LogStore::open(config(dir)).await.unwrap();
    store
        .append(
            &tenant(),
            batch(
                "checkout",
                vec![
                    record(1, "payment accepted for order 42", 9),
                    record(2, "Connection refused by payment-gateway", 17),
                    record(3, "retrying connection to payment gateway", 13),
                    record(4, "order 42 shipped", 9),
                ],
            ),
        )
        .await
        .unwrap();
    store
        .append(
            &tenant(),
            batch("cart", vec![record(5, "cart updated: 3 items", 9)]),
        )
        .await
        .unwrap();
    store
}

async fn assert_query_language(store: &LogStore) {
    assert_eq!(
        bodies(store, "payment").await,
        vec![
            "retrying connection to payment gateway",
            "Connection refused by payment-gateway",
            "payment accepted for order 42"
        ]
    );
    assert_eq!(
        bodies(store, r#""payment gateway""#).await,
        vec![
            "retrying connection to payment gateway",
            "Connection refused by payment-gateway"
        ]
    );
    assert_eq!(
        bodies(store, "order AND 42 NOT shipped").await,
        vec!["payment accepted for order 42"]
    );
    assert_eq!(
        bodies(store, "shipped OR cart").await,
        vec!["cart updated: 3 items", "order 42 shipped"]
    );
    assert_eq!(
        bodies(store, "-payment service:checkout").await,
        vec!["order 42 shipped"]
    );
    assert_eq!(
        bodies(store, "status:170").await,
        vec!["Connection refused by payment-gateway"]
    );
    assert_eq!(bodies(store, "http.method:get level:warn").await.len(), 1);
    assert_eq!(bodies(store, "resource.host.name:WEB-1").await.len(), 5);
    assert_eq!(bodies(store, "attributes.host.name:web-1").await.len(), 0);
    assert_eq!(
        bodies(store, "scope:app.logger (cart OR refused)")
            .await
            .len(),
        2
    );
    assert!(bodies(store, "nothing-like-this").await.is_empty());
}

#[tokio::test]
async fn appended_records_are_searchable_at_once_and_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path()).await;
    assert_query_language(&store).await;
    store.flush().await.unwrap();
    assert_eq!(store.inner.heads.held_bytes(), 0);
    assert_query_language(&store).await;
    let day = dir.path().join("logs/default/2026-11-20");
    assert!(day.join("meta.json").is_file(), "{}", day.display());
    assert!(
        wal::list_segments(&dir.path().join("wal-logs"))
            .unwrap()
            .len()
            <= 1
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn service_severity_time_and_trace_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path()).await;
    let trace_id = TraceId([7; 16]);
    let mut traced = record(6, "inside a trace", 9);
    traced.trace_id = Some(trace_id);
    traced.span_id = Some(SpanId([8; 8]));
    store
        .append(&tenant(), batch("cart", vec![traced]))
        .await
        .unwrap();
    for committed in [false, true] {
        if committed {
            store.flush().await.unwrap();
        }
        let page = |query: LogQuery| {
            let store = store.clone();
            async move { store.search(&tenant(), query).await.unwrap().hits.len() }
        };
        let service = LogQuery {
            service: Some("CHECKOUT".into()),
            ..LogQuery::default()
        };
        assert_eq!(page(service).await, 4);
        let severe = LogQuery {
            min_severity_number: Some(13),
            ..LogQuery::default()
        };
        assert_eq!(page(severe).await, 2);
        let window = LogQuery {
            start_unix_nano: BASE + 2 * SECOND,
            end_unix_nano: BASE + 4 * SECOND,
            ..LogQuery::default()
        };
        assert_eq!(page(window).await, 3);
        let hits = store
            .find_trace_logs(&tenant(), trace_id, 10)
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].row.record.span_id, Some(SpanId([8; 8])));
        let other = TenantId::new("other").unwrap();
        let query = LogQuery::default();
        assert!(store.search(&other, query).await.unwrap().hits.is_empty());
    }
}

#[tokio::test]
async fn paging_is_stable_while_records_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(config(dir.path())).await.unwrap();
    // Several records share a timestamp, so the sequence number has to break ties.
    let records = (0..25)
        .map(|index| record(index / 3, &format!("line {index}"), 9))
        .collect();
    store
        .append(&tenant(), batch("svc", records))
        .await
        .unwrap();
    store.flush().await.unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    for page_number in 0.. {
        let query = LogQuery {
            limit: 4,
            cursor,
            ..LogQuery::default()
        };
        let page = store.search(&tenant(), query).await.unwrap();
        seen.extend(page.hits.iter().map(|hit| hit.sequence));
        // New records (older and newer than the cursor) arrive between pages; half stay in
        // the head, half are committed.
        store
            .append(
                &tenant(),
                batch("svc", vec![record(100, "newer", 9), record(0, "late", 9)]),
            )
            .await
            .unwrap();
        if page_number % 2 == 0 {
            store.flush().await.unwrap();
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut original: Vec<u64> = seen.clone();
    original.retain(|sequence| *sequence < 25);
    assert_eq!(original, (0..25).rev().collect::<Vec<_>>());
    let unique: HashSet<u64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no record twice: {seen:?}");
    let forward = LogQuery {
        direction: LogDirection::Forward,
        limit: 3,
        ..LogQuery::default()
    };
    let first = store.search(&tenant(), forward).await.unwrap();
    assert!(first.hits[0].timestamp_unix_nano <= first.hits[2].timestamp_unix_nano);
}

#[tokio::test]
async fn pages_through_uneven_time_in_both_directions() {
    // A dense burst, a long gap and a sparse tail: the index's time windows (two records'
    // worth each at first in tests) then hold from none to dozens of records.
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(config(dir.path())).await.unwrap();
    let offsets: Vec<u64> = (0..60)
        .map(|index| index / 20)
        .chain((0..12).map(|index| 3_000 + index * 700))
        .collect();
    let records = offsets
        .iter()
        .enumerate()
        .map(|(index, offset)| {
            let word = if index % 3 == 0 { "needle" } else { "hay" };
            record(*offset, &format!("{word} {index}"), 9)
        })
        .collect();
    store
        .append(&tenant(), batch("svc", records))
        .await
        .unwrap();
    store.flush().await.unwrap();
    for (filter, expected) in [("", 72), ("needle", 24)] {
        for direction in [LogDirection::Backward, LogDirection::Forward] {
            let first_page = LogQuery {
                start_unix_nano: BASE,
                end_unix_nano: BASE + 20_000 * SECOND,
                filter: LogFilter::parse(filter).unwrap(),
                direction,
                limit: 5,
                ..LogQuery::default()
            };
            let seen = every_page(&store, first_page).await;
            let mut sorted = seen.clone();
            sorted.sort();
            if direction == LogDirection::Backward {
                sorted.reverse();
            }
            assert_eq!(seen, sorted, "{filter:?} {direction:?}: in order");
            sorted.dedup();
            assert_eq!(
                sorted.len(),
                expected,
                "{filter:?} {direction:?}: each once"
            );
        }
    }
}

/// The (time, sequence) of every hit of `query`'s pages, following each page's cursor; no page
/// holds more than the query's limit.
async fn every_page(store: &LogStore, mut query: LogQuery) -> Vec<(u64, u64)> {
    let mut seen = Vec::new();
    loop {
        let page = store.search(&tenant(), query.clone()).await.unwrap();
        assert!(page.hits.len() <= query.limit);
        seen.extend(
            page.hits
                .iter()
                .map(|hit| (hit.timestamp_unix_nano, hit.sequence)),
        );
        match page.next_cursor {
            Some(next) => query.cursor = Some(next),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn unicode_and_a_one_mebibyte_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(config(dir.path())).await.unwrap();
    let long: String = (0..220_000)
        .map(|index| format!("w{} ", index % 1000))
        .collect::<String>()
        + " needle-in-a-haystack";
    assert!(long.len() >= 1 << 20);
    store
        .append(
            &tenant(),
            batch(
                "svc",
                vec![
                    record(1, "Ошибка подключения к базе данных 数据库 🚀", 17),
                    record(2, &long, 9),
                ],
            ),
        )
        .await
        .unwrap();
    for committed in [false, true] {
        if committed {
            store.flush().await.unwrap();
        }
        assert_eq!(bodies(&store, "ошибка").await.len(), 1);
        assert_eq!(bodies(&store, "\"подключения к базе\"").await.len(), 1);
        let found = bodies(&store, "\"needle in a haystack\"").await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0], long);
    }
}

#[tokio::test]
async fn typed_bodies_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(config(dir.path())).await.unwrap();
    let body = AnyValue::KvList(vec![
        KeyValue::new("event", AnyValue::String("login".into())),
        KeyValue::new("attempts", AnyValue::Int(3)),
        KeyValue::new("raw", AnyValue::Bytes(vec![0, 1, 0xff])),
        KeyValue::new(
            "tags",
            AnyValue::Array(vec![AnyValue::Bool(true), AnyValue::Double(2.5)]),
        ),
    ]);
    let mut structured = record(1, "", 9);
    structured.body = Some(body.clone());
    let mut empty = record(2, "", 9);
    empty.body = None;
    let input = batch("svc", vec![structured, empty]);
    store.append(&tenant(), input.clone()).await.unwrap();
    store.flush().await.unwrap();
    let query = LogQuery {
        direction: LogDirection::Forward,
        ..LogQuery::default()
    };
    let hits = store.search(&tenant(), query).await.unwrap().hits;
    let rows: Vec<_> = hits.into_iter().map(|hit| hit.row).collect();
    assert_eq!(rows, input.into_rows());
    assert_eq!(bodies(&store, "login").await.len(), 1);
    assert_eq!(bodies(&store, "attempts").await.len(), 1);
}

#[tokio::test]
async fn replay_after_a_crash_keeps_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = sample_store(dir.path()).await;
        store.flush().await.unwrap();
        // Acknowledged after the commit: only in the WAL when the process dies.
        store
            .append(&tenant(), batch("cart", vec![record(9, "after commit", 9)]))
            .await
            .unwrap();
        // Simulated crash: the store is dropped without close (no final commit).
    }
    let store = LogStore::open(config(dir.path())).await.unwrap();
    assert_eq!(bodies(&store, "").await.len(), 6);
    assert_eq!(bodies(&store, "after").await.len(), 1);
    store.flush().await.unwrap();
    assert_eq!(bodies(&store, "").await.len(), 6);
    store.close().await.unwrap();

    // A crash between an index commit and the deletion of its WAL segments: replay must skip
    // what the index already holds, and numbering continues after it.
    let wal_dir = dir.path().join("wal-logs");
    let store = LogStore::open(config(dir.path())).await.unwrap();
    store
        .append(&tenant(), batch("cart", vec![record(10, "late one", 9)]))
        .await
        .unwrap();
    let kept: Vec<(PathBuf, Vec<u8>)> = wal::list_segments(&wal_dir)
        .unwrap()
        .into_iter()
        .map(|(_, path)| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    store.flush().await.unwrap();
    drop(store);
    for (path, bytes) in kept {
        std::fs::write(path, bytes).unwrap();
    }
    let store = LogStore::open(config(dir.path())).await.unwrap();
    let all = store.search(&tenant(), LogQuery::default()).await.unwrap();
    assert_eq!(all.hits.len(), 7);
    let sequences: HashSet<u64> = all.hits.iter().map(|hit| hit.sequence).collect();
    assert_eq!(sequences.len(), 7);
    store
        .append(&tenant(), batch("cart", vec![record(11, "next", 9)]))
        .await
        .unwrap();
    let newest = store.search(&tenant(), LogQuery::default()).await.unwrap();
    assert!(newest.hits[0].sequence > *sequences.iter().max().unwrap());
}

#[tokio::test]
async fn retention_drops_whole_days() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(config(dir.path())).await.unwrap();
    let mut old = record(0, "from yesterday", 9);
    old.time_unix_nano = BASE - DAY_NANOS;
    store
        .append(&tenant(), batch("svc", vec![old, record(1, "today", 9)]))
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert!(dir.path().join("logs/default/2026-11-19").is_dir());
    store.delete_days_before(BASE).await.unwrap();
    assert!(!dir.path().join("logs/default/2026-11-19").exists());
    assert_eq!(bodies(&store, "").await, vec!["today"]);
    store.close().await.unwrap();
}

#[tokio::test]
async fn histogram_counts_head_and_index_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path()).await;
    let histogram = |store: LogStore| async move {
        store
            .histogram(&tenant(), LogQuery::default(), BASE, 2 * SECOND, 4)
            .await
            .unwrap()
            .counts
    };
    assert_eq!(histogram(store.clone()).await, vec![1, 2, 2, 0]);
    store.flush().await.unwrap();
    assert_eq!(histogram(store.clone()).await, vec![1, 2, 2, 0]);
    let errors = LogQuery {
        filter: LogFilter::parse("refused OR retrying").unwrap(),
        ..LogQuery::default()
    };
    let counts = store
        .histogram(&tenant(), errors, BASE, SECOND, 6)
        .await
        .unwrap()
        .counts;
    assert_eq!(counts, vec![0, 0, 1, 1, 0, 0]);
}

#[tokio::test]
async fn tail_and_overload() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(StoreConfig {
        log_head_max_bytes: 0,
        ..config(dir.path())
    })
    .await
    .unwrap();
    let mut tail = store.subscribe();
    store
        .append(&tenant(), batch("svc", vec![record(1, "first", 9)]))
        .await
        .unwrap();
    let received = tail.recv().await.unwrap();
    assert_eq!(received.tenant, tenant());
    assert_eq!(received.hits.len(), 1);
    let refused = store
        .append(&tenant(), batch("svc", vec![record(2, "second", 9)]))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Overloaded { .. }));
    assert!(refused.is_retryable());
    store.flush().await.unwrap();
    store
        .append(&tenant(), batch("svc", vec![record(3, "third", 9)]))
        .await
        .unwrap();
}

#[tokio::test]
async fn records_fed_ahead_of_their_commit_are_committed_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = sample_store(dir.path()).await;
    // Every record counted (the histogram reads the index whole, duplicates included).
    let total = |store: LogStore| async move {
        store
            .histogram(&tenant(), LogQuery::default(), BASE, 60 * SECOND, 1)
            .await
            .unwrap()
            .counts
            .iter()
            .sum::<u64>()
    };
    store.feed().await;
    store
        .append(
            &tenant(),
            batch("cart", vec![record(6, "after the feed", 9)]),
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.inner.heads.held_bytes(), 0);
    assert_eq!(total(store.clone()).await, 6);
    assert_eq!(bodies(&store, "payment").await.len(), 3);
    assert_eq!(bodies(&store, "feed").await.len(), 1);

    // A writer that lost what was fed to it (here: closed before the commit) is given the
    // rotation's records again.
    store
        .append(&tenant(), batch("cart", vec![record(7, "lost one", 9)]))
        .await
        .unwrap();
    store.feed().await;
    for index in store.inner.indexes.all() {
        index.close_writer_if_idle(Duration::ZERO);
    }
    store
        .append(&tenant(), batch("cart", vec![record(8, "kept one", 9)]))
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.inner.heads.held_bytes(), 0);
    assert_eq!(total(store.clone()).await, 8);
    assert_eq!(bodies(&store, "lost").await.len(), 1);
    assert_eq!(bodies(&store, "kept").await.len(), 1);
    store.close().await.unwrap();
    let store = LogStore::open(config(dir.path())).await.unwrap();
    assert_eq!(total(store).await, 8);
}

/// A batch from a `checkout` instance on `host`.
fn batch_on(host: &str, records: Vec<LogRecord>) -> LogBatch {
    let mut batch = batch("checkout", records);
    batch.resources[0].resource.attributes[1] =
        KeyValue::new("host.name", AnyValue::String(host.into()));
    batch
}

#[tokio::test]
async fn each_resource_is_kept_once_and_found_by_its_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(config(dir.path())).await.unwrap();
    for (offset, host) in [(1, "web-1"), (2, "web-2"), (3, "web-1"), (4, "web-2")] {
        store
            .append(
                &tenant(),
                batch_on(host, vec![record(offset, &format!("line {offset}"), 9)]),
            )
            .await
            .unwrap();
    }
    store.flush().await.unwrap();
    let on = |store: LogStore, query: &'static str| async move {
        let mut found = bodies(&store, query).await;
        found.sort();
        found
    };
    assert_eq!(
        on(store.clone(), "resource.host.name:WEB-2").await,
        ["line 2", "line 4"]
    );
    assert_eq!(
        on(store.clone(), "host.name:web-1").await,
        ["line 1", "line 3"]
    );
    assert_eq!(
        on(store.clone(), "line -resource.host.name:web-1").await,
        ["line 2", "line 4"]
    );
    assert!(on(store.clone(), "resource.host.name:web-3")
        .await
        .is_empty());
    assert_eq!(on(store.clone(), "service:checkout").await.len(), 4);
    // Rows come back whole, with their resources.
    let hits = store
        .search(&tenant(), LogQuery::default())
        .await
        .unwrap()
        .hits;
    assert_eq!(hits[0].row.resource.attributes[1].value.to_text(), "web-2");
    assert_eq!(hits[0].row.scope.name, "app.logger");
    store.close().await.unwrap();

    // The table holds each resource once, and survives a torn append.
    let table = dir
        .path()
        .join("logs/default/2026-11-20")
        .join(resources::RESOURCES_FILE);
    let segment = wal::read_segment::<sightline_model::Resource>(&table).unwrap();
    assert_eq!(segment.records.len(), 2);
    let mut bytes = std::fs::read(&table).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(&[7, 0, 0, 0, 1]);
    std::fs::write(&table, bytes).unwrap();
    let store = LogStore::open(config(dir.path())).await.unwrap();
    assert_eq!(std::fs::metadata(&table).unwrap().len() as usize, whole);
    assert_eq!(
        on(store.clone(), "resource.host.name:web-2").await,
        ["line 2", "line 4"]
    );
    store
        .append(&tenant(), batch_on("web-3", vec![record(5, "line 5", 9)]))
        .await
        .unwrap();
    store.close().await.unwrap();
    let store = LogStore::open(config(dir.path())).await.unwrap();
    assert_eq!(
        on(store.clone(), "resource.host.name:web-3").await,
        ["line 5"]
    );
    assert_eq!(on(store, "resource.host.name:web-1").await.len(), 2);
}

#[tokio::test]
async fn a_format_1_index_is_read_and_written_in_its_format() {
    use tantivy::schema::Value;

    let dir = tempfile::tempdir().unwrap();
    let day_dir = dir.path().join("logs/default/2026-11-20");
    std::fs::create_dir_all(&day_dir).unwrap();
    {
        let index = tantivy::Index::builder()
            .schema(schema::log_schema_format_1())
            .settings(schema::index_settings())
            .create_in_dir(&day_dir)
            .unwrap();
        schema::register_analyzers(index.tokenizers());
        let fields = schema::LogFields::of(&index.schema()).unwrap();
        let schema::ResourceField::Attributes(resource) = fields.resource else {
            panic!("a format 1 schema has resource attributes");
        };
        let mut writer: tantivy::IndexWriter =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        let rows = batch_on("old-host", vec![record(1, "written by format 1", 9)]).into_rows();
        let document = schema::record_document(
            &fields,
            &rows[0],
            schema::DocumentResource::Attributes(resource),
            BASE + SECOND,
            0,
        )
        .unwrap();
        writer.add_document(document).unwrap();
        let mut prepared = writer.prepare_commit().unwrap();
        prepared.set_payload(r#"{"format":1,"wal_segment":0,"max_sequence":0}"#);
        prepared.commit().unwrap();
    }
    let store = LogStore::open(config(dir.path())).await.unwrap();
    store
        .append(
            &tenant(),
            batch_on("new-host", vec![record(2, "written later", 9)]),
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(
        bodies(&store, "resource.host.name:old-host").await,
        ["written by format 1"]
    );
    assert_eq!(
        bodies(&store, "host.name:new-host").await,
        ["written later"]
    );
    let all = store.search(&tenant(), LogQuery::default()).await.unwrap();
    assert_eq!(all.hits.len(), 2);
    assert_eq!(
        all.hits[1].row.resource.attributes[1].value.to_text(),
        "old-host"
    );
    assert!(all.hits[0].sequence > all.hits[1].sequence);
    store.close().await.unwrap();
    // Still format 1: the new record went in with its attributes, no resource table.
    let index = tantivy::Index::open_in_dir(&day_dir).unwrap();
    assert!(index.schema().get_field("resource").is_ok());
    let payload = index.load_metas().unwrap().payload.unwrap();
    assert!(payload.contains(r#""format":1"#), "{payload}");
    assert!(!day_dir.join(resources::RESOURCES_FILE).exists());
    let searcher = index.reader().unwrap().searcher();
    assert_eq!(searcher.num_docs(), 2);
    let stored: Vec<u8> = searcher
        .segment_readers()
        .iter()
        .flat_map(|segment| {
            let store = segment.get_store_reader(1).unwrap();
            (0..segment.max_doc())
                .map(|doc| {
                    let document: tantivy::TantivyDocument = store.get(doc).unwrap();
                    let field = index.schema().get_field("record").unwrap();
                    document.get_first(field).unwrap().as_bytes().unwrap()[0]
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(stored, [schema::RECORD_WITH_RESOURCE; 2]);
}
