//! What the evaluator reads: [`SeriesSource`], and [`InMemorySeries`], the simple
//! implementation the unit tests and the engine-only conformance run use. The metric store's
//! implementation is [`super::MetricStoreSource`].

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use promql_parser::label::Matcher;
use sightline_model::CounterFold;

use super::value::Labels;
use super::Error;

/// One selected series: its labels and its `(timestamp in ms, value)` samples sorted by time.
pub type SelectedSeries = (Labels, Vec<(i64, f64)>);

/// What [`SeriesSource::visit_series`] hands each batch of series to: it breaks to stop the
/// selection early.
pub type VisitBatch<'v> = dyn FnMut(Vec<SelectedSeries>) -> Result<ControlFlow<()>, Error> + 'v;

/// One step of a series as a sweep computes it where the series is read: the step's index,
/// the samples in its window, and the window function's value (`None` leaves the series out
/// of the step). Steps whose window holds no sample are left out. Sixteen bytes: a sweep
/// hands over one per series and step, and folds them on another core.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepValue {
    step: u32,
    /// The samples, with [`StepValue::NO_VALUE`] set when the function gave no value.
    samples: u32,
    value: f64,
}

impl StepValue {
    /// Marks a step without a value in `samples` (windows hold fewer samples than this).
    const NO_VALUE: u32 = 1 << 31;

    /// Step `step`, whose window held `samples` samples (saturating below 2^31), and the
    /// window function's value there.
    pub fn new(step: u32, samples: usize, value: Option<f64>) -> Self {
        let samples = u32::try_from(samples).map_or(Self::NO_VALUE - 1, |samples| {
            samples.min(Self::NO_VALUE - 1)
        });
        match value {
            Some(value) => StepValue {
                step,
                samples,
                value,
            },
            None => StepValue {
                step,
                samples: samples | Self::NO_VALUE,
                value: f64::NAN,
            },
        }
    }

    /// The step's index among the query's steps.
    pub fn step(&self) -> u32 {
        self.step
    }

    /// The samples in the step's window (what the query's sample limit counts).
    pub fn samples(&self) -> u32 {
        self.samples & !Self::NO_VALUE
    }

    /// The window function's value.
    pub fn value(&self) -> Option<f64> {
        (self.samples & Self::NO_VALUE == 0).then_some(self.value)
    }
}

/// What [`SeriesSource::visit_mapped`] makes of each series' samples (sorted by time).
pub type SeriesMap = Arc<dyn Fn(&[(i64, f64)]) -> Vec<StepValue> + Send + Sync>;

/// What [`SeriesSource::visit_mapped`] hands each batch of mapped series to: it breaks to stop
/// the selection early.
pub type VisitMapped<'v> =
    dyn FnMut(Vec<(Labels, Vec<StepValue>)>) -> Result<ControlFlow<()>, Error> + 'v;

/// Each series of `batch` with what `map` makes of its samples.
pub(crate) fn map_each(
    batch: Vec<SelectedSeries>,
    map: &SeriesMap,
) -> Vec<(Labels, Vec<StepValue>)> {
    batch
        .into_iter()
        .map(|(labels, points)| {
            let mapped = map(&points);
            (labels, mapped)
        })
        .collect()
}

/// A store of float series the evaluator can select from.
pub trait SeriesSource: Send + Sync {
    /// Returns every series whose labels satisfy all `matchers` (a missing label matches as
    /// the empty string), with its samples in `start_ms..=end_ms` sorted by time. Staleness
    /// markers are returned like any other sample. Series without samples in the range may be
    /// left out.
    ///
    /// # Errors
    /// Whatever the store fails with, as [`Error::Source`].
    fn select_series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SelectedSeries>, Error>;

    /// Hands what [`SeriesSource::select_series`] returns to `visit`, in the same order, a
    /// batch of series at a time, until `visit` breaks; a caller that folds series one by one
    /// then holds a batch of samples instead of all of them. The default hands everything
    /// over as one batch.
    ///
    /// # Errors
    /// Whatever selecting or `visit` fails with.
    fn visit_series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        visit: &mut VisitBatch<'_>,
    ) -> Result<(), Error> {
        visit(self.select_series(matchers, start_ms, end_ms)?).map(|_| ())
    }

    /// [`SeriesSource::visit_series`], handing over what `map` makes of each series instead
    /// of its samples. A store may run `map` where it reads, on every core, while each
    /// series' samples are still in that core's caches; the default maps each batch as it
    /// comes.
    ///
    /// # Errors
    /// Whatever selecting or `visit` fails with.
    fn visit_mapped(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        map: &SeriesMap,
        visit: &mut VisitMapped<'_>,
    ) -> Result<(), Error> {
        self.visit_series(matchers, start_ms, end_ms, &mut |batch| {
            visit(map_each(batch, map))
        })
    }

    /// Says whether evaluation may go on. The evaluator asks between steps and before each
    /// selection, so a source that knows the query's deadline or its client's fate can stop
    /// a long evaluation; the default never interrupts.
    ///
    /// # Errors
    /// [`Error::Timeout`] or [`Error::Canceled`] to stop the query.
    fn check_interrupted(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Every series matching `matchers` with what it counted as a counter after
    /// `start_exclusive_ms` up to `end_ms`, from its last sample at or before the start
    /// (looked for up to `lookback_ms` earlier), as [`CounterFold`] counts; series without a
    /// sample in the window are left out. The default folds [`SeriesSource::select_series`];
    /// a store may answer from summaries instead, with the same result.
    ///
    /// # Errors
    /// Whatever selecting fails with.
    fn counted_in_window(
        &self,
        matchers: &[Matcher],
        start_exclusive_ms: i64,
        end_ms: i64,
        lookback_ms: i64,
    ) -> Result<Vec<(Labels, f64)>, Error> {
        let series = self.select_series(
            matchers,
            start_exclusive_ms.saturating_sub(lookback_ms),
            end_ms,
        )?;
        Ok(series
            .into_iter()
            .filter_map(|(labels, points)| {
                let mut fold = CounterFold::new(start_exclusive_ms);
                for (timestamp_ms, value) in points {
                    fold.sample(timestamp_ms, value);
                }
                fold.finish().map(|counted| (labels, counted))
            })
            .collect())
    }
}

/// Says whether a label set satisfies every matcher; absent labels match as `""`.
pub fn labels_match(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|matcher| matcher.is_match(labels.get(&matcher.name).unwrap_or("")))
}

/// Series held in memory, keyed by label set.
#[derive(Debug, Default, Clone)]
pub struct InMemorySeries {
    series: BTreeMap<Labels, Vec<(i64, f64)>>,
}

impl InMemorySeries {
    /// Creates an empty source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends samples to the series with `labels`, keeping the samples sorted by time; a
    /// sample at an existing timestamp replaces the old one.
    pub fn append(&mut self, labels: Labels, samples: impl IntoIterator<Item = (i64, f64)>) {
        let points = self.series.entry(labels).or_default();
        for (timestamp_ms, value) in samples {
            match points.binary_search_by_key(&timestamp_ms, |(t, _)| *t) {
                Ok(i) => points[i].1 = value,
                Err(i) => points.insert(i, (timestamp_ms, value)),
            }
        }
    }

    /// Removes every series.
    pub fn clear(&mut self) {
        self.series.clear();
    }

    /// Returns the number of series held.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Says whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

impl SeriesSource for InMemorySeries {
    fn select_series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SelectedSeries>, Error> {
        let mut selected = Vec::new();
        for (labels, points) in &self.series {
            if !labels_match(labels, matchers) {
                continue;
            }
            let from = points.partition_point(|(t, _)| *t < start_ms);
            let to = points.partition_point(|(t, _)| *t <= end_ms);
            if from < to {
                selected.push((labels.clone(), points[from..to].to_vec()));
            }
        }
        Ok(selected)
    }
}

#[cfg(test)]
mod tests {
    use promql_parser::label::MatchOp;

    use super::*;

    #[test]
    fn selects_by_matchers_and_time_range() {
        let mut source = InMemorySeries::new();
        source.append(
            Labels::new([("__name__", "m"), ("a", "1")]),
            [(0, 1.0), (10, 2.0)],
        );
        source.append(Labels::new([("__name__", "m")]), [(5, 3.0)]);
        let matchers = [
            Matcher::new(MatchOp::Equal, "__name__", "m"),
            Matcher::new(MatchOp::NotEqual, "a", "1"),
        ];
        let selected = source.select_series(&matchers, 0, 10).unwrap();
        assert_eq!(
            selected,
            vec![(Labels::new([("__name__", "m")]), vec![(5, 3.0)])]
        );
        let all = source.select_series(&matchers[..1], 1, 10).unwrap();
        assert_eq!(all.len(), 2);
        let labelled = all.iter().find(|(labels, _)| labels.get("a") == Some("1"));
        assert_eq!(labelled.unwrap().1, vec![(10, 2.0)]);
    }
}
