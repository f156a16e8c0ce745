//! Per-tenant ingest rate limits: two token buckets per tenant, one of request bytes and one of
//! items (spans, log records, metric points and samples), refilled at the configured rate per
//! second and holding at most `burst_seconds` worth.
//!
//! An export is admitted before it is decoded (decoding has effects: OTLP delta sums are
//! added up), on its bytes: it must find its bytes in the bytes bucket and the items bucket
//! not in debt; otherwise it is refused whole with [`Error::RateLimited`] (HTTP 429 with
//! `Retry-After`, gRPC RESOURCE_EXHAUSTED with `RetryInfo`) carrying how long until it would
//! fit, so SDKs back off instead of the server buffering. Once decoded, its items are charged
//! to the items bucket, which may go into debt (down to minus its size): the tenant's next
//! exports then wait until it is paid off. An export costing more than a whole bucket pays the
//! whole bucket, so it is admitted when the bucket is full rather than never.
//!
//! Counted in `sightline_ingest_rate_limited_total{signal,limit}` (`limit` is `bytes` or
//! `items`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sightline_model::TenantId;

use crate::config::{CollectorConfig, TenantIngestLimits};
use crate::error::Error;

/// Tenants' buckets; one per collector.
#[derive(Debug)]
pub(crate) struct TenantRateLimits {
    defaults: TenantIngestLimits,
    overrides: HashMap<String, TenantIngestLimits>,
    burst: Duration,
    buckets: Mutex<HashMap<TenantId, TenantBuckets>>,
}

#[derive(Debug)]
struct TenantBuckets {
    bytes: Option<Bucket>,
    items: Option<Bucket>,
}

/// A token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    per_second: f64,
    capacity: f64,
    available: f64,
    updated: Instant,
}

impl Bucket {
    fn new(per_second: u64, burst: Duration, now: Instant) -> Option<Self> {
        (per_second > 0).then(|| {
            let per_second = per_second as f64;
            let capacity = (per_second * burst.as_secs_f64()).max(1.0);
            Self {
                per_second,
                capacity,
                available: capacity,
                updated: now,
            }
        })
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.available = (self.available + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
    }

    /// What `cost` takes from this bucket (never more than it can hold).
    fn price(&self, cost: u64) -> f64 {
        (cost as f64).min(self.capacity)
    }

    /// How long until the bucket holds `price`; zero when it does now.
    fn wait_for(&self, price: f64) -> Duration {
        if self.available >= price {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((price - self.available) / self.per_second)
        }
    }
}

impl TenantRateLimits {
    /// Builds the limits the config sets; `None` when no tenant is limited at all.
    pub(crate) fn from_config(config: &CollectorConfig) -> Option<Self> {
        let defaults = TenantIngestLimits {
            bytes_per_second: Some(config.tenant_ingest_bytes_per_second),
            items_per_second: Some(config.tenant_ingest_items_per_second),
        };
        let limited = |limits: &TenantIngestLimits| {
            limits.bytes_per_second.unwrap_or(0) > 0 || limits.items_per_second.unwrap_or(0) > 0
        };
        if !limited(&defaults) && !config.tenant_limits.values().any(limited) {
            return None;
        }
        Some(Self {
            defaults,
            overrides: config.tenant_limits.clone().into_iter().collect(),
            burst: Duration::from_secs(config.tenant_ingest_burst_seconds.max(1)),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Admits an export of `bytes` for `tenant` and takes them from its bytes bucket, or
    /// refuses it.
    ///
    /// # Errors
    /// [`Error::RateLimited`] naming the limit and how long to wait.
    pub(crate) fn admit(
        &self,
        tenant: &TenantId,
        signal: &'static str,
        bytes: u64,
    ) -> Result<(), Error> {
        self.admit_at(tenant, signal, bytes, Instant::now())
    }

    /// Charges `items` decoded from an admitted export to `tenant`'s items bucket.
    pub(crate) fn charge_items(&self, tenant: &TenantId, items: u64) {
        self.charge_items_at(tenant, items, Instant::now());
    }

    fn admit_at(
        &self,
        tenant: &TenantId,
        signal: &'static str,
        bytes: u64,
        now: Instant,
    ) -> Result<(), Error> {
        self.with_buckets(tenant, now, |buckets| {
            let bytes_wait = buckets.bytes.as_ref().map_or(Duration::ZERO, |bucket| {
                bucket.wait_for(bucket.price(bytes))
            });
            // Not in debt: at least one item's worth.
            let items_wait = buckets
                .items
                .as_ref()
                .map_or(Duration::ZERO, |bucket| bucket.wait_for(1.0_f64.min(bucket.capacity)));
            let (wait, limit) = if items_wait > bytes_wait {
                (items_wait, "items")
            } else {
                (bytes_wait, "bytes")
            };
            if wait > Duration::ZERO {
                metrics::counter!("sightline_ingest_rate_limited_total", "signal" => signal, "limit" => limit)
                    .increment(1);
                return Err(Error::RateLimited {
                    tenant: tenant.to_string(),
                    limit,
                    retry_after: wait,
                });
            }
            if let Some(bucket) = &mut buckets.bytes {
                bucket.available -= bucket.price(bytes);
            }
            Ok(())
        })
    }

    fn charge_items_at(&self, tenant: &TenantId, items: u64, now: Instant) {
        self.with_buckets(tenant, now, |buckets| {
            if let Some(bucket) = &mut buckets.items {
                bucket.available = (bucket.available - items as f64).max(-bucket.capacity);
            }
        });
    }

    /// Runs `f` on the tenant's buckets, refilled to `now`.
    fn with_buckets<T>(
        &self,
        tenant: &TenantId,
        now: Instant,
        f: impl FnOnce(&mut TenantBuckets) -> T,
    ) -> T {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tenant_buckets = buckets
            .entry(tenant.clone())
            .or_insert_with(|| self.new_buckets(tenant, now));
        for bucket in [&mut tenant_buckets.bytes, &mut tenant_buckets.items]
            .into_iter()
            .flatten()
        {
            bucket.refill(now);
        }
        f(tenant_buckets)
    }

    fn new_buckets(&self, tenant: &TenantId, now: Instant) -> TenantBuckets {
        let own = self.overrides.get(tenant.as_str());
        let pick = |own: Option<u64>, default: Option<u64>| own.or(default).unwrap_or(0);
        TenantBuckets {
            bytes: Bucket::new(
                pick(
                    own.and_then(|limits| limits.bytes_per_second),
                    self.defaults.bytes_per_second,
                ),
                self.burst,
                now,
            ),
            items: Bucket::new(
                pick(
                    own.and_then(|limits| limits.items_per_second),
                    self.defaults.items_per_second,
                ),
                self.burst,
                now,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn limits(bytes: u64, items: u64) -> TenantRateLimits {
        TenantRateLimits::from_config(&CollectorConfig {
            tenant_ingest_bytes_per_second: bytes,
            tenant_ingest_items_per_second: items,
            tenant_ingest_burst_seconds: 2,
            tenant_limits: BTreeMap::from([(
                "big".to_string(),
                TenantIngestLimits {
                    bytes_per_second: Some(0),
                    items_per_second: Some(1000),
                },
            )]),
            ..CollectorConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn buckets_refill_and_refuse_with_the_wait() {
        let limits = limits(1000, 10);
        let tenant = TenantId::new("team-a").unwrap();
        let start = Instant::now();
        // Items: a burst of two seconds' worth (20) is admitted; charged 25, the bucket is 5
        // in debt and the next export waits until it holds one item again.
        limits.admit_at(&tenant, "traces", 100, start).unwrap();
        limits.charge_items_at(&tenant, 25, start);
        let Err(Error::RateLimited {
            limit, retry_after, ..
        }) = limits.admit_at(&tenant, "traces", 100, start)
        else {
            panic!("refused")
        };
        assert_eq!(limit, "items");
        assert_eq!(retry_after, Duration::from_millis(600));
        // The refusal took nothing: 0.6 s later it is admitted.
        limits
            .admit_at(&tenant, "traces", 100, start + Duration::from_millis(600))
            .unwrap();
        // Bytes: a request above the bucket's size pays the whole bucket when it is full.
        let later = start + Duration::from_secs(10);
        limits.admit_at(&tenant, "traces", 50_000, later).unwrap();
        let Err(Error::RateLimited {
            limit, retry_after, ..
        }) = limits.admit_at(&tenant, "traces", 10, later)
        else {
            panic!("refused")
        };
        assert_eq!(limit, "bytes");
        assert_eq!(retry_after, Duration::from_millis(10));
    }

    #[test]
    fn tenants_have_their_own_buckets_and_overrides() {
        let limits = limits(1000, 10);
        let now = Instant::now();
        let (a, b, big) = (
            TenantId::new("a").unwrap(),
            TenantId::new("b").unwrap(),
            TenantId::new("big").unwrap(),
        );
        limits.charge_items_at(&a, 40, now);
        assert!(limits.admit_at(&a, "logs", 0, now).is_err());
        limits.admit_at(&b, "logs", 0, now).unwrap();
        limits.charge_items_at(&big, 1500, now);
        limits.admit_at(&big, "logs", 1_000_000, now).unwrap();
        assert!(TenantRateLimits::from_config(&CollectorConfig::default()).is_none());
    }
}
