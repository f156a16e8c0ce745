//! Runs Prometheus' PromQL conformance scripts (`shared/conformance/promql/*.test`, see its
//! `SOURCE.md`) against [`sightline_query::promql::Engine`] over [`InMemorySeries`].
//!
//! Each `eval` passes, fails, or is skipped: automatically when it needs native histograms
//! (its expected result or a series it reads holds `{{…}}` samples), or because
//! `promql_conformance/skip.txt` lists it with a reason. The test fails if any eval that is
//! not skipped fails. Instant evals are also run as a range query over the same single
//! instant, which must agree. Set `SIGHTLINE_PROMQL_CONFORMANCE_DIR` to run scripts elsewhere, and
//! `SIGHTLINE_PROMQL_CONFORMANCE_VERBOSE=1` to list the automatically skipped evals.

#[path = "promql_conformance/compare.rs"]
mod compare;
#[path = "promql_conformance/script.rs"]
mod script;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use sightline_query::promql::value::METRIC_NAME_LABEL;
use sightline_query::promql::{Engine, InMemorySeries};

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

/// The state of one script run: the loaded series and which metric names hold native
/// histograms.
#[derive(Default)]
struct Environment {
    source: InMemorySeries,
    histogram_names: HashSet<String>,
}

impl Environment {
    fn load(&mut self, interval_ms: i64, with_nhcb: bool, series: Vec<script::SeriesLine>) {
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
            let samples = line
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, value)| value.map(|v| (i as i64 * interval_ms, v)));
            self.source.append(line.labels.clone(), samples);
        }
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
    file: &str,
    text: &str,
    skips: &BTreeMap<(String, usize), String>,
    used_skips: &mut HashSet<(String, usize)>,
) -> Counts {
    let commands = script::parse_script(text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut env = Environment::default();
    let mut counts = Counts::default();
    for command in commands {
        match command {
            Command::Clear => env = Environment::default(),
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
                    if compare::run_eval(engine, &env.source, &eval).is_ok() {
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
                match compare::run_eval(engine, &env.source, &eval) {
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

#[test]
fn promql_conformance_scripts() {
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
        let counts = run_file(&engine, &file, &text, &skips, &mut used_skips);
        println!(
            "{file}: {} passed / {} failed / {} skipped",
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
        "total: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.skipped
    );
    assert!(
        unused.is_empty(),
        "skip.txt names evals that do not exist: {unused:?}"
    );
    assert_eq!(total.failed, 0, "PromQL conformance evals failed");
}
