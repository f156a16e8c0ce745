//! Clock skew between services, noted the way Jaeger notes it and never silently fixed.
//!
//! A child span of another service that starts before its parent, or ends after it, was timed
//! by a clock that disagrees with the parent's host. Jaeger's query service then shifts the
//! child (and its subtree) so that it sits centred in the parent, and adds a span warning. We
//! keep the recorded times and only report what Jaeger would have shifted, so the UI can show
//! both the raw timing and the warning.

use std::fmt;

use sightline_model::SpanRow;

/// How far a span's recorded times fall outside its parent of another service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSkew {
    /// How long before the parent's start the span starts (0 when it does not).
    pub starts_before_parent_nanos: u64,
    /// How long after the parent's end the span ends (0 when it does not).
    pub ends_after_parent_nanos: u64,
    /// The shift Jaeger's clock-skew adjuster would apply to the span (positive moves it later),
    /// which centres it within its parent.
    pub adjustment_nanos: i64,
}

impl fmt::Display for ClockSkew {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("clock skew: span ")?;
        if self.starts_before_parent_nanos > 0 {
            write!(
                f,
                "starts {} before its parent",
                format_nanos(self.starts_before_parent_nanos)
            )?;
            if self.ends_after_parent_nanos > 0 {
                f.write_str(" and ")?;
            }
        }
        if self.ends_after_parent_nanos > 0 {
            write!(
                f,
                "ends {} after its parent",
                format_nanos(self.ends_after_parent_nanos)
            )?;
        }
        let sign = if self.adjustment_nanos < 0 { "-" } else { "+" };
        write!(
            f,
            "; times not adjusted (an adjustment of {sign}{} would centre it in its parent)",
            format_nanos(self.adjustment_nanos.unsigned_abs())
        )
    }
}

/// Returns the skew of `child` against `parent` when they belong to different services and the
/// child's times fall outside the parent's; `None` otherwise.
pub(crate) fn detect_clock_skew(parent: &SpanRow, child: &SpanRow) -> Option<ClockSkew> {
    if parent.service_name == child.service_name {
        return None;
    }
    let (parent_start, parent_end) = span_bounds(parent);
    let (child_start, child_end) = span_bounds(child);
    let starts_before_parent_nanos = parent_start.saturating_sub(child_start);
    let ends_after_parent_nanos = child_end.saturating_sub(parent_end);
    if starts_before_parent_nanos == 0 && ends_after_parent_nanos == 0 {
        return None;
    }
    // Jaeger's adjuster: latency = (parent duration - child duration) / 2, and the child is
    // moved to start at parent start + latency.
    let parent_duration = i128::from(parent_end - parent_start);
    let child_duration = i128::from(child_end - child_start);
    let latency = (parent_duration - child_duration) / 2;
    let adjustment = i128::from(parent_start) + latency - i128::from(child_start);
    let adjustment_nanos =
        i64::try_from(adjustment).unwrap_or(if adjustment < 0 { i64::MIN } else { i64::MAX });
    Some(ClockSkew {
        starts_before_parent_nanos,
        ends_after_parent_nanos,
        adjustment_nanos,
    })
}

/// Start and end, with an end before the start read as a zero-length span.
fn span_bounds(row: &SpanRow) -> (u64, u64) {
    let start = row.span.start_time_unix_nano;
    (start, row.span.end_time_unix_nano.max(start))
}

/// Renders nanoseconds in the largest unit that keeps the value at least 1, like Go's
/// `time.Duration` ("1.5ms", "250ns", "2s").
pub(crate) fn format_nanos(nanos: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "µs"),
        (1, "ns"),
    ];
    let (scale, unit) = UNITS
        .into_iter()
        .find(|(scale, _)| nanos >= *scale)
        .unwrap_or((1, "ns"));
    let whole = nanos / scale;
    let fraction = nanos % scale;
    if fraction == 0 {
        return format!("{whole}{unit}");
    }
    let digits = scale.ilog10() as usize;
    let fraction = format!("{fraction:0digits$}");
    format!("{whole}.{}{unit}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::fixtures::row;

    #[test]
    fn same_service_is_never_skew() {
        let parent = row("a", 1, 0, 100, 200);
        let child = row("a", 2, 1, 50, 250);
        assert_eq!(detect_clock_skew(&parent, &child), None);
    }

    #[test]
    fn child_inside_parent_is_not_skew() {
        let parent = row("a", 1, 0, 100, 200);
        assert_eq!(detect_clock_skew(&parent, &row("b", 2, 1, 100, 200)), None);
        assert_eq!(detect_clock_skew(&parent, &row("b", 2, 1, 120, 180)), None);
    }

    #[test]
    fn child_starting_early_is_reported_with_jaeger_adjustment() {
        let parent = row("a", 1, 0, 1_000, 2_000);
        let child = row("b", 2, 1, 900, 1_500);
        let skew = detect_clock_skew(&parent, &child).unwrap();
        assert_eq!(skew.starts_before_parent_nanos, 100);
        assert_eq!(skew.ends_after_parent_nanos, 0);
        // Centred: 1000 + (1000 - 600) / 2 = 1200, so shift by +300.
        assert_eq!(skew.adjustment_nanos, 300);
        assert_eq!(
            skew.to_string(),
            "clock skew: span starts 100ns before its parent; times not adjusted \
             (an adjustment of +300ns would centre it in its parent)"
        );
    }

    #[test]
    fn child_longer_than_parent_reports_both_sides() {
        let parent = row("a", 1, 0, 1_000, 1_100);
        let child = row("b", 2, 1, 990, 1_300);
        let skew = detect_clock_skew(&parent, &child).unwrap();
        assert_eq!(skew.starts_before_parent_nanos, 10);
        assert_eq!(skew.ends_after_parent_nanos, 200);
        assert_eq!(skew.adjustment_nanos, 1_000 + (100 - 310) / 2 - 990);
    }

    #[test]
    fn nanos_render_like_go_durations() {
        assert_eq!(format_nanos(0), "0ns");
        assert_eq!(format_nanos(250), "250ns");
        assert_eq!(format_nanos(1_500_000), "1.5ms");
        assert_eq!(format_nanos(2_000_000_000), "2s");
        assert_eq!(format_nanos(1_000_100), "1.0001ms");
    }
}
