//! Builds the span tree of one trace from the store's rows.
//!
//! The store returns a trace's rows in no order, and a retried export can have stored a span
//! twice. Assembly keeps one copy per span id, links children to parents, and keeps spans whose
//! parent never arrived as *orphans* (flagged, never dropped), so a partly received trace still
//! shows everything that was received.

use std::collections::{BTreeMap, HashMap};

use sightline_model::{SpanId, SpanRow, StatusCode, TraceId};

use super::critical_path::{critical_path_segments, Segment};
use super::skew::{detect_clock_skew, ClockSkew};

/// One span of an assembled trace, with its place in the tree.
#[derive(Debug, Clone)]
pub struct AssembledSpan {
    /// The stored span with its resource and scope.
    pub row: SpanRow,
    /// Index of the parent in [`AssembledTrace::spans`]; `None` for roots and orphans.
    pub parent: Option<usize>,
    /// Indices of the children in [`AssembledTrace::spans`], by start time.
    pub children: Vec<usize>,
    /// Distance from the top of its subtree (a root or an orphan), which is depth 0.
    pub depth: usize,
    /// The span names a parent that is not in the trace (or its parent chain loops back to it).
    pub orphan: bool,
    /// Clock skew against a parent of another service, if any.
    pub clock_skew: Option<ClockSkew>,
    /// The segments of this span on the trace's critical path, earliest first.
    pub critical_path: Vec<Segment>,
}

impl AssembledSpan {
    /// Returns the span's duration; zero when its end precedes its start.
    pub fn duration_nanos(&self) -> u64 {
        self.row.span.duration_nanos()
    }

    /// Says whether the span's status is `Error`.
    pub fn is_error(&self) -> bool {
        self.row.span.status_code == StatusCode::Error
    }
}

/// How many spans (and error spans) one service contributed to a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpanCount {
    /// The service's `service.name`.
    pub service_name: String,
    /// Spans of the service in the trace.
    pub span_count: usize,
    /// Spans of the service whose status is `Error`.
    pub error_count: usize,
}

/// A trace ready to render: deduplicated spans in display order, with tree links and the
/// derived facts (services, skew, critical path).
#[derive(Debug, Clone)]
pub struct AssembledTrace {
    /// The trace's id.
    pub trace_id: TraceId,
    /// Spans depth first: each root's subtree (roots by start time), then each orphan's subtree;
    /// children by start time.
    pub spans: Vec<AssembledSpan>,
    /// Indices of the spans without a parent id, by start time.
    pub roots: Vec<usize>,
    /// Indices of the orphan spans, by start time.
    pub orphans: Vec<usize>,
    /// Earliest span start.
    pub start_unix_nano: u64,
    /// Latest span end.
    pub end_unix_nano: u64,
    /// Span counts per service, by service name.
    pub services: Vec<ServiceSpanCount>,
    /// Stored copies dropped because their span id was already present.
    pub duplicate_span_count: usize,
    /// Spans whose status is `Error`.
    pub error_span_count: usize,
}

impl AssembledTrace {
    /// Returns the time from the earliest start to the latest end.
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    /// Returns the span that stands for the trace: the earliest root, or, when no root was
    /// received, the earliest orphan.
    pub fn root(&self) -> Option<&AssembledSpan> {
        self.roots
            .first()
            .or(self.orphans.first())
            .map(|&index| &self.spans[index])
    }

    /// Returns trace-level warnings for display (duplicates dropped, missing root).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.duplicate_span_count > 0 {
            warnings.push(format!(
                "{} duplicate span copies ignored (same span id stored more than once)",
                self.duplicate_span_count
            ));
        }
        if self.roots.is_empty() {
            warnings.push("trace has no root span: its root was not received".to_string());
        }
        if !self.orphans.is_empty() {
            warnings.push(format!(
                "{} spans reference a parent that was not received",
                self.orphans.len()
            ));
        }
        warnings
    }
}

/// Assembles the rows of one trace; `None` when there are none.
///
/// Duplicate span ids keep the copy with the latest end time (the first seen on a tie). Rows
/// are expected to share one trace id; the first row's id names the trace.
pub fn assemble_trace(rows: Vec<SpanRow>) -> Option<AssembledTrace> {
    let trace_id = rows.first()?.span.trace_id;
    let (mut rows, duplicate_span_count) = dedupe_rows_by_span_id(rows);
    rows.sort_by_key(|row| (row.span.start_time_unix_nano, row.span.span_id));
    let mut links = link_parents(&rows);
    let order = depth_first_order(&mut links);

    let mut new_index = vec![0; rows.len()];
    for (position, visit) in order.iter().enumerate() {
        new_index[visit.index] = position;
    }
    let mut slots: Vec<Option<SpanRow>> = rows.into_iter().map(Some).collect();
    let mut spans = Vec::with_capacity(order.len());
    for visit in &order {
        let Some(row) = slots[visit.index].take() else {
            continue;
        };
        spans.push(AssembledSpan {
            row,
            parent: links.parent[visit.index].map(|parent| new_index[parent]),
            children: links.children[visit.index]
                .iter()
                .map(|&child| new_index[child])
                .collect(),
            depth: visit.depth,
            orphan: links.orphan[visit.index],
            clock_skew: None,
            critical_path: Vec::new(),
        });
    }
    Some(finish_trace(trace_id, spans, duplicate_span_count))
}

/// Derives the trace-level facts and the per-span skew and critical path.
fn finish_trace(
    trace_id: TraceId,
    mut spans: Vec<AssembledSpan>,
    duplicate_span_count: usize,
) -> AssembledTrace {
    let mut roots = Vec::new();
    let mut orphans = Vec::new();
    let mut services: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (index, span) in spans.iter().enumerate() {
        if span.orphan {
            orphans.push(index);
        } else if span.parent.is_none() {
            roots.push(index);
        }
        let counts = services.entry(&span.row.service_name).or_default();
        counts.0 += 1;
        counts.1 += usize::from(span.is_error());
    }
    let services = services
        .into_iter()
        .map(|(name, (span_count, error_count))| ServiceSpanCount {
            service_name: name.to_string(),
            span_count,
            error_count,
        })
        .collect();
    roots.sort_by_key(|&index| spans[index].row.span.start_time_unix_nano);
    orphans.sort_by_key(|&index| spans[index].row.span.start_time_unix_nano);

    for index in 0..spans.len() {
        if let Some(parent) = spans[index].parent {
            spans[index].clock_skew = detect_clock_skew(&spans[parent].row, &spans[index].row);
        }
    }
    let primary_root = roots.first().or(orphans.first()).copied();
    if let Some(root) = primary_root {
        for (index, segment) in critical_path_segments(&spans, root) {
            spans[index].critical_path.push(segment);
        }
    }
    AssembledTrace {
        trace_id,
        start_unix_nano: spans
            .iter()
            .map(|s| s.row.span.start_time_unix_nano)
            .min()
            .unwrap_or(0),
        end_unix_nano: spans
            .iter()
            .map(|s| s.row.span.end_time_unix_nano)
            .max()
            .unwrap_or(0),
        error_span_count: spans.iter().filter(|span| span.is_error()).count(),
        spans,
        roots,
        orphans,
        services,
        duplicate_span_count,
    }
}

/// Keeps one row per span id (the one ending last), and counts the copies dropped.
fn dedupe_rows_by_span_id(rows: Vec<SpanRow>) -> (Vec<SpanRow>, usize) {
    let mut position_by_id: HashMap<SpanId, usize> = HashMap::with_capacity(rows.len());
    let mut kept: Vec<SpanRow> = Vec::with_capacity(rows.len());
    let mut duplicates = 0;
    for row in rows {
        match position_by_id.get(&row.span.span_id) {
            Some(&position) => {
                duplicates += 1;
                if row.span.end_time_unix_nano > kept[position].span.end_time_unix_nano {
                    kept[position] = row;
                }
            }
            None => {
                position_by_id.insert(row.span.span_id, kept.len());
                kept.push(row);
            }
        }
    }
    (kept, duplicates)
}

/// Parent and children links by index into the sorted rows.
struct ParentLinks {
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    orphan: Vec<bool>,
}

/// Links every row to its parent row; rows are sorted by start, so children lists are too.
fn link_parents(rows: &[SpanRow]) -> ParentLinks {
    let index_by_id: HashMap<SpanId, usize> = rows
        .iter()
        .enumerate()
        .map(|(index, row)| (row.span.span_id, index))
        .collect();
    let mut links = ParentLinks {
        parent: vec![None; rows.len()],
        children: vec![Vec::new(); rows.len()],
        orphan: vec![false; rows.len()],
    };
    for (index, row) in rows.iter().enumerate() {
        let Some(parent_id) = row.span.parent_span_id else {
            continue;
        };
        match index_by_id.get(&parent_id) {
            Some(&parent) if parent != index => {
                links.parent[index] = Some(parent);
                links.children[parent].push(index);
            }
            _ => links.orphan[index] = true,
        }
    }
    links
}

/// A span's place in the depth-first display order.
struct Visit {
    index: usize,
    depth: usize,
}

/// Orders spans depth first from the roots, then from the orphans. Spans left unvisited sit on
/// a parent cycle; the earliest of each cycle is cut loose and becomes an orphan.
fn depth_first_order(links: &mut ParentLinks) -> Vec<Visit> {
    let count = links.parent.len();
    let mut visited = vec![false; count];
    let mut order = Vec::with_capacity(count);
    let roots = (0..count).filter(|&i| links.parent[i].is_none() && !links.orphan[i]);
    let orphans = (0..count).filter(|&i| links.orphan[i]);
    let tops: Vec<usize> = roots.chain(orphans).collect();
    for top in tops {
        visit_subtree(links, top, &mut visited, &mut order);
    }
    for index in 0..count {
        if visited[index] {
            continue;
        }
        if let Some(parent) = links.parent[index].take() {
            links.children[parent].retain(|&child| child != index);
        }
        links.orphan[index] = true;
        visit_subtree(links, index, &mut visited, &mut order);
    }
    order
}

/// Appends `top` and its descendants in pre-order, children by start time.
fn visit_subtree(links: &ParentLinks, top: usize, visited: &mut [bool], order: &mut Vec<Visit>) {
    let mut stack = vec![Visit {
        index: top,
        depth: 0,
    }];
    while let Some(visit) = stack.pop() {
        if std::mem::replace(&mut visited[visit.index], true) {
            continue;
        }
        let depth = visit.depth + 1;
        stack.extend(
            links.children[visit.index]
                .iter()
                .rev()
                .map(|&index| Visit { index, depth }),
        );
        order.push(visit);
    }
}

#[cfg(test)]
mod tests;
