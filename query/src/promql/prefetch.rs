//! Selects each selector's series once per query instead of once per evaluation step.
//!
//! Before evaluating, [`SelectionPlan::new`] walks the expression and works out, for every
//! selector, the widest time window any step can read (query range, shifted by offsets,
//! widened by ranges, lookback and enclosing subqueries), as Prometheus' `FindMinMaxTime`
//! does. The first read of a selector fetches that window from the source; later steps
//! slice it in memory. Selectors under an `@` modifier are read directly.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use promql_parser::parser::{Expr, Offset, VectorSelector};

use super::engine::duration_ms;
use super::source::SelectedSeries;
use super::value::Labels;
use super::Error;

/// The windows to prefetch, keyed by the selector's address in the parsed expression (stable
/// while the query runs), and what has been fetched so far.
#[derive(Default)]
pub(crate) struct SelectionPlan {
    windows: HashMap<usize, (i64, i64)>,
    fetched: RefCell<HashMap<usize, Rc<Vec<SelectedSeries>>>>,
    /// Per selector and series, the last window start asked for and the index of its first
    /// sample: a range query's steps move forward, so the next window starts a few samples
    /// further on, and walking there beats a binary search that misses the cache at every
    /// probe.
    cursors: RefCell<HashMap<usize, Vec<(i64, usize)>>>,
}

/// Samples a cursor walks forward before it falls back to a binary search.
const CURSOR_WALK: usize = 32;

/// Returns the index of the first sample at or after `start_ms`, from the series' cursor
/// when the window moved forward, and moves the cursor there.
fn advance(points: &[(i64, f64)], cursor: &mut (i64, usize), start_ms: i64) -> usize {
    let (last_start_ms, last_from) = *cursor;
    let from = if start_ms >= last_start_ms && last_from <= points.len() {
        let rest = &points[last_from..];
        let walked = rest
            .iter()
            .take(CURSOR_WALK)
            .take_while(|(t, _)| *t < start_ms)
            .count();
        if walked < CURSOR_WALK {
            last_from + walked
        } else {
            last_from + rest.partition_point(|(t, _)| *t < start_ms)
        }
    } else {
        points.partition_point(|(t, _)| *t < start_ms)
    };
    *cursor = (start_ms, from);
    from
}

fn selector_key(selector: &VectorSelector) -> usize {
    selector as *const VectorSelector as usize
}

fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(duration)) => duration_ms(*duration),
        Some(Offset::Neg(duration)) => duration_ms(*duration).saturating_neg(),
    }
}

impl SelectionPlan {
    /// Plans the windows of every selector in `expr` for evaluation times in
    /// `start_ms..=end_ms`.
    pub(crate) fn new(expr: &Expr, start_ms: i64, end_ms: i64, lookback_ms: i64) -> Self {
        let mut plan = SelectionPlan::default();
        plan.walk(expr, start_ms, end_ms, lookback_ms);
        plan
    }

    /// Records windows for `expr` evaluated at times in `low_ms..=high_ms`.
    fn walk(&mut self, expr: &Expr, low_ms: i64, high_ms: i64, lookback_ms: i64) {
        match expr {
            Expr::VectorSelector(selector) => {
                self.record(selector, low_ms, high_ms, lookback_ms);
            }
            Expr::MatrixSelector(selector) => {
                let range_ms = duration_ms(selector.range);
                self.record(&selector.vs, low_ms, high_ms, range_ms);
            }
            Expr::Subquery(subquery) if subquery.at.is_none() => {
                let offset = offset_ms(&subquery.offset);
                let range_ms = duration_ms(subquery.range);
                let low_ms = low_ms.saturating_sub(offset).saturating_sub(range_ms);
                self.walk(
                    &subquery.expr,
                    low_ms,
                    high_ms.saturating_sub(offset),
                    lookback_ms,
                );
            }
            // Under `@` the inner times are fixed elsewhere: read those selectors directly.
            Expr::Subquery(_) | Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
            Expr::Extension(_) => {}
            Expr::Paren(paren) => self.walk(&paren.expr, low_ms, high_ms, lookback_ms),
            Expr::Unary(unary) => self.walk(&unary.expr, low_ms, high_ms, lookback_ms),
            Expr::Binary(binary) => {
                self.walk(&binary.lhs, low_ms, high_ms, lookback_ms);
                self.walk(&binary.rhs, low_ms, high_ms, lookback_ms);
            }
            Expr::Aggregate(aggregate) => {
                self.walk(&aggregate.expr, low_ms, high_ms, lookback_ms);
                if let Some(param) = &aggregate.param {
                    self.walk(param, low_ms, high_ms, lookback_ms);
                }
            }
            Expr::Call(call) => {
                for arg in &call.args.args {
                    self.walk(arg, low_ms, high_ms, lookback_ms);
                }
            }
        }
    }

    /// Records that `selector` reads `(t - offset - width, t - offset]` for `t` in
    /// `low_ms..=high_ms`.
    fn record(&mut self, selector: &VectorSelector, low_ms: i64, high_ms: i64, width_ms: i64) {
        if selector.at.is_some() {
            return;
        }
        let offset = offset_ms(&selector.offset);
        let window = (
            low_ms.saturating_sub(offset).saturating_sub(width_ms),
            high_ms.saturating_sub(offset),
        );
        // A selector reached twice (it cannot be, but be safe) gets the union.
        let entry = self.windows.entry(selector_key(selector)).or_insert(window);
        *entry = (entry.0.min(window.0), entry.1.max(window.1));
    }

    /// Calls `visit` with each of the selector's series that has samples in `start_ms..=end_ms`
    /// (a slice of the prefetched window, not a copy), fetching the window with `fetch` on
    /// first use; `None` when the selector has no planned window covering the request.
    pub(crate) fn visit(
        &self,
        selector: &VectorSelector,
        start_ms: i64,
        end_ms: i64,
        fetch: impl FnOnce(i64, i64) -> Result<Vec<SelectedSeries>, Error>,
        mut visit: impl FnMut(&Labels, &[(i64, f64)]) -> Result<(), Error>,
    ) -> Option<Result<(), Error>> {
        let all = match self.window(selector, start_ms, end_ms, fetch)? {
            Ok(all) => all,
            Err(error) => return Some(Err(error)),
        };
        let mut cursors = self.cursors.borrow_mut();
        let cursors = cursors
            .entry(selector_key(selector))
            .or_insert_with(|| vec![(i64::MIN, 0); all.len()]);
        for ((labels, points), cursor) in all.iter().zip(cursors.iter_mut()) {
            let from = advance(points, cursor, start_ms);
            let to = from
                + points[from..]
                    .iter()
                    .take_while(|(t, _)| *t <= end_ms)
                    .count();
            if from < to {
                if let Err(error) = visit(labels, &points[from..to]) {
                    return Some(Err(error));
                }
            }
        }
        Some(Ok(()))
    }

    /// The window planned for `selector`, `(start, end)` inclusive; `None` when it has none.
    pub(crate) fn window_of(&self, selector: &VectorSelector) -> Option<(i64, i64)> {
        self.windows.get(&selector_key(selector)).copied()
    }

    /// The selector's whole prefetched window, fetched on first use.
    fn window(
        &self,
        selector: &VectorSelector,
        start_ms: i64,
        end_ms: i64,
        fetch: impl FnOnce(i64, i64) -> Result<Vec<SelectedSeries>, Error>,
    ) -> Option<Result<Rc<Vec<SelectedSeries>>, Error>> {
        let key = selector_key(selector);
        let &(window_start_ms, window_end_ms) = self.windows.get(&key)?;
        if start_ms < window_start_ms || end_ms > window_end_ms {
            return None;
        }
        let cached = self.fetched.borrow().get(&key).cloned();
        Some(match cached {
            Some(all) => Ok(all),
            None => fetch(window_start_ms, window_end_ms).map(|all| {
                let all = Rc::new(all);
                self.fetched.borrow_mut().insert(key, Rc::clone(&all));
                all
            }),
        })
    }

    /// Returns the selector's series in `start_ms..=end_ms` from its prefetched window, fetching
    /// the window with `fetch` on first use; `None` when the selector has no planned window
    /// covering the request.
    pub(crate) fn select(
        &self,
        selector: &VectorSelector,
        start_ms: i64,
        end_ms: i64,
        fetch: impl FnOnce(i64, i64) -> Result<Vec<SelectedSeries>, Error>,
    ) -> Option<Result<Vec<SelectedSeries>, Error>> {
        let all = match self.window(selector, start_ms, end_ms, fetch)? {
            Ok(all) => all,
            Err(error) => return Some(Err(error)),
        };
        let mut selected = Vec::new();
        for (labels, points) in all.iter() {
            let from = points.partition_point(|(t, _)| *t < start_ms);
            let to = points.partition_point(|(t, _)| *t <= end_ms);
            if from < to {
                selected.push((labels.clone(), points[from..to].to_vec()));
            }
        }
        Some(Ok(selected))
    }
}
