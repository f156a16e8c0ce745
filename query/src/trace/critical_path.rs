//! The critical path: the chain of span segments that determines the trace's end-to-end
//! latency, computed as Jaeger UI computes it (`TracePage/CriticalPath`).
//!
//! Children are first clipped to their parent's bounds (a child entirely outside its parent is
//! left out with its subtree). Then, from the root's end, the walk goes backwards in time: at
//! each span it takes the last-finishing child that ends before the cursor; the time between
//! that child's end and the cursor belongs to the current span, and the walk descends into the
//! child. A span with no such child owns the time back to its own start, and the walk returns
//! to its parent with the cursor at that start.

use super::assemble::AssembledSpan;

/// A stretch of one span's time on the critical path, in unix nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Start of the stretch.
    pub start_unix_nano: u64,
    /// End of the stretch.
    pub end_unix_nano: u64,
}

/// Returns `(span index, segment)` pairs of the critical path below `root`, earliest first.
pub(crate) fn critical_path_segments(
    spans: &[AssembledSpan],
    root: usize,
) -> Vec<(usize, Segment)> {
    let bounds = clipped_bounds(spans, root);
    let Some(children_by_end) = children_by_end_descending(spans, &bounds) else {
        return Vec::new();
    };
    let mut path = Vec::new();
    let mut current = root;
    let mut cursor: Option<u64> = None;
    // Every step moves the cursor strictly back in time or descends; the cap only guards
    // against a bug turning into an endless loop on a request path.
    for _ in 0..spans.len().saturating_mul(4).saturating_add(4) {
        let Some((start, end)) = bounds[current] else {
            break;
        };
        let section_end = cursor.unwrap_or(end);
        let last_finishing_child = children_by_end[current].iter().copied().find(|&child| {
            let child_end = bounds[child].map_or(0, |(_, child_end)| child_end);
            cursor.is_none_or(|cursor| child_end < cursor)
        });
        if let Some(child) = last_finishing_child {
            let child_end = bounds[child].map_or(section_end, |(_, child_end)| child_end);
            push_segment(&mut path, current, child_end, section_end);
            current = child;
            cursor = None;
            continue;
        }
        push_segment(&mut path, current, start, section_end);
        match spans[current].parent {
            Some(parent) if current != root => {
                cursor = Some(start);
                current = parent;
            }
            _ => break,
        }
    }
    path.reverse();
    path
}

fn push_segment(path: &mut Vec<(usize, Segment)>, span: usize, start: u64, end: u64) {
    if start < end {
        path.push((
            span,
            Segment {
                start_unix_nano: start,
                end_unix_nano: end,
            },
        ));
    }
}

/// Each span's bounds clipped to its (clipped) parent, for the root's subtree; `None` for spans
/// outside the subtree or entirely outside their parent.
fn clipped_bounds(spans: &[AssembledSpan], root: usize) -> Vec<Option<(u64, u64)>> {
    let mut bounds = vec![None; spans.len()];
    let root_span = &spans[root].row.span;
    let root_start = root_span.start_time_unix_nano;
    bounds[root] = Some((root_start, root_span.end_time_unix_nano.max(root_start)));
    let mut stack = vec![root];
    while let Some(index) = stack.pop() {
        let Some((parent_start, parent_end)) = bounds[index] else {
            continue;
        };
        for &child in &spans[index].children {
            let span = &spans[child].row.span;
            let start = span.start_time_unix_nano;
            let end = span.end_time_unix_nano.max(start);
            if start > parent_end || end < parent_start {
                continue;
            }
            bounds[child] = Some((start.max(parent_start), end.min(parent_end)));
            stack.push(child);
        }
    }
    bounds
}

/// Each span's children that have bounds, latest-ending first; `None` when the root has none.
fn children_by_end_descending(
    spans: &[AssembledSpan],
    bounds: &[Option<(u64, u64)>],
) -> Option<Vec<Vec<usize>>> {
    bounds.iter().any(Option::is_some).then(|| {
        spans
            .iter()
            .map(|span| {
                let mut children: Vec<(u64, usize)> = span
                    .children
                    .iter()
                    .filter_map(|&child| bounds[child].map(|(_, end)| (end, child)))
                    .collect();
                children.sort_by_key(|&(end, _)| std::cmp::Reverse(end));
                children.into_iter().map(|(_, child)| child).collect()
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use crate::trace::assemble_trace;
    use crate::trace::fixtures::{id, row};

    /// Returns `(span id byte, start, end)` for every critical-path segment, in time order.
    fn path_of(rows: Vec<sightline_model::SpanRow>) -> Vec<(u8, u64, u64)> {
        let trace = assemble_trace(rows).unwrap();
        let mut segments: Vec<(u8, u64, u64)> = trace
            .spans
            .iter()
            .flat_map(|span| {
                let byte = span.row.span.span_id.0[0];
                span.critical_path
                    .iter()
                    .map(move |s| (byte, s.start_unix_nano, s.end_unix_nano))
            })
            .collect();
        segments.sort_by_key(|&(_, start, _)| start);
        segments
    }

    #[test]
    fn single_span_is_its_own_path() {
        assert_eq!(path_of(vec![row("a", 1, 0, 10, 20)]), vec![(1, 10, 20)]);
    }

    #[test]
    fn sequential_children_both_on_path() {
        // root 0..100, child 2 at 10..40, child 3 at 50..90.
        let rows = vec![
            row("a", 1, 0, 0, 100),
            row("a", 2, 1, 10, 40),
            row("a", 3, 1, 50, 90),
        ];
        assert_eq!(
            path_of(rows),
            vec![
                (1, 0, 10),
                (2, 10, 40),
                (1, 40, 50),
                (3, 50, 90),
                (1, 90, 100)
            ]
        );
    }

    #[test]
    fn overlapping_child_finishing_earlier_is_skipped() {
        // Parallel children: 2 at 10..80 and 3 at 20..60. Only 2 determines the latency.
        let rows = vec![
            row("a", 1, 0, 0, 100),
            row("a", 2, 1, 10, 80),
            row("a", 3, 1, 20, 60),
        ];
        assert_eq!(path_of(rows), vec![(1, 0, 10), (2, 10, 80), (1, 80, 100)]);
    }

    #[test]
    fn descends_into_grandchildren_and_clips_overflow() {
        // Child 2 overflows the root's end (clipped to 100); grandchild 4 inside child 2.
        let rows = vec![
            row("a", 1, 0, 0, 100),
            row("b", 2, 1, 20, 130),
            row("b", 4, 2, 30, 70),
            row("a", 3, 1, 200, 300),
        ];
        assert_eq!(
            path_of(rows),
            vec![(1, 0, 20), (2, 20, 30), (4, 30, 70), (2, 70, 100)]
        );
        let trace = assemble_trace(vec![row("a", 1, 0, 0, 100), row("a", 3, 1, 200, 300)]).unwrap();
        let outside = trace
            .spans
            .iter()
            .find(|s| s.row.span.span_id == id(3))
            .unwrap();
        assert!(
            outside.critical_path.is_empty(),
            "child entirely after its parent is left out"
        );
    }

    #[test]
    fn orphans_are_not_on_the_path() {
        let rows = vec![row("a", 1, 0, 0, 100), row("b", 5, 9, 10, 20)];
        assert_eq!(path_of(rows), vec![(1, 0, 100)]);
    }
}
