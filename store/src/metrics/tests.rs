use promql_parser::label::{MatchOp, Matcher};
use sightline_model::{
    Exemplar, Labels, MetricBatch, MetricMetadata, MetricSample, MetricType, SeriesSamples,
    TenantId, TraceId,
};

use super::*;

const HOUR_MS: i64 = 3_600_000;

fn config(dir: &tempfile::TempDir) -> StoreConfig {
    StoreConfig {
        data_dir: dir.path().to_path_buf(),
        compaction_min_parts: 2,
        ..StoreConfig::default()
    }
}

fn tenant() -> TenantId {
    TenantId::default_tenant()
}

fn series(name: &str, pod: &str, samples: impl IntoIterator<Item = (i64, f64)>) -> SeriesSamples {
    SeriesSamples {
        labels: Labels::new([("__name__", name), ("job", "api"), ("pod", pod)]),
        samples: samples
            .into_iter()
            .map(|(timestamp_ms, value)| MetricSample {
                timestamp_ms,
                value,
            })
            .collect(),
        exemplars: Vec::new(),
    }
}

fn batch(series: Vec<SeriesSamples>) -> MetricBatch {
    MetricBatch {
        series,
        metadata: vec![MetricMetadata {
            metric_family: "http_requests_total".to_string(),
            metric_type: MetricType::Counter,
            help: "Requests served.".to_string(),
            unit: String::new(),
        }],
    }
}

fn eq(name: &str, value: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, name, value)
}

/// A day-aligned base time a few days back, so retention keeps it.
fn base_ms() -> i64 {
    (now_ms() / DAY_MS - 2) * DAY_MS
}

/// Ten minutes of 15 s samples of two counters and one gauge.
fn workload(base: i64) -> MetricBatch {
    let points = |slope: f64| (0..40).map(move |i| (base + i * 15_000, i as f64 * slope));
    batch(vec![
        series("http_requests_total", "a", points(1.0)),
        series("http_requests_total", "b", points(2.0)),
        series("memory_bytes", "a", points(0.5)),
    ])
}

async fn selected(
    store: &MetricStore,
    matchers: &[Matcher],
    start: i64,
    end: i64,
) -> Vec<(String, usize, f64)> {
    store
        .select(&tenant(), matchers, start, end)
        .await
        .unwrap()
        .into_iter()
        .map(|(labels, samples)| {
            (
                labels.to_string(),
                samples.len(),
                samples.last().map_or(f64::NAN, |s| s.value),
            )
        })
        .collect()
}

#[tokio::test]
async fn appended_samples_are_selected_by_every_matcher_kind() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetricStore::open(config(&dir)).await.unwrap();
    let base = base_ms();
    let outcome = store.append(&tenant(), workload(base)).await.unwrap();
    assert_eq!(outcome.accepted_samples, 120);
    let end = base + HOUR_MS;
    let name = eq("__name__", "http_requests_total");
    assert_eq!(
        selected(&store, std::slice::from_ref(&name), base, end)
            .await
            .len(),
        2
    );
    let not_a = Matcher::new(MatchOp::NotEqual, "pod", "a");
    assert_eq!(
        selected(&store, &[name.clone(), not_a], base, end).await,
        vec![(
            r#"http_requests_total{job="api", pod="b"}"#.to_string(),
            40,
            78.0
        )]
    );
    let regex = Matcher::new_matcher(
        promql_parser::parser::token::T_EQL_REGEX,
        "__name__".into(),
        "mem.*".into(),
    )
    .unwrap();
    assert_eq!(selected(&store, &[regex], base, end).await.len(), 1);
    let not_regex = Matcher::new_matcher(
        promql_parser::parser::token::T_NEQ_REGEX,
        "pod".into(),
        "a|c".into(),
    )
    .unwrap();
    assert_eq!(selected(&store, &[not_regex], base, end).await.len(), 1);
    // Absent labels match as "": every series lacks `zone`.
    assert_eq!(
        selected(&store, &[eq("zone", "")], base, end).await.len(),
        3
    );
    // The time range cuts samples.
    let cut = selected(&store, &[name], base, base + 15_000 * 9).await;
    assert_eq!(cut[0].1, 10);
}

#[tokio::test]
async fn series_over_the_metric_limit_are_refused_and_others_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetricStore::open(StoreConfig {
        metric_series_limit_per_metric: 2,
        ..config(&dir)
    })
    .await
    .unwrap();
    let base = base_ms();
    let many = batch(
        (0..4)
            .map(|i| series("http_requests_total", &format!("p{i}"), [(base, 1.0)]))
            .chain([series("other", "x", [(base, 1.0)])])
            .collect(),
    );
    let outcome = store.append(&tenant(), many).await.unwrap();
    assert_eq!(outcome.accepted_samples, 3);
    assert_eq!(outcome.rejected_samples, 2);
    assert!(outcome
        .first_rejection
        .unwrap()
        .contains("series limit of 2 per metric reached for metric \"http_requests_total\""));
    // Known series still take samples.
    let again = batch(vec![series("http_requests_total", "p0", [(base + 1, 2.0)])]);
    assert_eq!(
        store
            .append(&tenant(), again)
            .await
            .unwrap()
            .rejected_samples,
        0
    );
}

#[tokio::test]
async fn flushed_parts_answer_like_the_head_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_ms();
    let end = base + HOUR_MS;
    let name = eq("__name__", "http_requests_total");
    let store = MetricStore::open(config(&dir)).await.unwrap();
    store.append(&tenant(), workload(base)).await.unwrap();
    let from_head = selected(&store, std::slice::from_ref(&name), base, end).await;
    store.flush().await.unwrap();
    assert_eq!(store.inner.catalog.all().len(), 1);
    assert_eq!(store.inner.heads.unflushed_samples(), 0);
    assert_eq!(
        selected(&store, std::slice::from_ref(&name), base, end).await,
        from_head
    );
    store.close().await.unwrap();

    let reopened = MetricStore::open(config(&dir)).await.unwrap();
    assert_eq!(
        selected(&reopened, std::slice::from_ref(&name), base, end).await,
        from_head
    );
    let series = reopened
        .series(&tenant(), &[], base, end, 100)
        .await
        .unwrap();
    assert_eq!(series.len(), 3);
    let pods = reopened
        .label_values(&tenant(), "pod", &[vec![name]], base, end, 100)
        .await
        .unwrap();
    assert_eq!(pods, ["a", "b"]);
    let metadata = reopened.metadata(&tenant(), None, 10).await.unwrap();
    assert_eq!(metadata[0].metric_type, MetricType::Counter);
}

#[tokio::test]
async fn unflushed_samples_are_replayed_from_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_ms();
    {
        let store = MetricStore::open(config(&dir)).await.unwrap();
        store.append(&tenant(), workload(base)).await.unwrap();
        // No close: the process "dies" with the samples only in the WAL.
        store.inner.wal.close().await;
    }
    let store = MetricStore::open(config(&dir)).await.unwrap();
    let found = selected(&store, &[eq("job", "api")], base, base + HOUR_MS).await;
    assert_eq!(found.len(), 3);
    assert!(found.iter().all(|(_, samples, _)| *samples == 40));
}

#[tokio::test]
async fn compaction_merges_parts_and_reads_stay_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetricStore::open(config(&dir)).await.unwrap();
    let base = base_ms();
    let end = base + 4 * HOUR_MS;
    // Three flushes of consecutive windows, one of them rewriting a sample already flushed.
    for window in 0..3 {
        store
            .append(&tenant(), workload(base + window * 600_000))
            .await
            .unwrap();
        store.flush().await.unwrap();
    }
    let before = selected(&store, &[eq("job", "api")], base, end).await;
    assert_eq!(store.inner.catalog.all().len(), 3);
    store.run_maintenance_once().await.unwrap();
    let parts = store.inner.catalog.all();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].samples, 3 * 120);
    assert_eq!(
        selected(&store, &[eq("job", "api")], base, end).await,
        before
    );
    // The inputs' objects are gone.
    let objects: Vec<_> = walk(dir.path().join("objects/metrics"));
    assert_eq!(objects.len(), 2, "{objects:?}");
}

fn walk(dir: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn samples_across_midnight_land_in_two_day_parts_and_old_days_expire() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetricStore::open(config(&dir)).await.unwrap();
    let midnight = base_ms();
    let around = batch(vec![series(
        "http_requests_total",
        "a",
        [(midnight - 15_000, 1.0), (midnight, 2.0)],
    )]);
    store.append(&tenant(), around).await.unwrap();
    store.flush().await.unwrap();
    let mut days: Vec<_> = store
        .inner
        .catalog
        .all()
        .iter()
        .map(|p| p.day.clone())
        .collect();
    days.sort();
    assert_eq!(days, [day_of_ms(midnight - 1), day_of_ms(midnight)]);
    let both = selected(
        &store,
        &[eq("pod", "a")],
        midnight - HOUR_MS,
        midnight + HOUR_MS,
    )
    .await;
    assert_eq!(both[0].1, 2);

    let old = batch(vec![series(
        "http_requests_total",
        "a",
        [(midnight - 30 * DAY_MS, 1.0)],
    )]);
    store.append(&tenant(), old).await.unwrap();
    store.flush().await.unwrap();
    assert_eq!(store.inner.catalog.all().len(), 3);
    store.run_maintenance_once().await.unwrap();
    assert!(store
        .inner
        .catalog
        .all()
        .iter()
        .all(|part| part.max_time_ms >= midnight - DAY_MS));
}

#[tokio::test]
async fn exemplars_and_tenants_are_kept_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetricStore::open(config(&dir)).await.unwrap();
    let base = base_ms();
    let mut with_exemplar = series("latency_bucket", "a", [(base, 3.0)]);
    with_exemplar.exemplars.push(Exemplar {
        labels: Labels::new([("trace_id", "0102")]),
        timestamp_ms: base,
        value: 0.2,
        trace_id: Some(TraceId([1; 16])),
        span_id: None,
    });
    store
        .append(&tenant(), batch(vec![with_exemplar]))
        .await
        .unwrap();
    let other = TenantId::new("team-b").unwrap();
    store
        .append(
            &other,
            batch(vec![series("latency_bucket", "b", [(base, 9.0)])]),
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    let exemplars = store
        .exemplars(
            &tenant(),
            &[eq("__name__", "latency_bucket")],
            base - 1,
            base + 1,
        )
        .await
        .unwrap();
    assert_eq!(exemplars.len(), 1);
    assert_eq!(exemplars[0].1[0].trace_id, Some(TraceId([1; 16])));
    let mine = store
        .select(
            &tenant(),
            &[eq("__name__", "latency_bucket")],
            base - 1,
            base + 1,
        )
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].0.get("pod"), Some("a"));
    let theirs = store
        .select(
            &other,
            &[eq("__name__", "latency_bucket")],
            base - 1,
            base + 1,
        )
        .await
        .unwrap();
    assert_eq!(theirs[0].0.get("pod"), Some("b"));
}

#[tokio::test]
async fn counting_with_rollups_matches_counting_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetricStore::open(config(&dir)).await.unwrap();
    let base = base_ms();
    // Four 10-minute windows of a counter that resets in the second and a gauge-like series
    // with a staleness marker; the first three flushed into three parts, the last in the head.
    for window in 0..4i64 {
        let start = base + window * 600_000;
        let counter = (0..40).map(move |i| {
            let step = window * 40 + i;
            let value = if window == 1 && i >= 20 {
                (i - 20) as f64
            } else {
                step as f64 * 3.0
            };
            (start + i * 15_000, value)
        });
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let gauge = (0..40).map(move |i| {
            let value = if i == 10 { stale } else { (i % 7) as f64 };
            (start + i * 15_000, value)
        });
        store
            .append(
                &tenant(),
                batch(vec![
                    series("http_requests_total", "a", counter),
                    series("http_requests_total", "b", gauge),
                ]),
            )
            .await
            .unwrap();
        if window < 3 {
            store.flush().await.unwrap();
        }
    }
    assert_eq!(store.inner.catalog.all().len(), 3);
    let matchers = [eq("__name__", "http_requests_total")];
    let lookback = 300_000;
    let check = |start: i64, end: i64| {
        let store = store.clone();
        let matchers = matchers.clone();
        async move {
            let mut fast = store
                .counted_in_window(&tenant(), &matchers, start, end, lookback)
                .await
                .unwrap();
            fast.sort_by(|a, b| a.0.cmp(&b.0));
            let slow = store
                .counted_by_samples(&tenant(), &matchers, start, end, start - lookback)
                .await
                .unwrap();
            assert_eq!(fast, slow, "window ({start}, {end}]");
            fast
        }
    };
    // The whole range (every part inside), windows straddling part edges, one inside a part.
    let whole = check(base - 1, base + 4 * 600_000).await;
    assert_eq!(whole.len(), 2);
    check(base + 300_000, base + 2_000_000).await;
    check(base + 600_000, base + 1_800_000).await;
    check(base + 650_000, base + 700_000).await;
    check(base + 5_000_000, base + 6_000_000).await;
    // A head block overlapping a flushed part (a late sample) falls back to every sample.
    store
        .append(
            &tenant(),
            batch(vec![series(
                "http_requests_total",
                "a",
                [(base + 7_500, 1.0)],
            )]),
        )
        .await
        .unwrap();
    check(base - 1, base + 4 * 600_000).await;
}

#[tokio::test]
async fn counting_irregular_samples_in_a_straddling_part_stays_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetricStore::open(config(&dir)).await.unwrap();
    let base = base_ms();
    // Thirty samples in the first 30 s, then ten over the next 10 minutes: interpolating
    // the rows of a time guesses far from where they are.
    let dense = (0..30).map(|i| (base + i * 1_000, i as f64));
    let sparse = (1..=10).map(|i| (base + 30_000 + i * 60_000, 30.0 + i as f64 * 10.0));
    let points: Vec<(i64, f64)> = dense.chain(sparse).collect();
    store
        .append(
            &tenant(),
            batch(vec![series("http_requests_total", "a", points)]),
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    let matchers = [eq("__name__", "http_requests_total")];
    for (start, end) in [
        (base + 5_000, base + 20_000),
        (base + 100_000, base + 400_000),
        (base + 29_000, base + 700_000),
    ] {
        let fast = store
            .counted_in_window(&tenant(), &matchers, start, end, 300_000)
            .await
            .unwrap();
        let slow = store
            .counted_by_samples(&tenant(), &matchers, start, end, start - 300_000)
            .await
            .unwrap();
        assert_eq!(fast, slow, "window ({start}, {end}]");
        assert_eq!(fast.len(), 1);
    }
}

#[tokio::test]
async fn a_corrupt_part_is_quarantined_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_ms();
    let store = MetricStore::open(config(&dir)).await.unwrap();
    store.append(&tenant(), workload(base)).await.unwrap();
    store.flush().await.unwrap();
    store.close().await.unwrap();
    let day_dir = std::fs::read_dir(dir.path().join("objects/metrics").join(tenant().as_str()))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let series_object = std::fs::read_dir(&day_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".series.parquet"))
        .unwrap();
    let mut bytes = std::fs::read(&series_object).unwrap();
    let length = bytes.len();
    for byte in &mut bytes[length - 40..length - 8] {
        *byte ^= 0xff;
    }
    std::fs::write(&series_object, bytes).unwrap();

    let reopened = MetricStore::open(config(&dir)).await.unwrap();
    assert!(reopened.inner.catalog.all().is_empty());
    let quarantined = dir
        .path()
        .join("objects/quarantine/metrics")
        .join(tenant().as_str());
    let moved: Vec<_> = std::fs::read_dir(quarantined.join(day_dir.file_name().unwrap()))
        .unwrap()
        .collect();
    assert_eq!(moved.len(), 2, "the samples and the series object");
    assert!(std::fs::read_dir(&day_dir).unwrap().next().is_none());
    let name = eq("__name__", "http_requests_total");
    assert!(selected(&reopened, &[name], base, base + HOUR_MS)
        .await
        .is_empty());
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
async fn a_part_found_corrupt_by_a_query_is_quarantined_and_the_query_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_ms();
    let store = MetricStore::open(config(&dir)).await.unwrap();
    store.append(&tenant(), workload(base)).await.unwrap();
    store.flush().await.unwrap();
    let part = store.inner.catalog.all().pop().unwrap();
    let samples_file = dir.path().join("objects").join(part.samples_path.as_ref());
    garble_data_pages(&samples_file);
    let name = eq("__name__", "http_requests_total");
    let selected = store
        .select(&tenant(), &[name], base, base + HOUR_MS)
        .await
        .expect("the query goes on without the part");
    assert!(selected.is_empty());
    assert!(store.inner.catalog.all().is_empty());
    let quarantined = dir
        .path()
        .join("objects/quarantine")
        .join(part.samples_path.as_ref());
    assert!(quarantined.is_file(), "{}", quarantined.display());
}

#[tokio::test]
async fn a_corrupt_part_found_by_compaction_is_quarantined_and_the_rest_merged() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetricStore::open(StoreConfig {
        compaction_min_parts: 3,
        ..config(&dir)
    })
    .await
    .unwrap();
    let base = base_ms();
    for window in 0..4 {
        store
            .append(&tenant(), workload(base + window * 600_000))
            .await
            .unwrap();
        store.flush().await.unwrap();
    }
    let parts = store.inner.catalog.all();
    assert_eq!(parts.len(), 4);
    let garbled = &parts[0];
    let samples_file = dir
        .path()
        .join("objects")
        .join(garbled.samples_path.as_ref());
    garble_data_pages(&samples_file);

    // The merge meets the garbled part: it is quarantined, the pass still succeeds.
    store.run_maintenance_once().await.unwrap();
    let quarantined = dir
        .path()
        .join("objects/quarantine")
        .join(garbled.samples_path.as_ref());
    assert!(quarantined.is_file(), "{}", quarantined.display());
    assert_eq!(store.inner.catalog.all().len(), 3);
    // The next pass merges the other three.
    store.run_maintenance_once().await.unwrap();
    let merged = store.inner.catalog.all();
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].samples, 3 * 120);
}

/// Four 20,000-sample series, one of each way a part stores values: an integer counter that
/// resets, a one-decimal gauge, floats (with `-0.0`), and a counter with a staleness marker.
fn values_of_every_kind(base: i64) -> Vec<SeriesSamples> {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let at = move |i: i64| base + i * 1_000;
    vec![
        series(
            "kinds",
            "counter",
            (0..20_000).map(move |i| (at(i), ((i % 7_000) * 3) as f64)),
        ),
        series(
            "kinds",
            "decimal",
            (0..20_000).map(move |i| (at(i), (200 + i % 100) as f64 / 10.0)),
        ),
        series(
            "kinds",
            "float",
            (0..20_000).map(move |i| (at(i), if i == 9 { -0.0 } else { (i as f64).sqrt() })),
        ),
        series(
            "kinds",
            "stale",
            (0..20_000).map(move |i| (at(i), if i == 5_000 { stale } else { i as f64 })),
        ),
    ]
}

fn bits(samples: &[MetricSample]) -> Vec<(i64, u64)> {
    samples
        .iter()
        .map(|s| (s.timestamp_ms, s.value.to_bits()))
        .collect()
}

/// Reads every series back whole and in windows (from unaligned rows), and counts windows
/// from the parts' rows against counting every sample.
async fn check_values_of_every_kind(store: &MetricStore, sent: &[SeriesSamples], base: i64) {
    let matchers = [eq("__name__", "kinds")];
    for (start, end) in [
        (base, base + 20_000_000),
        (base + 5_300_500, base + 9_123_000),
    ] {
        let read = store
            .select(&tenant(), &matchers, start, end)
            .await
            .unwrap();
        assert_eq!(read.len(), sent.len());
        for ((labels, samples), expected) in read.iter().zip(sent) {
            assert_eq!(labels, &expected.labels);
            let expected: Vec<MetricSample> = expected
                .samples
                .iter()
                .filter(|s| s.timestamp_ms >= start && s.timestamp_ms <= end)
                .copied()
                .collect();
            assert_eq!(
                bits(samples),
                bits(&expected),
                "{labels} in [{start}, {end}]"
            );
        }
    }
    for (start, end) in [
        (base + 1_000_500, base + 1_200_000),
        (base + 17_000, base + 19_000_000),
    ] {
        let mut fast = store
            .counted_in_window(&tenant(), &matchers, start, end, 300_000)
            .await
            .unwrap();
        fast.sort_by(|a, b| a.0.cmp(&b.0));
        let slow = store
            .counted_by_samples(&tenant(), &matchers, start, end, start - 300_000)
            .await
            .unwrap();
        assert_eq!(fast.len(), 4);
        assert_eq!(fast, slow, "window ({start}, {end}]");
    }
}

#[tokio::test]
async fn values_of_every_kind_come_back_bit_for_bit_from_parts() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetricStore::open(config(&dir)).await.unwrap();
    let base = base_ms();
    let sent = values_of_every_kind(base);
    store.append(&tenant(), batch(sent.clone())).await.unwrap();
    store.flush().await.unwrap();
    let parts = store.inner.catalog.all();
    assert_eq!(parts.len(), 1);
    let table = parts[0].series_table().await.unwrap();
    // Sorted by labels: counter, decimal, float, stale.
    assert_eq!(table.value_exponents, [Some(0), Some(1), None, None]);
    check_values_of_every_kind(&store, &sent, base).await;
}

/// A store directory holding [`values_of_every_kind`] flushed into one part: the directory,
/// the base time, what was sent and the part's files.
async fn one_part_of_every_kind() -> (
    tempfile::TempDir,
    i64,
    Vec<SeriesSamples>,
    Vec<std::path::PathBuf>,
) {
    let dir = tempfile::tempdir().unwrap();
    let base = base_ms();
    let sent = values_of_every_kind(base);
    let store = MetricStore::open(config(&dir)).await.unwrap();
    store.append(&tenant(), batch(sent.clone())).await.unwrap();
    store.flush().await.unwrap();
    drop(store);
    let files = walk(dir.path().join("objects/metrics"));
    (dir, base, sent, files)
}

/// A part object's key/value metadata with its format version set to `version`.
fn key_values_at_version(
    metadata: &parquet::file::metadata::ParquetMetaData,
    version: &str,
) -> Vec<parquet::file::metadata::KeyValue> {
    metadata
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut pair| {
            if pair.key == part::metadata_keys::FORMAT_VERSION {
                assert_eq!(pair.value.as_deref(), Some(part::FORMAT_VERSION));
                pair.value = Some(version.to_string());
            }
            pair
        })
        .collect()
}

/// The one file among `files` whose name ends with `suffix`.
fn part_file<'f>(files: &'f [std::path::PathBuf], suffix: &str) -> &'f std::path::PathBuf {
    files
        .iter()
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap()
}

#[tokio::test]
async fn parts_of_the_first_format_with_every_value_a_float_still_read() {
    use arrow_array::RecordBatch;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    let (dir, base, sent, files) = one_part_of_every_kind().await;
    // Rewrite the part as format 1 wrote it: every value in a non-null `value` column and no
    // `value_exponent` in the series object.
    let find = |suffix: &str| part_file(&files, suffix);
    let series_file = find(".series.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(
        std::fs::read(series_file).unwrap(),
    ))
    .unwrap();
    let key_values = key_values_at_version(reader.metadata(), "1");
    assert!(key_values
        .iter()
        .any(|pair| pair.key == part::metadata_keys::FORMAT_VERSION));
    let batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
    let schema = batches[0].schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() != part::columns::VALUE_EXPONENT)
        .collect();
    let old_schema = Arc::new(schema.project(&keep).unwrap());
    let properties = WriterProperties::builder()
        .set_key_value_metadata(Some(key_values))
        .build();
    let mut writer = ArrowWriter::try_new(Vec::new(), old_schema, Some(properties)).unwrap();
    for batch in &batches {
        writer.write(&batch.project(&keep).unwrap()).unwrap();
    }
    std::fs::write(series_file, writer.into_inner().unwrap()).unwrap();
    let old_samples = Arc::new(arrow_schema::Schema::new(vec![
        arrow_schema::Field::new(
            part::columns::SERIES_REF,
            arrow_schema::DataType::UInt32,
            false,
        ),
        arrow_schema::Field::new(
            part::columns::TIMESTAMP,
            arrow_schema::DataType::Int64,
            false,
        ),
        arrow_schema::Field::new(part::columns::VALUE, arrow_schema::DataType::Float64, false),
    ]));
    let rows = || {
        sent.iter()
            .enumerate()
            .flat_map(|(i, s)| s.samples.iter().map(move |x| (i, x)))
    };
    let columns: Vec<arrow_array::ArrayRef> = vec![
        Arc::new(arrow_array::UInt32Array::from_iter_values(
            rows().map(|(i, _)| i as u32),
        )),
        Arc::new(arrow_array::Int64Array::from_iter_values(
            rows().map(|(_, s)| s.timestamp_ms),
        )),
        Arc::new(arrow_array::Float64Array::from_iter_values(
            rows().map(|(_, s)| s.value),
        )),
    ];
    let mut writer = ArrowWriter::try_new(Vec::new(), old_samples.clone(), None).unwrap();
    writer
        .write(&RecordBatch::try_new(old_samples, columns).unwrap())
        .unwrap();
    std::fs::write(find(".samples.parquet"), writer.into_inner().unwrap()).unwrap();

    let store = MetricStore::open(config(&dir)).await.unwrap();
    let parts = store.inner.catalog.all();
    assert_eq!(parts.len(), 1, "the rewritten part loads");
    assert!(parts[0]
        .series_table()
        .await
        .unwrap()
        .value_exponents
        .is_empty());
    check_values_of_every_kind(&store, &sent, base).await;
}

#[tokio::test]
async fn parts_of_the_second_format_with_deltas_from_key_rows_still_read() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int64Type, UInt32Type};
    use arrow_array::{Array, Int64Array, RecordBatch};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    let (dir, base, sent, files) = one_part_of_every_kind().await;
    let find = |suffix: &str| part_file(&files, suffix).clone();
    // Rewrites an object with its rows changed by `change` and its format version set to 2.
    let rewrite = |path: &std::path::Path, change: &dyn Fn(RecordBatch) -> RecordBatch| {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(
            std::fs::read(path).unwrap(),
        ))
        .unwrap();
        let key_values = key_values_at_version(reader.metadata(), "2");
        // One batch: a series' key rows count from its first row in the part.
        let batches: Vec<RecordBatch> = reader
            .with_batch_size(usize::MAX)
            .build()
            .unwrap()
            .map(Result::unwrap)
            .map(change)
            .collect();
        let properties = WriterProperties::builder()
            .set_key_value_metadata(Some(key_values))
            .build();
        let mut writer =
            ArrowWriter::try_new(Vec::new(), batches[0].schema(), Some(properties)).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        std::fs::write(path, writer.into_inner().unwrap()).unwrap();
    };
    rewrite(&find(".series.parquet"), &|batch| batch);
    // Format 2 stored each decimal series' scaled values as differences from key rows.
    rewrite(&find(".samples.parquet"), &|batch| {
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let refs = column(part::columns::SERIES_REF);
        let refs = refs.as_primitive::<UInt32Type>();
        let scaled = column(part::columns::VALUE_SCALED);
        let scaled = scaled.as_primitive::<Int64Type>();
        let mut deltas: Vec<Option<i64>> = vec![None; batch.num_rows()];
        let mut start = 0;
        while start < batch.num_rows() {
            let end = (start..batch.num_rows())
                .find(|&row| refs.value(row) != refs.value(start))
                .unwrap_or(batch.num_rows());
            if scaled.is_valid(start) {
                let run = &scaled.values()[start..end];
                for (row, delta) in value_codec::deltas_with_key_rows(run)
                    .into_iter()
                    .enumerate()
                {
                    deltas[start + row] = Some(delta);
                }
            }
            start = end;
        }
        let schema = batch.schema();
        let fields: Vec<arrow_schema::Field> = schema
            .fields()
            .iter()
            .map(|field| match field.name().as_str() {
                part::columns::VALUE_SCALED => arrow_schema::Field::new(
                    part::columns::VALUE_DELTA,
                    arrow_schema::DataType::Int64,
                    true,
                ),
                _ => field.as_ref().clone(),
            })
            .collect();
        let columns: Vec<arrow_array::ArrayRef> = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| match field.name().as_str() {
                part::columns::VALUE_SCALED => {
                    Arc::new(Int64Array::from(deltas.clone())) as arrow_array::ArrayRef
                }
                _ => Arc::clone(column),
            })
            .collect();
        RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns).unwrap()
    });

    let store = MetricStore::open(config(&dir)).await.unwrap();
    let parts = store.inner.catalog.all();
    assert_eq!(parts.len(), 1, "the rewritten part loads");
    let schema = parts[0].samples_metadata.parquet_schema();
    assert!(schema
        .columns()
        .iter()
        .any(|column| column.name() == part::columns::VALUE_DELTA));
    check_values_of_every_kind(&store, &sent, base).await;
}

/// Thirty counters over two parts (the second with a gap) and the head.
async fn store_over_parts_and_head(dir: &tempfile::TempDir, base: i64) -> MetricStore {
    let store = MetricStore::open(config(dir)).await.unwrap();
    let pods: Vec<String> = (0..30).map(|pod| format!("p{pod:02}")).collect();
    for (round, count) in [(0i64, 40i64), (1, 40), (2, 10)] {
        let series = pods
            .iter()
            .enumerate()
            .filter(|(pod, _)| round < 2 || pod % 2 == 0)
            .filter(|(pod, _)| round != 1 || pod % 7 != 3)
            .map(|(pod, name)| {
                let points = (0..count).map(move |i| {
                    let t = base + round * 40 * 15_000 + i * 15_000;
                    (t, (round * 40 + i) as f64 * (pod + 1) as f64)
                });
                series("http_requests_total", name, points)
            })
            .collect();
        store.append(&tenant(), batch(series)).await.unwrap();
        if round < 2 {
            store.flush().await.unwrap();
        }
    }
    store
}

#[tokio::test]
async fn batches_hand_out_what_select_returns_in_order_a_few_series_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_ms();
    let store = store_over_parts_and_head(&dir, base).await;
    assert_eq!(store.inner.catalog.all().len(), 2);
    let matchers = [eq("__name__", "http_requests_total")];
    let (start, end) = (base + 20 * 15_000, base + HOUR_MS);
    let whole = store
        .select(&tenant(), &matchers, start, end)
        .await
        .unwrap();
    assert_eq!(whole.len(), 30);
    for batch_samples in [1, 100, 500, 100_000] {
        let mut batches = store
            .select_batches(&tenant(), &matchers, start, end, batch_samples)
            .await
            .unwrap();
        let mut handed_out = Vec::new();
        let mut count = 0;
        while let Some(batch) = batches.next().await.unwrap() {
            assert!(!batch.is_empty());
            count += 1;
            handed_out.extend(batch);
        }
        assert_eq!(handed_out, whole, "batches of {batch_samples} samples");
        // Series hold 20 to 90 rows (parts count whole series, not the asked range).
        let expected = match batch_samples {
            1 => 30..=30,
            100 => 15..=30,
            500 => 3..=6,
            _ => 1..=1,
        };
        assert!(
            expected.contains(&count),
            "{batch_samples}: {count} batches"
        );
    }
    let mut nothing = store
        .select_batches(&tenant(), &[eq("__name__", "absent")], start, end, 100)
        .await
        .unwrap();
    assert!(nothing.next().await.unwrap().is_none());
}

#[tokio::test]
async fn batches_read_past_a_part_found_corrupt_and_quarantine_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_ms();
    let store = store_over_parts_and_head(&dir, base).await;
    let first = store
        .inner
        .catalog
        .all()
        .into_iter()
        .min_by_key(|part| part.min_time_ms)
        .unwrap();
    garble_data_pages(&dir.path().join("objects").join(first.samples_path.as_ref()));
    let matchers = [eq("__name__", "http_requests_total")];
    let mut batches = store
        .select_batches(&tenant(), &matchers, base, base + HOUR_MS, 100)
        .await
        .unwrap();
    let mut series = 0;
    while let Some(batch) = batches.next().await.expect("reads go on without the part") {
        for (_, samples) in &batch {
            assert!(samples.iter().all(|s| s.timestamp_ms >= base + 40 * 15_000));
        }
        series += batch.len();
    }
    // Pods 3 and 17 were only in the corrupt part.
    assert_eq!(series, 28, "the later part and the head still read");
    assert_eq!(store.inner.catalog.all().len(), 1);
}

#[tokio::test]
async fn samples_repeated_between_parts_and_head_come_back_once_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_ms();
    let store = store_over_parts_and_head(&dir, base).await;
    // p01 again at times both parts already hold, and one between two of their samples.
    let again = [(base, 0.0), (base + 45 * 15_000, 90.0), (base + 7_500, 1.0)];
    store
        .append(
            &tenant(),
            batch(vec![series("http_requests_total", "p01", again)]),
        )
        .await
        .unwrap();
    let matchers = [eq("__name__", "http_requests_total"), eq("pod", "p01")];
    for batch_samples in [1, usize::MAX] {
        let mut batches = store
            .select_batches(&tenant(), &matchers, base, base + HOUR_MS, batch_samples)
            .await
            .unwrap();
        let (_, samples) = batches.next().await.unwrap().unwrap().pop().unwrap();
        let times: Vec<i64> = samples.iter().map(|s| s.timestamp_ms - base).collect();
        assert_eq!(times.len(), 81, "80 from the parts and one new");
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        assert!(times.contains(&7_500));
    }
}

#[tokio::test]
async fn series_only_in_the_head_come_back_in_label_order_among_those_of_parts() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_ms();
    let store = store_over_parts_and_head(&dir, base).await;
    // Before every pod, between two, and after every one.
    let new_pods = ["p", "p015", "zz"];
    let late = base + 2 * 40 * 15_000;
    let new_series = new_pods
        .iter()
        .map(|pod| series("http_requests_total", pod, [(late, 1.0)]))
        .collect();
    store.append(&tenant(), batch(new_series)).await.unwrap();
    let matchers = [eq("__name__", "http_requests_total")];
    for batch_samples in [1, 100, usize::MAX] {
        let mut batches = store
            .select_batches(&tenant(), &matchers, base, base + HOUR_MS, batch_samples)
            .await
            .unwrap();
        let mut pods = Vec::new();
        while let Some(batch) = batches.next().await.unwrap() {
            for (labels, samples) in batch {
                let pod = labels.get("pod").unwrap().to_string();
                let expected = if new_pods.contains(&pod.as_str()) {
                    1
                } else {
                    // As store_over_parts_and_head writes them, round by round.
                    let number: usize = pod[1..].parse().unwrap();
                    40 + if number % 7 == 3 { 0 } else { 40 }
                        + if number.is_multiple_of(2) { 10 } else { 0 }
                };
                assert_eq!(samples.len(), expected, "{pod}, batches of {batch_samples}");
                pods.push(pod);
            }
        }
        let mut in_order = pods.clone();
        in_order.sort();
        assert_eq!(pods, in_order, "batches of {batch_samples}");
        assert_eq!(pods.len(), 33, "batches of {batch_samples}");
    }
}
