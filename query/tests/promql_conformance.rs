//! Runs Prometheus' PromQL conformance scripts (`shared/conformance/promql/*.test`, see its
//! `SOURCE.md`) against [`sightline_query::promql::Engine`], twice: over [`InMemorySeries`]
//! (the engine alone), and over the real [`MetricStore`] in a temporary directory through
//! [`MetricStoreSource`] (the store and the engine together: every `load` is appended with
//! `MetricStore::append` and flushed to Parquet parts, so evaluation reads parts, and the
//! head where later loads extend a series).
//!
//! Each `eval` passes, fails, or is skipped: automatically when it needs native histograms
//! (its expected result or a series it reads holds `{{…}}` samples), or because
//! `promql_conformance/skip.txt` lists it with a reason. A run fails if any eval that is
//! not skipped fails. Instant evals are also run as a range query over the same single
//! instant, which must agree. Set `SIGHTLINE_PROMQL_CONFORMANCE_DIR` to run scripts elsewhere, and
//! `SIGHTLINE_PROMQL_CONFORMANCE_VERBOSE=1` to list the automatically skipped evals.
#![allow(clippy::unwrap_used)] // a test binary: a failed unwrap is a failed test

#[path = "promql_conformance/compare.rs"]
mod compare;
#[path = "promql_conformance/script.rs"]
mod script;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use sightline_model::{MetricBatch, MetricSample, SeriesSamples, TenantId};
use sightline_query::promql::value::METRIC_NAME_LABEL;
use sightline_query::promql::{Engine, InMemorySeries, Labels, MetricStoreSource, SeriesSource};
use sightline_store::{MetricStore, StoreConfig};

use script::{Command, Eval};

const SKIP_LIST: &str = include_str!("promql_conformance/skip.txt");

fn conformance_dir() -> PathBuf {
    match std::env::var_os("SIGHTLINE_PROMQL_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/promql"),
    }
}

/// `file:line` → reason, from the skip list.
fn parse_skip_list() -> BTreeMap<(String, usize), String> {
    let mut skips = BTreeMap::new();
    for (i, line) in SKIP_LIST.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (location, reason) = line
            .split_once(char::is_whitespace)
            .unwrap_or_else(|| panic!("skip.txt line {}: no reason given", i + 1));
        let (file, eval_line) = location
            .split_once(':')
            .unwrap_or_else(|| panic!("skip.txt line {}: expected file:line", i + 1));
        let eval_line: usize = eval_line
            .parse()
            .unwrap_or_else(|_| panic!("skip.txt line {}: bad line number", i + 1));
        skips.insert((file.to_string(), eval_line), reason.trim().to_string());
    }
    skips
}

#[derive(Default)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Automatic skip reason → how many evals it skipped.
    auto_skips: BTreeMap<String, usize>,
}

/// Where a run keeps the loaded series.
trait Backend {
    /// Forgets every series.
    fn clear(&mut self);
    /// Adds the series of one `load` command.
    fn load(&mut self, series: Vec<(Labels, Vec<(i64, f64)>)>);
    /// What the engine reads.
    fn source(&self) -> &dyn SeriesSource;
}

/// The engine alone: series in memory.
#[derive(Default)]
struct InMemoryBackend(InMemorySeries);

impl Backend for InMemoryBackend {
    fn clear(&mut self) {
        self.0.clear();
    }

    fn load(&mut self, series: Vec<(Labels, Vec<(i64, f64)>)>) {
        for (labels, samples) in series {
            self.0.append(labels, samples);
        }
    }

    fn source(&self) -> &dyn SeriesSource {
        &self.0
    }
}

/// The real metric store in a temporary directory. A `clear` moves to a fresh tenant, which
/// is as empty as a new store and much cheaper.
struct StoreBackend {
    runtime: tokio::runtime::Runtime,
    store: MetricStore,
    tenants_used: usize,
    source: MetricStoreSource,
    _dir: tempfile::TempDir,
}

impl StoreBackend {
    fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let store = runtime
            .block_on(MetricStore::open(StoreConfig {
                data_dir: dir.path().to_path_buf(),
                ..StoreConfig::default()
            }))
            .unwrap();
        let source = Self::source_for(&runtime, &store, 0);
        Self {
            runtime,
            store,
            tenants_used: 0,
            source,
            _dir: dir,
        }
    }

    fn source_for(
        runtime: &tokio::runtime::Runtime,
        store: &MetricStore,
        tenant: usize,
    ) -> MetricStoreSource {
        let tenant = TenantId::new(&format!("script-{tenant}")).unwrap();
        // Small batches, so that sweeps fold series over many batches of the store's.
        MetricStoreSource::new(store.clone(), tenant, runtime.handle().clone())
            .with_batch_samples(50)
    }

    fn tenant(&self) -> TenantId {
        TenantId::new(&format!("script-{}", self.tenants_used)).unwrap()
    }
}

impl Backend for StoreBackend {
    fn clear(&mut self) {
        self.tenants_used += 1;
        self.source = Self::source_for(&self.runtime, &self.store, self.tenants_used);
    }

    fn load(&mut self, series: Vec<(Labels, Vec<(i64, f64)>)>) {
        let batch = MetricBatch {
            series: series
                .into_iter()
                .map(|(labels, samples)| SeriesSamples {
                    labels,
                    samples: samples
                        .into_iter()
                        .map(|(timestamp_ms, value)| MetricSample {
                            timestamp_ms,
                            value,
                        })
                        .collect(),
                    exemplars: Vec::new(),
                })
                .collect(),
            metadata: Vec::new(),
        };
        let tenant = self.tenant();
        let outcome = self
            .runtime
            .block_on(self.store.append(&tenant, batch))
            .unwrap();
        assert_eq!(
            outcome.rejected_samples, 0,
            "the store refused samples: {:?}",
            outcome.first_rejection
        );
        self.runtime.block_on(self.store.flush()).unwrap();
    }

    fn source(&self) -> &dyn SeriesSource {
        &self.source
    }
}

/// The state of one script run: the backend and which metric names hold native histograms.
struct Environment<'a> {
    backend: &'a mut dyn Backend,
    histogram_names: HashSet<String>,
}

impl Environment<'_> {
    fn clear(&mut self) {
        self.backend.clear();
        self.histogram_names.clear();
    }

    fn load(&mut self, interval_ms: i64, with_nhcb: bool, series: Vec<script::SeriesLine>) {
        let mut loaded = Vec::new();
        for line in series {
            let name = line.labels.get(METRIC_NAME_LABEL).unwrap_or("").to_string();
            if line.native_histogram {
                self.histogram_names.insert(name);
                continue;
            }
            if with_nhcb {
                if let Some(base) = name.strip_suffix("_bucket") {
                    self.histogram_names.insert(base.to_string());
                }
            }
            let samples: Vec<(i64, f64)> = line
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, value)| value.map(|v| (i as i64 * interval_ms, v)))
                .collect();
            if !samples.is_empty() {
                loaded.push((line.labels.clone(), samples));
            }
        }
        self.backend.load(loaded);
    }

    /// Why an eval needs native histograms, if it does.
    fn native_histogram_reason(&self, eval: &Eval) -> Option<String> {
        if eval.raw_expected.contains("{{") {
            return Some("native histograms: expected result holds histogram samples".into());
        }
        let words = eval
            .expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
        for word in words {
            if !word.is_empty() && self.histogram_names.contains(word) {
                return Some(
                    "native histograms: reads a series loaded with histogram samples".into(),
                );
            }
        }
        None
    }
}

fn run_file(
    engine: &Engine,
    backend: &mut dyn Backend,
    file: &str,
    text: &str,
    skips: &BTreeMap<(String, usize), String>,
    used_skips: &mut HashSet<(String, usize)>,
) -> Counts {
    let commands = script::parse_script(text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut env = Environment {
        backend,
        histogram_names: HashSet::new(),
    };
    env.clear();
    let mut counts = Counts::default();
    for command in commands {
        match command {
            Command::Clear => env.clear(),
            Command::Load {
                interval_ms,
                with_nhcb,
                series,
            } => env.load(interval_ms, with_nhcb, series),
            Command::Eval(eval) => {
                let key = (file.to_string(), eval.line);
                if skips.contains_key(&key) {
                    used_skips.insert(key);
                    counts.skipped += 1;
                    if compare::run_eval(engine, env.backend.source(), &eval).is_ok() {
                        println!("  note: {file}:{} is skipped but passes now", eval.line);
                    }
                    continue;
                }
                if let Some(reason) = env.native_histogram_reason(&eval) {
                    if std::env::var_os("SIGHTLINE_PROMQL_CONFORMANCE_VERBOSE").is_some() {
                        println!("  skip {file}:{} {} ({reason})", eval.line, eval.expr);
                    }
                    *counts.auto_skips.entry(reason).or_default() += 1;
                    counts.skipped += 1;
                    continue;
                }
                match compare::run_eval(engine, env.backend.source(), &eval) {
                    Ok(()) => counts.passed += 1,
                    Err(reason) => {
                        counts.failed += 1;
                        println!("  FAIL {file}:{} {}\n       {reason}", eval.line, eval.expr);
                    }
                }
            }
        }
    }
    counts
}

/// Runs every script against `backend` and returns the totals, printing a line per file.
fn run_suite(label: &str, backend: &mut dyn Backend) -> Counts {
    let dir = conformance_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let skips = parse_skip_list();
    let mut used_skips = HashSet::new();
    let engine = Engine::default();
    let mut total = Counts::default();
    for path in &files {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).unwrap();
        let counts = run_file(&engine, backend, &file, &text, &skips, &mut used_skips);
        println!(
            "{label}: {file}: {} passed / {} failed / {} skipped",
            counts.passed, counts.failed, counts.skipped
        );
        for (reason, count) in &counts.auto_skips {
            println!("  skipped {count}: {reason}");
        }
        total.passed += counts.passed;
        total.failed += counts.failed;
        total.skipped += counts.skipped;
    }
    let unused: Vec<_> = skips
        .keys()
        .filter(|key| !used_skips.contains(*key))
        .collect();
    println!(
        "{label} total: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.skipped
    );
    assert!(
        unused.is_empty(),
        "skip.txt names evals that do not exist: {unused:?}"
    );
    total
}

#[test]
fn promql_conformance_scripts() {
    let total = run_suite("in memory", &mut InMemoryBackend::default());
    assert_eq!(total.failed, 0, "PromQL conformance evals failed");
}

#[test]
fn promql_conformance_scripts_over_metric_store() {
    let total = run_suite("metric store", &mut StoreBackend::open());
    assert_eq!(
        total.failed, 0,
        "PromQL conformance evals failed over the metric store"
    );
}
