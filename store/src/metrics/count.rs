//! Counting counters over a window ([`MetricStore::counted_in_window`]) without reading every
//! sample: a part whose samples of a series all lie inside the window contributes that
//! series' [`CounterRollup`] from its series table; only the parts that straddle the window's
//! edges (the start's holds the baseline) and the head are read sample by sample, and of a
//! straddling part only the rows near the edges, found by interpolating the series' sample
//! times (a guess that turns out not to reach past an edge is read again whole). A day's
//! window over a day of parts thus reads a few series tables and a few rows per series
//! instead of millions of samples.
//!
//! The answer is exactly what folding every sample would give ([`CounterFold`]). When a
//! series' pieces overlap in time (a part and the head both holding a just-flushed block, or
//! parts not yet compacted after out-of-order writes), rollups cannot be ordered against
//! samples, and that call falls back to reading every sample.

use std::collections::BTreeMap;

use hashbrown::HashMap;

use promql_parser::label::Matcher;
use sightline_model::{CounterFold, CounterRollup, Labels, MetricSample, TenantId};

use super::part::SeriesTable;
use super::read::{self, SeriesRows};
use super::MetricStore;
use crate::error::Error;

/// A time-ordered piece of one series.
enum Piece {
    /// Samples read from the head or a part, sorted by time.
    Samples(Vec<MetricSample>),
    /// A part's rollup of samples between two times, all inside the window.
    Rollup {
        min_time_ms: i64,
        max_time_ms: i64,
        rollup: CounterRollup,
    },
}

impl Piece {
    /// The piece's time span; `None` for an empty sample list.
    fn span(&self) -> Option<(i64, i64)> {
        match self {
            Piece::Samples(samples) => {
                Some((samples.first()?.timestamp_ms, samples.last()?.timestamp_ms))
            }
            Piece::Rollup {
                min_time_ms,
                max_time_ms,
                ..
            } => Some((*min_time_ms, *max_time_ms)),
        }
    }
}

impl MetricStore {
    /// Every series matching `matchers` with what it counted, as a counter, after
    /// `start_exclusive_ms` up to `end_ms`: its rises from its last sample at or before the
    /// start (looked for up to `lookback_ms` before it), a fall counting as a reset, NaNs
    /// skipped (see [`CounterFold`]). Series without a sample in the window are left out;
    /// the rest come in no particular order.
    ///
    /// # Errors
    /// Object store or Parquet failures while reading parts.
    pub async fn counted_in_window(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start_exclusive_ms: i64,
        end_ms: i64,
        lookback_ms: i64,
    ) -> Result<Vec<(Labels, f64)>, Error> {
        let from_ms = start_exclusive_ms.saturating_sub(lookback_ms);
        // hashbrown's default hasher: the label sets are hashed once per series and part, and
        // SipHash was a tenth of a day's health query.
        let mut pieces: HashMap<Labels, Vec<Piece>> = HashMap::new();
        let head = self.inner.heads.select(tenant, matchers, from_ms, end_ms);
        for (labels, samples) in head {
            pieces
                .entry(labels)
                .or_default()
                .push(Piece::Samples(samples));
        }
        for part in self.parts_in(tenant, from_ms, end_ms) {
            let table = part.series_table().await?;
            let mut to_read = Vec::new();
            for series_ref in read::matching_series(&table, matchers, from_ms, end_ms) {
                let i = series_ref as usize;
                let inside =
                    table.min_time_ms[i] > start_exclusive_ms && table.max_time_ms[i] <= end_ms;
                match table.rollups.get(i) {
                    Some(Some(rollup)) if inside => {
                        pieces
                            .entry(table.labels[i].clone())
                            .or_default()
                            .push(Piece::Rollup {
                                min_time_ms: table.min_time_ms[i],
                                max_time_ms: table.max_time_ms[i],
                                rollup: *rollup,
                            });
                    }
                    // Nothing but NaNs inside the window: nothing to count.
                    Some(None) if inside => {}
                    _ => to_read.push(series_ref),
                }
            }
            // Read only the rows around the window's edges, found by interpolating the
            // series' times (exact for regular samples); a guess that missed is read again
            // whole.
            let guesses: Vec<SeriesRows> = to_read
                .iter()
                .map(|&series_ref| guess_rows(&table, series_ref, start_exclusive_ms, end_ms))
                .collect();
            let mut guessed: Vec<Vec<MetricSample>> = vec![Vec::new(); guesses.len()];
            read::read_rows(
                &self.inner.objects,
                &part,
                &table,
                &guesses,
                |position, timestamps, run| {
                    let every_row = (i64::MIN, i64::MAX);
                    read::append_in_time(&mut guessed[position], timestamps, run, every_row);
                },
            )
            .await?;
            let mut missed = Vec::new();
            for (guess, samples) in guesses.iter().zip(guessed) {
                let i = guess.series_ref as usize;
                let labels = &table.labels[i];
                let count = table.row_count[i] as usize;
                let covers_start = guess.skip == 0
                    || samples
                        .first()
                        .is_some_and(|s| s.timestamp_ms <= start_exclusive_ms);
                let covers_end = guess.skip + guess.rows == count
                    || samples.last().is_some_and(|s| s.timestamp_ms > end_ms);
                if covers_start && covers_end {
                    let kept: Vec<MetricSample> = samples
                        .into_iter()
                        .filter(|s| s.timestamp_ms >= from_ms && s.timestamp_ms <= end_ms)
                        .collect();
                    pieces
                        .entry(labels.clone())
                        .or_default()
                        .push(Piece::Samples(kept));
                } else {
                    missed.push(guess.series_ref);
                }
            }
            let mut read = BTreeMap::new();
            read::read_series(
                &self.inner.objects,
                &part,
                &table,
                &missed,
                from_ms..=end_ms,
                &mut read,
            )
            .await?;
            for (labels, samples) in read {
                pieces
                    .entry(labels)
                    .or_default()
                    .push(Piece::Samples(samples));
            }
        }
        let mut counted = Vec::with_capacity(pieces.len());
        for (labels, pieces) in pieces {
            match fold(pieces, start_exclusive_ms) {
                Some(Some(value)) => counted.push((labels, value)),
                Some(None) => {}
                None => {
                    return self
                        .counted_by_samples(tenant, matchers, start_exclusive_ms, end_ms, from_ms)
                        .await
                }
            }
        }
        Ok(counted)
    }

    /// [`MetricStore::counted_in_window`] by reading every sample.
    pub(crate) async fn counted_by_samples(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start_exclusive_ms: i64,
        end_ms: i64,
        from_ms: i64,
    ) -> Result<Vec<(Labels, f64)>, Error> {
        Ok(self
            .select(tenant, matchers, from_ms, end_ms)
            .await?
            .into_iter()
            .filter_map(|(labels, samples)| {
                let mut fold = CounterFold::new(start_exclusive_ms);
                for sample in &samples {
                    fold.sample(sample.timestamp_ms, sample.value);
                }
                fold.finish().map(|value| (labels, value))
            })
            .collect())
    }
}

/// Rows a guess adds on each side of the interpolated edges.
const GUESS_MARGIN_ROWS: usize = 4;

/// The rows of a series a window `(start_exclusive_ms, end_ms]` needs, guessed by
/// interpolating its sample times between its first and last: from a few rows before the
/// start (for the baseline) to a few after the end.
fn guess_rows(
    table: &SeriesTable,
    series_ref: u32,
    start_exclusive_ms: i64,
    end_ms: i64,
) -> SeriesRows {
    let i = series_ref as usize;
    let count = table.row_count[i] as usize;
    let (min, max) = (table.min_time_ms[i], table.max_time_ms[i]);
    let whole = SeriesRows {
        series_ref,
        skip: 0,
        rows: count,
    };
    if count <= 4 * GUESS_MARGIN_ROWS || max <= min {
        return whole;
    }
    let last_row = count - 1;
    let row_at = |t: i64| (t - min) as f64 / (max - min) as f64 * last_row as f64;
    let first = if start_exclusive_ms <= min {
        0
    } else {
        (row_at(start_exclusive_ms).floor().max(0.0) as usize).saturating_sub(GUESS_MARGIN_ROWS)
    };
    let last = if end_ms >= max {
        last_row
    } else {
        ((row_at(end_ms).ceil().max(0.0) as usize) + GUESS_MARGIN_ROWS).min(last_row)
    };
    if first > last {
        return whole;
    }
    SeriesRows {
        series_ref,
        skip: first,
        rows: last + 1 - first,
    }
}

/// Folds one series' pieces: `Some(count)` (`Some(None)` when nothing lies in the window), or
/// `None` when a rollup overlaps another piece in time and cannot be ordered.
fn fold(mut pieces: Vec<Piece>, start_exclusive_ms: i64) -> Option<Option<f64>> {
    pieces.retain(|piece| piece.span().is_some());
    pieces.sort_by_key(|piece| piece.span().map(|(from, _)| from));
    // Overlapping sample lists (the head and a part holding the same block) merge; a rollup
    // overlapping anything cannot.
    let mut ordered: Vec<Piece> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let (from, _) = piece.span()?;
        let overlaps = ordered
            .last()
            .and_then(Piece::span)
            .is_some_and(|(_, previous_to)| from <= previous_to);
        match (ordered.last_mut(), piece, overlaps) {
            (Some(Piece::Samples(previous)), Piece::Samples(samples), true) => {
                previous.extend(samples);
                previous.sort_by_key(|sample| sample.timestamp_ms);
                previous.dedup_by_key(|sample| sample.timestamp_ms);
            }
            (_, _, true) => return None,
            (_, piece, false) => ordered.push(piece),
        }
    }
    let mut fold = CounterFold::new(start_exclusive_ms);
    for piece in &ordered {
        match piece {
            Piece::Samples(samples) => {
                for sample in samples {
                    fold.sample(sample.timestamp_ms, sample.value);
                }
            }
            Piece::Rollup { rollup, .. } => fold.rollup(rollup),
        }
    }
    Some(fold.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(points: &[(i64, f64)]) -> Piece {
        Piece::Samples(
            points
                .iter()
                .map(|&(timestamp_ms, value)| MetricSample {
                    timestamp_ms,
                    value,
                })
                .collect(),
        )
    }

    fn rollup(min_time_ms: i64, max_time_ms: i64, first: f64, last: f64, increase: f64) -> Piece {
        Piece::Rollup {
            min_time_ms,
            max_time_ms,
            rollup: CounterRollup {
                first,
                last,
                increase,
            },
        }
    }

    #[test]
    fn pieces_fold_in_time_order_whatever_order_they_come_in() {
        // Baseline 10 before the window; a part rolled up (20 → 50, a reset inside: +45);
        // then the head from 52.
        let pieces = vec![
            samples(&[(400, 52.0), (500, 60.0)]),
            rollup(200, 300, 20.0, 50.0, 45.0),
            samples(&[(50, 5.0), (100, 10.0)]),
        ];
        assert_eq!(fold(pieces, 100), Some(Some(10.0 + 45.0 + 2.0 + 8.0)));
    }

    #[test]
    fn overlapping_samples_merge_and_overlapping_rollups_give_up() {
        let merged = vec![
            samples(&[(200, 20.0), (300, 30.0)]),
            samples(&[(300, 30.0), (400, 45.0)]),
        ];
        assert_eq!(fold(merged, 100), Some(Some(25.0)));
        let tangled = vec![rollup(200, 300, 20.0, 30.0, 10.0), samples(&[(250, 25.0)])];
        assert_eq!(fold(tangled, 100), None);
        assert_eq!(fold(vec![samples(&[(50, 1.0)])], 100), Some(None));
    }
}
