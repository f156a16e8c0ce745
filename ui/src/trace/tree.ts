// The trace view's model: the span tree built from the API's spans, the rows that are
// visible given the collapsed spans, the critical path, and the time axis.
//
// The tree is built from `parentSpanId` alone, so it does not depend on the order the API
// sends: children sort by start time, roots (no parent) come before orphans (a parent that is
// not in the trace), each by start time, as the server's own display order does. Spans are
// walked iteratively: a 10,000-span chain must not overflow the stack.

import type { Span, Trace } from '../types';

/** A stretch of a span on the critical path, in nanoseconds from the trace's start. */
export interface OffsetSegment {
  startNanos: number;
  endNanos: number;
}

export interface SpanNode {
  span: Span;
  /** Position in display order (depth first). */
  index: number;
  /** 0 for roots and orphans. */
  depth: number;
  parent: SpanNode | null;
  children: SpanNode[];
  /** Spans below this one, at any depth. */
  descendantCount: number;
  /** The span names a parent that is not in the trace. */
  orphan: boolean;
  isError: boolean;
  /** Start, in nanoseconds from the trace's start. */
  startNanos: number;
  durationNanos: number;
  /** The span's stretches on the critical path; empty when it is not on it. */
  critical: OffsetSegment[];
}

export interface SpanTree {
  /** Every span in display order. */
  nodes: SpanNode[];
  roots: SpanNode[];
  byId: Map<string, SpanNode>;
  /** The trace's start, unix nanoseconds (decimal text, exact). */
  startUnixNano: string;
  durationNanos: number;
  /** Service names in display order, each with its colour index. */
  serviceColors: Map<string, number>;
}

/** Nanoseconds from `origin` to `time`, both unix-nanosecond decimal strings. */
export function offsetNanos(time: string, origin: string): number {
  return Number(BigInt(time) - BigInt(origin));
}

function minText(values: string[]): string | null {
  let min: bigint | null = null;
  for (const value of values) {
    const parsed = BigInt(value);
    if (min === null || parsed < min) min = parsed;
  }
  return min === null ? null : min.toString();
}

/** Builds the span tree of a trace (deduplicating span ids, first copy wins). */
export function buildSpanTree(trace: Pick<Trace, 'spans'> & Partial<Pick<Trace, 'startTimeUnixNano' | 'durationNanos'>>): SpanTree {
  const spans: Span[] = [];
  const seen = new Set<string>();
  for (const span of trace.spans) {
    if (!seen.has(span.spanId)) {
      seen.add(span.spanId);
      spans.push(span);
    }
  }
  const startUnixNano = trace.startTimeUnixNano ?? minText(spans.map((span) => span.startTimeUnixNano)) ?? '0';
  const byId = new Map<string, SpanNode>();
  for (const span of spans) {
    byId.set(span.spanId, {
      span,
      index: -1,
      depth: 0,
      parent: null,
      children: [],
      descendantCount: 0,
      orphan: false,
      isError: span.status.code === 'error',
      startNanos: offsetNanos(span.startTimeUnixNano, startUnixNano),
      durationNanos: span.durationNanos,
      critical: span.criticalPath.map((segment) => ({
        startNanos: offsetNanos(segment.startTimeUnixNano, startUnixNano),
        endNanos: offsetNanos(segment.endTimeUnixNano, startUnixNano),
      })),
    });
  }
  const roots: SpanNode[] = [];
  const orphans: SpanNode[] = [];
  for (const node of byId.values()) {
    const parentId = node.span.parentSpanId;
    const parent = parentId ? byId.get(parentId) : undefined;
    if (parent && parent !== node) {
      node.parent = parent;
      parent.children.push(node);
    } else if (parentId) {
      node.orphan = true;
      orphans.push(node);
    } else {
      roots.push(node);
    }
  }
  const byStart = (a: SpanNode, b: SpanNode) => a.startNanos - b.startNanos || a.span.spanId.localeCompare(b.span.spanId);
  for (const node of byId.values()) node.children.sort(byStart);
  roots.sort(byStart);
  orphans.sort(byStart);
  const tops = [...roots, ...orphans];

  const nodes: SpanNode[] = [];
  const walk = (top: SpanNode) => {
    const stack: SpanNode[] = [top];
    top.depth = 0;
    while (stack.length > 0) {
      const node = stack.pop() as SpanNode;
      node.index = nodes.length;
      nodes.push(node);
      for (let i = node.children.length - 1; i >= 0; i -= 1) {
        const child = node.children[i] as SpanNode;
        child.depth = node.depth + 1;
        stack.push(child);
      }
    }
  };
  for (const top of tops) walk(top);
  // A parent chain that loops never reaches a root: break the loop at its earliest span and
  // show that span as an orphan, as the server does.
  for (const node of [...byId.values()].sort(byStart)) {
    if (node.index >= 0) continue;
    const parent = node.parent;
    if (parent) parent.children.splice(parent.children.indexOf(node), 1);
    node.parent = null;
    node.orphan = true;
    tops.push(node);
    walk(node);
  }
  // Descendant counts, children before parents (reverse display order).
  for (let i = nodes.length - 1; i >= 0; i -= 1) {
    const node = nodes[i] as SpanNode;
    if (node.parent) node.parent.descendantCount += node.descendantCount + 1;
  }

  let end = 0;
  for (const node of nodes) end = Math.max(end, node.startNanos + node.durationNanos);
  const durationNanos = trace.durationNanos ?? end;

  const serviceColors = new Map<string, number>();
  for (const name of [...new Set(nodes.map((node) => node.span.serviceName))].sort()) {
    serviceColors.set(name, serviceColors.size);
  }
  return { nodes, roots: tops, byId, startUnixNano, durationNanos, serviceColors };
}

/** The rows shown when the spans in `collapsed` hide their descendants. */
export function visibleRows(tree: SpanTree, collapsed: ReadonlySet<string>): SpanNode[] {
  if (collapsed.size === 0) return tree.nodes;
  const rows: SpanNode[] = [];
  const nodes = tree.nodes;
  let i = 0;
  while (i < nodes.length) {
    const node = nodes[i] as SpanNode;
    rows.push(node);
    // Display order is depth first, so a span's descendants are the next `descendantCount`.
    i += collapsed.has(node.span.spanId) ? node.descendantCount + 1 : 1;
  }
  return rows;
}

/** The spans on the critical path, in display order. */
export function criticalPathNodes(tree: SpanTree): SpanNode[] {
  return tree.nodes.filter((node) => node.critical.length > 0);
}

/** The ancestors of a span, nearest first. */
export function ancestors(node: SpanNode): SpanNode[] {
  const found: SpanNode[] = [];
  for (let parent = node.parent; parent; parent = parent.parent) found.push(parent);
  return found;
}

/** Round tick steps for a time axis: 1, 2, 5 × a power of ten nanoseconds. */
export function axisTicks(durationNanos: number, maxTicks: number): number[] {
  if (!(durationNanos > 0) || maxTicks < 1) return [0];
  const raw = durationNanos / maxTicks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= raw) ?? raw;
  const ticks: number[] = [];
  for (let tick = 0; tick <= durationNanos + step * 1e-9; tick += step) ticks.push(tick);
  return ticks;
}

/** A bar's left edge and width as percentages of the trace; at least a sliver so it shows. */
export function barGeometry(startNanos: number, durationNanos: number, traceNanos: number): { left: number; width: number } {
  if (!(traceNanos > 0)) return { left: 0, width: 100 };
  const left = Math.min(100, Math.max(0, (startNanos / traceNanos) * 100));
  const width = Math.max(0.15, Math.min(100 - left, (durationNanos / traceNanos) * 100));
  return { left, width };
}
