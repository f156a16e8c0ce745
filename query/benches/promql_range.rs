//! `query_range` cost of the PromQL engine alone, over series held in memory: the shapes the
//! metrics benchmark runs end to end (`rate` summed by job, `histogram_quantile` over summed
//! bucket rates), without the store or HTTP in the way.
//!
//! `cargo bench -p sightline-query --bench promql_range -- [series] [hours]` (defaults: 10,000
//! series, 24 h at 15 s, step 60 s). Prints the median and the slowest of a few runs.

use std::time::Instant;

use sightline_query::promql::{Engine, InMemorySeries, Labels};

const SCRAPE_MS: i64 = 15_000;
const STEP_MS: i64 = 60_000;
const RUNS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let series: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let hours: i64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(24);
    let end_ms = 1_700_000_000_000_i64;
    let start_ms = end_ms - hours * 3_600_000;
    let built = Instant::now();
    let mut source = InMemorySeries::new();
    let buckets = [
        "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf", "25",
    ];
    for index in 0..series {
        let job = format!("job-{}", index % 50);
        let instance = format!("pod-{}", index / 50);
        let counter = Labels::new([
            ("__name__", "bench_requests_total"),
            ("job", job.as_str()),
            ("instance", instance.as_str()),
        ]);
        // job = index % 50, le = (index / 50) % 10, instance = index / 500: all distinct.
        let le = buckets[(index / 50) % buckets.len()];
        let bucket = Labels::new([
            ("__name__", "bench_latency_seconds_bucket"),
            ("job", job.as_str()),
            ("instance", format!("pod-{}", index / 500).as_str()),
            ("le", le),
        ]);
        let mut value = 0.0;
        let points: Vec<(i64, f64)> = (start_ms..=end_ms)
            .step_by(SCRAPE_MS as usize)
            .map(|t| {
                value += ((t / SCRAPE_MS + index as i64) % 7) as f64;
                (t, value)
            })
            .collect();
        source.append(counter, points.iter().copied());
        source.append(bucket, points);
    }
    println!(
        "{} series ({} per metric) x {hours} h at {} s built in {:.1} s",
        series * 2,
        series,
        SCRAPE_MS / 1000,
        built.elapsed().as_secs_f64()
    );
    let engine = Engine::default();
    for query in [
        "sum by (job) (rate(bench_requests_total[5m]))",
        "histogram_quantile(0.99, sum by (job, le) (rate(bench_latency_seconds_bucket[5m])))",
    ] {
        let mut timings = Vec::new();
        let mut cpu = Vec::new();
        let mut result_series = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let cpu_started = thread_cpu_ms();
            let result = engine
                .range_query(&source, query, start_ms, end_ms, STEP_MS)
                .expect("query runs");
            cpu.push(thread_cpu_ms() - cpu_started);
            timings.push(started.elapsed().as_secs_f64() * 1000.0);
            result_series = result.len();
        }
        timings.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        println!(
            "{query}\n  step {} s, {result_series} result series: median {:.0} ms wall, {:.0} ms CPU; max {:.0} ms wall",
            STEP_MS / 1000,
            timings[RUNS / 2],
            cpu[RUNS / 2],
            timings[RUNS - 1]
        );
    }
}

/// CPU time this thread has run, in ms (Linux' schedstat), so a loaded machine does not
/// inflate the figures; 0 where unavailable.
fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |nanos| nanos / 1e6)
}
