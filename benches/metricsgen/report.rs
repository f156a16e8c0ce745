//! Per-target results, the side-by-side table and the machine-readable JSON.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::data::Shape;
use crate::ingest::IngestOutcome;
use crate::queries::{self, QueryOutcome};
use crate::targets::Kind;

/// Samples one metric family returns over the whole window, against what was sent.
pub struct FamilyCount {
    pub family: &'static str,
    pub expected: u64,
    pub returned: Result<u64, String>,
    pub seconds: f64,
}

impl FamilyCount {
    /// One line for the console.
    pub fn line(&self) -> String {
        match &self.returned {
            Ok(n) if *n == self.expected => format!(
                "  {}: all {n} samples returned ({:.1}s)",
                self.family, self.seconds
            ),
            Ok(n) => format!(
                "  {}: {n} samples returned, {} sent ({:.1}s)",
                self.family, self.expected, self.seconds
            ),
            Err(error) => format!("  {}: count failed: {error}", self.family),
        }
    }
}

/// Size on disk.
#[derive(Default)]
pub struct DiskReport {
    /// Bytes counted for bytes per sample.
    pub bytes: u64,
    /// Samples those bytes hold when the server says so (Prometheus' block metadata);
    /// otherwise the acknowledged samples are used.
    pub samples_on_disk: Option<u64>,
    /// The samples used for bytes per sample (set by the report).
    pub samples: u64,
    /// WAL (and for Prometheus the head chunks) measured apart.
    pub wal_bytes: u64,
    pub breakdown: BTreeMap<String, u64>,
    pub note: String,
}

impl DiskReport {
    /// Bytes per sample.
    pub fn bytes_per_sample(&self) -> f64 {
        self.bytes as f64 / self.samples.max(1) as f64
    }
}

/// Everything measured on one target.
pub struct TargetReport {
    pub kind: Kind,
    pub version: String,
    pub ingest: IngestOutcome,
    pub flush_seconds: f64,
    pub ingest_cpu_seconds: f64,
    /// CPU of the load generator itself during ingest.
    pub ingest_bench_cpu_seconds: f64,
    /// CPU of every other process (other builds on a shared machine, perf) during ingest.
    pub ingest_other_cpu_seconds: f64,
    pub rss_after_ingest_mib: f64,
    pub settle_seconds: f64,
    pub families: Vec<FamilyCount>,
    pub queries: Vec<(&'static str, QueryOutcome)>,
    pub query_cpu_seconds: f64,
    pub query_other_cpu_seconds: f64,
    pub peak_rss_mib: f64,
    pub disk: DiskReport,
}

impl TargetReport {
    /// An empty report for `kind`.
    pub fn new(kind: Kind, version: String) -> Self {
        Self {
            kind,
            version,
            ingest: IngestOutcome::default(),
            flush_seconds: 0.0,
            ingest_cpu_seconds: 0.0,
            ingest_bench_cpu_seconds: 0.0,
            ingest_other_cpu_seconds: 0.0,
            rss_after_ingest_mib: 0.0,
            settle_seconds: 0.0,
            families: Vec::new(),
            queries: Vec::new(),
            query_cpu_seconds: 0.0,
            query_other_cpu_seconds: 0.0,
            peak_rss_mib: 0.0,
            disk: DiskReport::default(),
        }
    }

    /// Acknowledged samples per second of send (and flush) time.
    pub fn samples_per_second(&self) -> f64 {
        self.ingest.samples_acknowledged as f64
            / (self.ingest.elapsed.as_secs_f64() + self.flush_seconds).max(1e-9)
    }

    fn ingest_seconds(&self) -> f64 {
        self.ingest.elapsed.as_secs_f64() + self.flush_seconds
    }

    /// One line for the console.
    pub fn ingest_line(&self) -> String {
        format!(
            "ingest: {} samples acknowledged in {:.1}s (+{:.1}s flush) = {:.0} samples/s; \
             {} requests, {} refused ({} samples), {} retries; server CPU {:.1}s ({:.2} cores), \
             loadgen {:.1}s, other processes {:.1}s; RSS peak {:.0} MiB",
            self.ingest.samples_acknowledged,
            self.ingest.elapsed.as_secs_f64(),
            self.flush_seconds,
            self.samples_per_second(),
            self.ingest.requests,
            self.ingest.failed_requests,
            self.ingest.samples_refused,
            self.ingest.retries,
            self.ingest_cpu_seconds,
            self.ingest_cpu_seconds / self.ingest_seconds().max(1e-9),
            self.ingest_bench_cpu_seconds,
            self.ingest_other_cpu_seconds,
            self.rss_after_ingest_mib,
        )
    }

    /// True when ingest refused something, a count differed or a query failed.
    pub fn has_failures(&self) -> bool {
        self.ingest.failed_requests > 0
            || self
                .families
                .iter()
                .any(|count| count.returned.as_ref().ok() != Some(&count.expected))
            || self
                .queries
                .iter()
                .any(|(_, outcome)| outcome.error.is_some())
    }

    fn query(&self, name: &str) -> Option<&QueryOutcome> {
        self.queries
            .iter()
            .find(|(query, _)| *query == name)
            .map(|(_, outcome)| outcome)
    }
}

/// One line for the console.
pub fn query_line(name: &str, outcome: &QueryOutcome) -> String {
    match (outcome.median_p99(), &outcome.error) {
        (Some((median, p99)), None) => format!(
            "query {name}: median {median:.1} ms, p99 {p99:.1} ms over {} runs",
            outcome.millis.len()
        ),
        (_, Some(error)) => format!("query {name}: failed: {error}"),
        (None, None) => format!("query {name}: no run"),
    }
}

/// Compares each target's answers with Prometheus' (or the first target's).
fn comparisons(reports: &[TargetReport]) -> Vec<(String, &'static str, queries::Comparison)> {
    let reference = reports
        .iter()
        .find(|report| report.kind == Kind::Prometheus)
        .or(reports.first());
    let Some(reference) = reference else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for report in reports.iter().filter(|r| r.kind != reference.kind) {
        for query in queries::RANGE_QUERIES {
            let expected = reference.query(query.name).and_then(|o| o.result.as_ref());
            let actual = report.query(query.name).and_then(|o| o.result.as_ref());
            if let (Some(expected), Some(actual)) = (expected, actual) {
                let label = format!("{} vs {}", report.kind.name(), reference.kind.name());
                out.push((label, query.name, queries::compare(expected, actual)));
            }
        }
    }
    out
}

fn cell_ms(report: &TargetReport, name: &str) -> String {
    match report.query(name) {
        Some(outcome) => match (outcome.median_p99(), &outcome.error) {
            (Some((median, p99)), None) => format!("{median:.0} / {p99:.0}"),
            (_, Some(_)) => "failed".to_string(),
            _ => "–".to_string(),
        },
        None => "–".to_string(),
    }
}

/// Prints the side-by-side table (Markdown), ratios and the answer comparison.
pub fn print_table(shape: &Shape, reports: &[TargetReport]) {
    let mut header = "| measure |".to_string();
    let mut rule = "|---|".to_string();
    for report in reports {
        header += &format!(" {} |", report.kind.name());
        rule += "---|";
    }
    println!(
        "\n{} series × {} samples\n{header}\n{rule}",
        shape.series(),
        shape.steps
    );
    let row = |label: &str, cell: &dyn Fn(&TargetReport) -> String| {
        let cells: String = reports.iter().map(|r| format!(" {} |", cell(r))).collect();
        println!("| {label} |{cells}");
    };
    row("ingest, samples/s", &|r| {
        format!("{:.0}", r.samples_per_second())
    });
    row("server CPU during ingest, cores", &|r| {
        format!("{:.2}", r.ingest_cpu_seconds / r.ingest_seconds().max(1e-9))
    });
    row("other processes' CPU during ingest, cores", &|r| {
        format!(
            "{:.2}",
            r.ingest_other_cpu_seconds / r.ingest_seconds().max(1e-9)
        )
    });
    row("samples refused", &|r| r.ingest.samples_refused.to_string());
    row("samples returned / sent", &|r| {
        let returned: u64 = r
            .families
            .iter()
            .filter_map(|f| f.returned.clone().ok())
            .sum();
        let expected: u64 = r.families.iter().map(|f| f.expected).sum();
        format!("{returned} / {expected}")
    });
    row("bytes/sample on disk", &|r| {
        format!("{:.3}", r.disk.bytes_per_sample())
    });
    row("WAL bytes/sample (apart)", &|r| {
        format!(
            "{:.3}",
            r.disk.wal_bytes as f64 / r.disk.samples.max(1) as f64
        )
    });
    for query in queries::RANGE_QUERIES {
        row(&format!("{} median / p99 ms", query.name), &|r| {
            cell_ms(r, query.name)
        });
    }
    row("peak RSS MiB", &|r| format!("{:.0}", r.peak_rss_mib));
    println!();
    for (pair, query, comparison) in comparisons(reports) {
        println!(
            "{pair} {query}: {} ({} points compared, {} series vs {}, {} unmatched series, \
             {} unmatched points, {} mismatches, max relative difference {:.2e}){}",
            if comparison.agrees() {
                "same"
            } else {
                "DIFFERENT"
            },
            comparison.points_compared,
            comparison.series,
            comparison.reference_series,
            comparison.unmatched_series,
            comparison.unmatched_points,
            comparison.mismatches,
            comparison.max_relative_difference,
            comparison
                .example
                .map(|example| format!("; e.g. {example}"))
                .unwrap_or_default()
        );
    }
}

/// The whole run as JSON.
pub fn to_json(
    shape: &Shape,
    options: &Value,
    encode_seconds: f64,
    reports: &[TargetReport],
) -> Value {
    let targets: Vec<Value> = reports.iter().map(target_json).collect();
    let comparisons: Vec<Value> = comparisons(reports)
        .into_iter()
        .map(|(pair, query, c)| {
            json!({
                "pair": pair, "query": query, "agrees": c.agrees(),
                "points_compared": c.points_compared, "series": c.series,
                "reference_series": c.reference_series, "unmatched_series": c.unmatched_series,
                "unmatched_points": c.unmatched_points, "mismatches": c.mismatches,
                "max_relative_difference": c.max_relative_difference, "example": c.example,
            })
        })
        .collect();
    json!({
        "data": {
            "series": shape.series(), "steps": shape.steps, "samples": shape.samples(),
            "start_millis": shape.start_millis(), "end_millis": shape.end_millis,
            "encode_seconds": encode_seconds,
        },
        "options": options,
        "queries": queries::RANGE_QUERIES.iter().map(|q| json!({"name": q.name, "promql": q.promql})).collect::<Vec<_>>(),
        "targets": targets,
        "comparisons": comparisons,
    })
}

fn target_json(r: &TargetReport) -> Value {
    let queries: Vec<Value> = r
        .queries
        .iter()
        .map(|(name, outcome)| {
            let (median, p99) = outcome.median_p99().unwrap_or((f64::NAN, f64::NAN));
            json!({"name": name, "median_ms": median, "p99_ms": p99,
                   "runs_ms": outcome.millis, "error": outcome.error})
        })
        .collect();
    let families: Vec<Value> = r
        .families
        .iter()
        .map(|f| {
            json!({"family": f.family, "expected": f.expected,
                   "returned": f.returned.as_ref().ok(), "error": f.returned.as_ref().err(),
                   "seconds": f.seconds})
        })
        .collect();
    json!({
        "target": r.kind.name(),
        "version": r.version,
        "ingest": {
            "samples_acknowledged": r.ingest.samples_acknowledged,
            "samples_refused": r.ingest.samples_refused,
            "requests": r.ingest.requests,
            "failed_requests": r.ingest.failed_requests,
            "retries": r.ingest.retries,
            "first_error": r.ingest.first_error,
            "send_seconds": r.ingest.elapsed.as_secs_f64(),
            "flush_seconds": r.flush_seconds,
            "samples_per_second": r.samples_per_second(),
            "server_cpu_seconds": r.ingest_cpu_seconds,
            "loadgen_cpu_seconds": r.ingest_bench_cpu_seconds,
            "other_processes_cpu_seconds": r.ingest_other_cpu_seconds,
            "rss_mib": r.rss_after_ingest_mib,
        },
        "settle_seconds": r.settle_seconds,
        "families": families,
        "queries": queries,
        "query_server_cpu_seconds": r.query_cpu_seconds,
        "query_other_processes_cpu_seconds": r.query_other_cpu_seconds,
        "peak_rss_mib": r.peak_rss_mib,
        "disk": {
            "bytes": r.disk.bytes,
            "samples": r.disk.samples,
            "bytes_per_sample": r.disk.bytes_per_sample(),
            "wal_bytes": r.disk.wal_bytes,
            "breakdown": r.disk.breakdown,
            "note": r.disk.note,
        },
    })
}
