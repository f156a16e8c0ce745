use super::*;
use crate::trace::fixtures::{error_row, id, row, TRACE};

fn span_ids(trace: &AssembledTrace) -> Vec<u8> {
    trace
        .spans
        .iter()
        .map(|span| span.row.span.span_id.0[0])
        .collect()
}

fn find(trace: &AssembledTrace, byte: u8) -> &AssembledSpan {
    trace
        .spans
        .iter()
        .find(|span| span.row.span.span_id == id(byte))
        .unwrap()
}

#[test]
fn no_rows_is_no_trace() {
    assert!(assemble_trace(Vec::new()).is_none());
}

#[test]
fn builds_tree_depth_first_with_children_by_start() {
    // 1 ─┬─ 3 (starts 20) ── 4
    //    └─ 2 (starts 10)
    let rows = vec![
        row("b", 4, 3, 25, 30),
        row("a", 3, 1, 20, 40),
        row("a", 1, 0, 0, 100),
        row("a", 2, 1, 10, 15),
    ];
    let trace = assemble_trace(rows).unwrap();
    assert_eq!(trace.trace_id, TRACE);
    assert_eq!(span_ids(&trace), vec![1, 2, 3, 4]);
    assert_eq!(trace.roots, vec![0]);
    assert!(trace.orphans.is_empty());
    let root = find(&trace, 1);
    assert_eq!(root.depth, 0);
    assert_eq!(root.children, vec![1, 2]);
    assert_eq!(find(&trace, 4).depth, 2);
    assert_eq!(find(&trace, 4).parent, Some(2));
    assert_eq!(
        (
            trace.start_unix_nano,
            trace.end_unix_nano,
            trace.duration_nanos()
        ),
        (0, 100, 100)
    );
    assert_eq!(trace.root().unwrap().row.span.name, "op1");
    assert!(trace.warnings().is_empty());
}

#[test]
fn orphans_are_kept_flagged_and_listed_after_roots() {
    // 5's parent 9 was never received; 6 hangs below the orphan.
    let rows = vec![
        row("b", 5, 9, 5, 50),
        row("b", 6, 5, 6, 7),
        row("a", 1, 0, 10, 100),
    ];
    let trace = assemble_trace(rows).unwrap();
    assert_eq!(span_ids(&trace), vec![1, 5, 6]);
    assert_eq!(trace.roots, vec![0]);
    assert_eq!(trace.orphans, vec![1]);
    assert!(find(&trace, 5).orphan);
    assert_eq!(find(&trace, 5).parent, None);
    assert!(!find(&trace, 6).orphan);
    assert_eq!(find(&trace, 6).depth, 1);
    assert_eq!(trace.start_unix_nano, 5);
    assert_eq!(
        trace.warnings(),
        vec!["1 spans reference a parent that was not received"]
    );
}

#[test]
fn trace_without_root_uses_earliest_orphan() {
    let trace = assemble_trace(vec![row("b", 6, 9, 30, 40), row("b", 5, 9, 20, 50)]).unwrap();
    assert!(trace.roots.is_empty());
    assert_eq!(trace.root().unwrap().row.span.span_id, id(5));
    assert!(trace.warnings().iter().any(|w| w.contains("no root")));
}

#[test]
fn duplicates_keep_one_copy_preferring_the_latest_end() {
    let rows = vec![
        row("a", 1, 0, 0, 100),
        row("a", 2, 1, 10, 20),
        row("a", 2, 1, 10, 30),
        row("a", 1, 0, 0, 100),
    ];
    let trace = assemble_trace(rows).unwrap();
    assert_eq!(span_ids(&trace), vec![1, 2]);
    assert_eq!(trace.duplicate_span_count, 2);
    assert_eq!(find(&trace, 2).row.span.end_time_unix_nano, 30);
    assert_eq!(find(&trace, 1).children, vec![1]);
    assert_eq!(trace.services[0].span_count, 2);
}

#[test]
fn parent_cycles_and_self_parents_become_orphans() {
    // 2 and 3 name each other as parent; 4 names itself.
    let rows = vec![
        row("a", 1, 0, 0, 100),
        row("a", 2, 3, 10, 20),
        row("a", 3, 2, 15, 25),
        row("a", 4, 4, 30, 40),
    ];
    let trace = assemble_trace(rows).unwrap();
    assert_eq!(trace.spans.len(), 4);
    assert!(find(&trace, 4).orphan);
    let cut = [find(&trace, 2).orphan, find(&trace, 3).orphan];
    assert_eq!(cut.iter().filter(|&&orphan| orphan).count(), 1);
    for span in &trace.spans {
        for &child in &span.children {
            assert_eq!(trace.spans[child].depth, span.depth + 1);
        }
    }
}

#[test]
fn services_and_errors_are_counted() {
    let rows = vec![
        row("frontend", 1, 0, 0, 100),
        error_row("cart", 2, 1, 10, 20),
        error_row("cart", 3, 1, 30, 40),
        row("db", 4, 3, 31, 39),
    ];
    let trace = assemble_trace(rows).unwrap();
    let services: Vec<(&str, usize, usize)> = trace
        .services
        .iter()
        .map(|s| (s.service_name.as_str(), s.span_count, s.error_count))
        .collect();
    assert_eq!(
        services,
        vec![("cart", 2, 2), ("db", 1, 0), ("frontend", 1, 0)]
    );
    assert_eq!(trace.error_span_count, 2);
}

#[test]
fn skew_is_noted_on_cross_service_children_only() {
    let rows = vec![
        row("frontend", 1, 0, 1_000, 2_000),
        row("backend", 2, 1, 900, 1_500),
        row("frontend", 3, 1, 950, 1_200),
    ];
    let trace = assemble_trace(rows).unwrap();
    let skew = find(&trace, 2).clock_skew.unwrap();
    assert_eq!(skew.starts_before_parent_nanos, 100);
    assert_eq!(
        find(&trace, 2).row.span.start_time_unix_nano,
        900,
        "times are not rewritten"
    );
    assert_eq!(find(&trace, 3).clock_skew, None);
    assert_eq!(find(&trace, 1).clock_skew, None);
}
