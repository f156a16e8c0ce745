//! Counting what a counter counted in a window, without `increase`'s extrapolation: the sum
//! of its rises from a baseline (its last sample at or before the window's start), a fall
//! counting as a reset to zero, staleness markers (and any NaN) skipped. The same fold runs
//! over raw samples and over [`CounterRollup`]s, the per-part summaries the metric store keeps
//! so that a long window does not read every sample.

/// What a run of one counter's samples counted within itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CounterRollup {
    /// The first (non-NaN) value.
    pub first: f64,
    /// The last (non-NaN) value.
    pub last: f64,
    /// The sum of rises from `first` to `last`, resets counted as rises from zero.
    pub increase: f64,
}

impl CounterRollup {
    /// Summarises `values` in time order; `None` when none is a number.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let mut rollup: Option<Self> = None;
        for value in values.into_iter().filter(|value| !value.is_nan()) {
            match &mut rollup {
                None => {
                    rollup = Some(Self {
                        first: value,
                        last: value,
                        increase: 0.0,
                    })
                }
                Some(rollup) => {
                    rollup.increase += rise(rollup.last, value);
                    rollup.last = value;
                }
            }
        }
        rollup
    }
}

/// What a counter counted going from `previous` to `value`: the difference, or the whole
/// value after a reset.
fn rise(previous: f64, value: f64) -> f64 {
    if value >= previous {
        value - previous
    } else {
        value
    }
}

/// Folds one counter's samples and rollups, in time order, into what it counted after
/// `start_exclusive_ms`.
#[derive(Debug, Clone)]
pub struct CounterFold {
    start_exclusive_ms: i64,
    previous: Option<f64>,
    counted: f64,
    in_window: bool,
}

impl CounterFold {
    /// Counts what is counted after `start_exclusive_ms`; samples at or before it only set
    /// the baseline.
    pub fn new(start_exclusive_ms: i64) -> Self {
        Self {
            start_exclusive_ms,
            previous: None,
            counted: 0.0,
            in_window: false,
        }
    }

    /// Adds a sample (the next in time).
    pub fn sample(&mut self, timestamp_ms: i64, value: f64) {
        if value.is_nan() {
            return;
        }
        if timestamp_ms > self.start_exclusive_ms {
            self.in_window = true;
            if let Some(previous) = self.previous {
                self.counted += rise(previous, value);
            }
        }
        self.previous = Some(value);
    }

    /// Adds a rollup of samples that all lie after the window's start (the next in time).
    pub fn rollup(&mut self, rollup: &CounterRollup) {
        self.in_window = true;
        if let Some(previous) = self.previous {
            self.counted += rise(previous, rollup.first);
        }
        self.counted += rollup.increase;
        self.previous = Some(rollup.last);
    }

    /// What was counted; `None` when no sample fell after the window's start.
    pub fn finish(&self) -> Option<f64> {
        self.in_window.then_some(self.counted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE: f64 = f64::NAN;

    #[test]
    fn rises_count_from_the_baseline_and_resets_from_zero() {
        let mut fold = CounterFold::new(100);
        for (t, v) in [
            (50, 7.0),
            (100, 10.0),
            (110, 15.0),
            (120, 2.0),
            (130, STALE),
            (140, 5.0),
        ] {
            fold.sample(t, v);
        }
        assert_eq!(fold.finish(), Some(5.0 + 2.0 + 3.0));
        let mut before_only = CounterFold::new(100);
        before_only.sample(90, 1.0);
        assert_eq!(before_only.finish(), None);
    }

    #[test]
    fn rollups_count_as_their_samples_would() {
        let samples = [
            (110, 15.0),
            (120, 2.0),
            (130, STALE),
            (140, 5.0),
            (150, 9.0),
        ];
        let mut by_samples = CounterFold::new(100);
        by_samples.sample(100, 10.0);
        let mut by_rollups = by_samples.clone();
        for (t, v) in samples {
            by_samples.sample(t, v);
        }
        let rollup = CounterRollup::of(samples.iter().map(|(_, v)| *v)).unwrap();
        assert_eq!(
            rollup,
            CounterRollup {
                first: 15.0,
                last: 9.0,
                increase: 2.0 + 3.0 + 4.0
            }
        );
        by_rollups.rollup(&rollup);
        by_rollups.sample(160, 1.0);
        by_samples.sample(160, 1.0);
        assert_eq!(by_rollups.finish(), by_samples.finish());
        assert_eq!(by_samples.finish(), Some(5.0 + 9.0 + 1.0));
        assert_eq!(CounterRollup::of([STALE]), None);
    }
}
