import { describe, expect, it } from 'vitest';
import type { Span } from '../types';
import { BASE, testSpan as span } from './test-spans';
import { ancestors, axisTicks, barGeometry, buildSpanTree, criticalPathNodes, offsetNanos, visibleRows } from './tree';

function segment(start: number, end: number) {
  return { startTimeUnixNano: (BASE + BigInt(start)).toString(), endTimeUnixNano: (BASE + BigInt(end)).toString() };
}

const ids = (nodes: { span: Span }[]) => nodes.map((node) => node.span.spanId);

describe('buildSpanTree', () => {
  // root a: 0..100, children b (10..60, with child d), c (50..90); e's parent never arrived.
  const spans = [
    span('c', 'a', 50, 90),
    span('e', 'zz', 5, 15),
    span('d', 'b', 20, 40, { status: { code: 'error', message: 'boom' } }),
    span('a', null, 0, 100),
    span('b', 'a', 10, 60),
  ];

  it('orders spans depth first, children by start, roots before orphans, whatever the input order', () => {
    const tree = buildSpanTree({ spans });
    expect(ids(tree.nodes)).toEqual(['a', 'b', 'd', 'c', 'e']);
    expect(tree.nodes.map((node) => node.depth)).toEqual([0, 1, 2, 1, 0]);
    expect(tree.nodes.map((node) => node.index)).toEqual([0, 1, 2, 3, 4]);
    expect(ids(tree.roots)).toEqual(['a', 'e']);
  });

  it('flags orphans and errors and counts descendants', () => {
    const tree = buildSpanTree({ spans });
    const node = (id: string) => tree.byId.get(id)!;
    expect(node('e').orphan).toBe(true);
    expect(node('a').orphan).toBe(false);
    expect(node('d').isError).toBe(true);
    expect(node('a').descendantCount).toBe(3);
    expect(node('b').descendantCount).toBe(1);
    expect(node('e').descendantCount).toBe(0);
    expect(ids(ancestors(node('d')))).toEqual(['b', 'a']);
  });

  it('measures times from the trace start exactly, beyond 2^53 nanoseconds', () => {
    const tree = buildSpanTree({ spans });
    expect(tree.startUnixNano).toBe(BASE.toString());
    expect(tree.byId.get('d')!.startNanos).toBe(20);
    expect(tree.durationNanos).toBe(100);
    expect(offsetNanos((BASE + 7n).toString(), BASE.toString())).toBe(7);
  });

  it('keeps the first copy of a duplicated span id', () => {
    const tree = buildSpanTree({ spans: [span('a', null, 0, 10), span('a', null, 0, 99, { name: 'copy' })] });
    expect(tree.nodes).toHaveLength(1);
    expect(tree.nodes[0]!.span.name).toBe('op a');
  });

  it('breaks a parent loop at its earliest span, shown as an orphan', () => {
    const tree = buildSpanTree({ spans: [span('x', 'y', 10, 20), span('y', 'x', 5, 30), span('r', null, 0, 40)] });
    expect(ids(tree.nodes)).toEqual(['r', 'y', 'x']);
    expect(tree.byId.get('y')!.orphan).toBe(true);
    expect(tree.byId.get('x')!.depth).toBe(1);
  });

  it('treats a span that is its own parent as an orphan', () => {
    const tree = buildSpanTree({ spans: [span('s', 's', 0, 10)] });
    expect(tree.nodes[0]!.orphan).toBe(true);
  });

  it('survives a 10,000-span chain without recursion', () => {
    const chain = Array.from({ length: 10_000 }, (_, i) => span(`s${i}`, i === 0 ? null : `s${i - 1}`, i, 20_000 - i));
    const tree = buildSpanTree({ spans: chain.reverse() });
    expect(tree.nodes).toHaveLength(10_000);
    expect(tree.nodes[9_999]!.depth).toBe(9_999);
    expect(tree.nodes[0]!.descendantCount).toBe(9_999);
  });

  it('gives each service of the trace its own colour index, by name', () => {
    const tree = buildSpanTree({
      spans: [span('a', null, 0, 10, { serviceName: 'web' }), span('b', 'a', 1, 5, { serviceName: 'db' }), span('c', 'a', 1, 5, { serviceName: 'web' })],
    });
    expect([...tree.serviceColors.entries()]).toEqual([
      ['db', 0],
      ['web', 1],
    ]);
  });
});

describe('visibleRows', () => {
  const tree = buildSpanTree({
    spans: [span('a', null, 0, 100), span('b', 'a', 10, 60), span('d', 'b', 20, 40), span('c', 'a', 50, 90), span('e', 'zz', 5, 15)],
  });

  it('shows everything when nothing is collapsed', () => {
    expect(ids(visibleRows(tree, new Set()))).toEqual(['a', 'b', 'd', 'c', 'e']);
  });

  it('hides the descendants of collapsed spans', () => {
    expect(ids(visibleRows(tree, new Set(['b'])))).toEqual(['a', 'b', 'c', 'e']);
    expect(ids(visibleRows(tree, new Set(['a'])))).toEqual(['a', 'e']);
    expect(ids(visibleRows(tree, new Set(['a', 'b'])))).toEqual(['a', 'e']);
    expect(ids(visibleRows(tree, new Set(['d', 'unknown'])))).toEqual(['a', 'b', 'd', 'c', 'e']);
  });
});

describe('critical path', () => {
  it('marks the spans the API put on the critical path, with their segments from the trace start', () => {
    // a waits for c (ends last), c for nothing: a owns 90..100 and 0..50, c owns 50..90.
    const tree = buildSpanTree({
      spans: [
        span('a', null, 0, 100, { criticalPath: [segment(0, 50), segment(90, 100)] }),
        span('b', 'a', 10, 60),
        span('c', 'a', 50, 90, { criticalPath: [segment(50, 90)] }),
      ],
    });
    expect(ids(criticalPathNodes(tree))).toEqual(['a', 'c']);
    expect(tree.byId.get('a')!.critical).toEqual([
      { startNanos: 0, endNanos: 50 },
      { startNanos: 90, endNanos: 100 },
    ]);
    expect(tree.byId.get('b')!.critical).toEqual([]);
  });
});

describe('time axis and bars', () => {
  it('picks round ticks', () => {
    expect(axisTicks(100, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(axisTicks(45_000_000, 4)).toEqual([0, 20_000_000, 40_000_000]);
    expect(axisTicks(0, 5)).toEqual([0]);
  });

  it('places bars in percent of the trace, never invisible', () => {
    expect(barGeometry(25, 50, 100)).toEqual({ left: 25, width: 50 });
    expect(barGeometry(100, 0, 100)).toEqual({ left: 100, width: 0.15 });
    expect(barGeometry(0, 10, 0)).toEqual({ left: 0, width: 100 });
  });
});
