//! Deterministic, realistic metric data, pre-encoded as remote write requests.
//!
//! Every instance (`host-NNNN:9100`, spread over [`JOBS`] jobs) exports:
//! - `bench_requests_total{handler}`: one counter per handler, growing each 15 s step by a
//!   Poisson-like random integer around its own rate (log-uniform 0.05–40 req/s) times a
//!   daily cycle;
//! - `bench_latency_seconds_bucket{le}` (10 buckets, `+Inf` included), `_sum` and `_count`: a
//!   classic histogram whose buckets are cumulative and consistent (`+Inf` = `_count`), filled
//!   from a per-instance log-normal latency with multinomial-like noise;
//! - two gauges of limited precision: `bench_memory_bytes` (whole 4 KiB pages, a random walk)
//!   and `bench_temperature_celsius` (one decimal).
//!
//! Requests follow Prometheus' own remote write: a request holds a time slice (by default
//! 10 steps) of a group of series (by default 20 instances = 480 series), and each group's
//! slices are sent in time order.

use std::f64::consts::TAU;

use crate::ingest::EncodedRequest;
use crate::prompb::{Label, Sample, TimeSeries, WriteRequest};

/// Scrape interval of the generated data.
pub const STEP_MILLIS: i64 = 15_000;
/// Jobs the instances are spread over (the `by (job)` of the queries).
pub const JOBS: usize = 10;
const HANDLERS: [&str; 10] = [
    "/api/v1/items",
    "/api/v1/cart",
    "/api/v1/users",
    "/checkout",
    "/login",
    "/search",
    "/health",
    "/graphql",
    "/static",
    "/upload",
];
const BUCKET_BOUNDS: [f64; 9] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
const LE_TEXT: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];
/// A value standing for the observations of each bucket when adding up `_sum`.
const BUCKET_REPRESENTATIVE: [f64; 10] = [
    0.003, 0.0075, 0.0175, 0.0375, 0.075, 0.175, 0.375, 0.75, 1.75, 4.0,
];
/// Series per instance: counters, buckets, `_sum` and `_count`, two gauges.
pub const SERIES_PER_INSTANCE: usize = HANDLERS.len() + LE_TEXT.len() + 2 + 2;
const DAY_MILLIS: f64 = 86_400_000.0;

/// What is generated and how it is cut into requests.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Instances in all (each with [`SERIES_PER_INSTANCE`] series).
    pub instances: usize,
    /// Samples per series.
    pub steps: usize,
    /// Timestamp of the last sample (ms), a multiple of [`STEP_MILLIS`].
    pub end_millis: i64,
    /// Instances per request (the series group of a request).
    pub instances_per_request: usize,
    /// Steps per request (the time slice of a request).
    pub steps_per_request: usize,
}

impl Shape {
    /// Timestamp of the first sample (ms).
    pub fn start_millis(&self) -> i64 {
        self.end_millis - (self.steps as i64 - 1) * STEP_MILLIS
    }

    /// Series in all.
    pub fn series(&self) -> usize {
        self.instances * SERIES_PER_INSTANCE
    }

    /// Series of each metric family: (counters, buckets, `_sum` + `_count`, gauges).
    pub fn series_by_kind(&self) -> (usize, usize, usize, usize) {
        (
            self.instances * HANDLERS.len(),
            self.instances * LE_TEXT.len(),
            self.instances * 2,
            self.instances * 2,
        )
    }

    /// Samples in all.
    pub fn samples(&self) -> u64 {
        self.series() as u64 * self.steps as u64
    }

    /// Series groups (one per request of a time slice).
    pub fn groups(&self) -> usize {
        self.instances.div_ceil(self.instances_per_request)
    }

    /// Time slices (requests per group).
    pub fn slices(&self) -> usize {
        self.steps.div_ceil(self.steps_per_request)
    }
}

/// Generates and encodes every request, `[group][slice]`, on `threads` threads.
pub fn encode_all(shape: &Shape, threads: usize) -> Vec<Vec<EncodedRequest>> {
    let groups = shape.groups();
    let mut out: Vec<Option<Vec<EncodedRequest>>> = (0..groups).map(|_| None).collect();
    std::thread::scope(|scope| {
        let chunk = groups.div_ceil(threads.max(1)).max(1);
        for (index, slots) in out.chunks_mut(chunk).enumerate() {
            let first_group = index * chunk;
            scope.spawn(move || {
                for (offset, slot) in slots.iter_mut().enumerate() {
                    *slot = Some(encode_group(shape, first_group + offset));
                }
            });
        }
    });
    out.into_iter()
        .map(|group| group.expect("every group encoded by its thread"))
        .collect()
}

fn encode_group(shape: &Shape, group: usize) -> Vec<EncodedRequest> {
    let first = group * shape.instances_per_request;
    let last = (first + shape.instances_per_request).min(shape.instances);
    let mut instances: Vec<Instance> = (first..last).map(Instance::new).collect();
    let mut encoder = snap::raw::Encoder::new();
    let mut requests = Vec::with_capacity(shape.slices());
    for slice in 0..shape.slices() {
        let first_step = slice * shape.steps_per_request;
        let steps = (first_step..shape.steps.min(first_step + shape.steps_per_request)).len();
        let mut timeseries = Vec::with_capacity(instances.len() * SERIES_PER_INSTANCE);
        for instance in &mut instances {
            let mut series: Vec<TimeSeries> = instance
                .labels
                .iter()
                .map(|labels| TimeSeries {
                    labels: labels.clone(),
                    samples: Vec::with_capacity(steps),
                })
                .collect();
            for step in first_step..first_step + steps {
                let timestamp = shape.start_millis() + step as i64 * STEP_MILLIS;
                for (target, value) in series.iter_mut().zip(instance.advance(timestamp)) {
                    target.samples.push(Sample { value, timestamp });
                }
            }
            timeseries.extend(series);
        }
        let samples = timeseries.iter().map(|s| s.samples.len() as u64).sum();
        let protobuf = prost::Message::encode_to_vec(&WriteRequest { timeseries });
        let body = encoder
            .compress_vec(&protobuf)
            .expect("snappy compresses any buffer under 4 GiB");
        requests.push(EncodedRequest {
            body: body.leak(),
            samples,
        });
    }
    requests
}

/// A small, fast, deterministic PRNG (xorshift64*), so every run sends the same values.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly standard normal (Irwin–Hall of four uniforms).
    fn normal(&mut self) -> f64 {
        let sum: f64 = (0..4).map(|_| self.uniform()).sum();
        (sum - 2.0) * 3f64.sqrt()
    }

    /// Log-uniform in [low, high).
    fn log_uniform(&mut self, low: f64, high: f64) -> f64 {
        (low.ln() + (high.ln() - low.ln()) * self.uniform()).exp()
    }
}

/// A Poisson-like count around `mean` (normal approximation, never negative).
fn noisy_count(rng: &mut Rng, mean: f64) -> f64 {
    (mean + mean.sqrt() * rng.normal()).round().max(0.0)
}

/// The standard normal distribution function (Abramowitz–Stegun 7.1.26, error < 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// One instance's series and their state between steps.
struct Instance {
    rng: Rng,
    labels: Vec<Vec<Label>>,
    phase: f64,
    request_rates_per_step: [f64; HANDLERS.len()],
    requests: [f64; HANDLERS.len()],
    observations_per_step: f64,
    bucket_probabilities: [f64; LE_TEXT.len()],
    buckets: [f64; LE_TEXT.len()],
    latency_sum: f64,
    memory_pages: f64,
    memory_target_pages: f64,
    temperature_base: f64,
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.to_string(),
        value: value.to_string(),
    }
}

impl Instance {
    fn new(index: usize) -> Self {
        let mut rng = Rng::new(index as u64);
        let job = format!("job-{:02}", index % JOBS);
        let instance = format!("host-{index:04}:9100");
        // Label names sorted, as the remote write spec requires.
        let base = |name: &str| {
            vec![
                label("__name__", name),
                label("instance", &instance),
                label("job", &job),
            ]
        };
        let mut labels = Vec::with_capacity(SERIES_PER_INSTANCE);
        for handler in HANDLERS {
            labels.push(vec![
                label("__name__", "bench_requests_total"),
                label("handler", handler),
                label("instance", &instance),
                label("job", &job),
            ]);
        }
        for le in LE_TEXT {
            let mut set = base("bench_latency_seconds_bucket");
            set.push(label("le", le));
            labels.push(set);
        }
        labels.push(base("bench_latency_seconds_sum"));
        labels.push(base("bench_latency_seconds_count"));
        labels.push(base("bench_memory_bytes"));
        labels.push(base("bench_temperature_celsius"));

        let phase = rng.uniform() * TAU;
        let request_rates_per_step = std::array::from_fn(|_| rng.log_uniform(0.05, 40.0) * 15.0);
        let median = rng.log_uniform(0.015, 0.2);
        let sigma = 0.5 + rng.uniform() * 0.7;
        let mut cumulative = [1.0; LE_TEXT.len()];
        for (slot, bound) in cumulative.iter_mut().zip(BUCKET_BOUNDS) {
            *slot = normal_cdf((bound.ln() - median.ln()) / sigma);
        }
        let mut bucket_probabilities = [0.0; LE_TEXT.len()];
        let mut below = 0.0;
        for (probability, upto) in bucket_probabilities.iter_mut().zip(cumulative) {
            *probability = upto - below;
            below = upto;
        }
        let memory_target_pages = rng.log_uniform(20_000.0, 2_000_000.0).round();
        Self {
            observations_per_step: rng.log_uniform(1.0, 30.0) * 15.0,
            temperature_base: 40.0 + rng.uniform() * 20.0,
            memory_pages: memory_target_pages,
            memory_target_pages,
            rng,
            labels,
            phase,
            request_rates_per_step,
            requests: [0.0; HANDLERS.len()],
            bucket_probabilities,
            buckets: [0.0; LE_TEXT.len()],
            latency_sum: 0.0,
        }
    }

    /// Moves every series one step to `timestamp`; values in the order of `labels`.
    fn advance(&mut self, timestamp: i64) -> [f64; SERIES_PER_INSTANCE] {
        let day = (timestamp as f64 / DAY_MILLIS * TAU + self.phase).sin();
        let load = 1.0 + 0.35 * day;
        for (total, rate) in self.requests.iter_mut().zip(self.request_rates_per_step) {
            *total += noisy_count(&mut self.rng, rate * load);
        }
        let mut observed_below = 0.0;
        let buckets = self
            .buckets
            .iter_mut()
            .zip(self.bucket_probabilities)
            .zip(BUCKET_REPRESENTATIVE);
        for ((bucket, probability), representative) in buckets {
            let expected = self.observations_per_step * load * probability;
            let count = noisy_count(&mut self.rng, expected);
            observed_below += count;
            *bucket += observed_below;
            self.latency_sum += count * representative * (1.0 + 0.1 * self.rng.normal());
        }
        let drift = (self.memory_target_pages - self.memory_pages) * 0.01;
        self.memory_pages = (self.memory_pages + drift + 40.0 * self.rng.normal())
            .round()
            .max(1.0);
        let temperature =
            ((self.temperature_base + 6.0 * day + 0.8 * self.rng.normal()) * 10.0).round() / 10.0;
        let mut values = [0.0; SERIES_PER_INSTANCE];
        let (counters, rest) = values.split_at_mut(HANDLERS.len());
        counters.copy_from_slice(&self.requests);
        let (buckets, rest) = rest.split_at_mut(LE_TEXT.len());
        buckets.copy_from_slice(&self.buckets);
        rest.copy_from_slice(&[
            self.latency_sum,
            self.buckets[LE_TEXT.len() - 1],
            self.memory_pages * 4096.0,
            temperature,
        ]);
        values
    }
}
