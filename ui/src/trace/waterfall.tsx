// The waterfall: one row per visible span (name cell indented by depth, bar across the
// trace's time, critical-path segments, errors and orphans marked, search matches and log
// counts shown), virtualised so a 10,000-span trace costs the DOM a few dozen rows, with the
// minimap above it when the rows do not fit.

import type { JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { formatDurationNanos } from '../format';
import { serviceColor } from './colors';
import { Minimap } from './minimap-view';
import { axisTicks, barGeometry, type SpanNode, type SpanTree } from './tree';
import { useViewport } from './use-viewport';
import { scrollToCentre, scrollToReveal, visibleWindow } from './virtual';

/** Height of a waterfall row, CSS pixels (ui/e2e/walk.mjs relies on it). */
export const ROW_HEIGHT = 26;
/** Indentation stops growing past this depth (a deep chain would push names off screen). */
const MAX_INDENT_DEPTH = 24;
const INDENT_PX = 14;

/** What the rows show besides their spans. */
export interface RowMarks {
  /** The span whose details are open. */
  selected: string | null;
  /** Spans whose children are hidden. */
  collapsed: ReadonlySet<string>;
  /** Spans matching the search within the trace. */
  matches: ReadonlySet<string>;
  /** The match the search is at. */
  currentMatch: string | null;
  /** Log records per span id. */
  logCounts: ReadonlyMap<string, number>;
}

/** A span to scroll to (centred); a new `nonce` asks again for the same span. */
export interface Reveal {
  spanId: string;
  nonce: number;
}

/** Where a bar's duration label goes: after the bar, else before it, else inside its end. */
function labelPlacement(bar: { left: number; width: number }): { inside: boolean; style: Record<string, string> } {
  const end = bar.left + bar.width;
  if (end <= 88) return { inside: false, style: { left: `${end + 0.5}%` } };
  if (bar.left >= 12) return { inside: false, style: { right: `${100 - bar.left + 0.5}%` } };
  return { inside: true, style: { right: `${100 - end + 0.5}%` } };
}

function Row({
  node,
  tree,
  top,
  marks,
  onSelect,
  onToggle,
}: {
  node: SpanNode;
  tree: SpanTree;
  top: number;
  marks: RowMarks;
  onSelect: (node: SpanNode) => void;
  onToggle: (node: SpanNode) => void;
}) {
  const span = node.span;
  const color = serviceColor(tree.serviceColors.get(span.serviceName));
  const bar = barGeometry(node.startNanos, node.durationNanos, tree.durationNanos);
  const label = labelPlacement(bar);
  const selected = span.spanId === marks.selected;
  const collapsed = marks.collapsed.has(span.spanId);
  const logCount = marks.logCounts.get(span.spanId) ?? 0;
  const classes = ['row'];
  if (selected) classes.push('selected');
  if (node.isError) classes.push('error');
  if (node.critical.length) classes.push('critical');
  if (node.orphan) classes.push('orphan');
  if (marks.matches.has(span.spanId)) classes.push('match');
  if (span.spanId === marks.currentMatch) classes.push('current-match');
  const indent = Math.min(node.depth, MAX_INDENT_DEPTH) * INDENT_PX;
  return (
    <div
      class={classes.join(' ')}
      style={{ top: `${top}px`, height: `${ROW_HEIGHT}px` }}
      data-span-id={span.spanId}
      role="row"
      aria-selected={selected}
      onClick={() => onSelect(node)}
    >
      <div class="name-cell" style={{ paddingLeft: `${indent + 4}px` }} title={`${span.serviceName}: ${span.name}`}>
        {node.children.length ? (
          <button
            type="button"
            class="toggle"
            aria-label={collapsed ? 'Expand' : 'Collapse'}
            aria-expanded={!collapsed}
            onClick={(event) => {
              event.stopPropagation();
              onToggle(node);
            }}
          >
            {collapsed ? '▸' : '▾'}
          </button>
        ) : (
          <span class="toggle-space" />
        )}
        <span class="swatch" style={{ background: color }} />
        {node.isError ? (
          <span class="error-mark" title={`error${span.status.message ? `: ${span.status.message}` : ''}`}>
            !
          </span>
        ) : null}
        <span class="service">{span.serviceName}</span> <span class="span-name">{span.name}</span>
        {node.depth > MAX_INDENT_DEPTH ? <span class="muted small"> (depth {node.depth})</span> : null}
        {collapsed ? <span class="muted small"> +{node.descendantCount}</span> : null}
        {node.orphan ? <span class="badge orphan">orphan</span> : null}
        {logCount ? (
          <span class="log-mark" title={`${logCount} log record${logCount === 1 ? '' : 's'} of this span`}>
            {logCount} log{logCount === 1 ? '' : 's'}
          </span>
        ) : null}
      </div>
      <div class="bar-cell">
        <div class="bar" style={{ left: `${bar.left}%`, width: `${bar.width}%`, background: color }} />
        {node.critical.map((segment) => {
          const geometry = barGeometry(segment.startNanos, segment.endNanos - segment.startNanos, tree.durationNanos);
          return <div class="critical-segment" style={{ left: `${geometry.left}%`, width: `${geometry.width}%` }} />;
        })}
        <span class={`bar-label ${label.inside ? 'inside' : ''}`} style={label.style}>
          {formatDurationNanos(node.durationNanos)}
        </span>
      </div>
    </div>
  );
}

function Axis({ tree }: { tree: SpanTree }) {
  const ticks = axisTicks(tree.durationNanos, 5);
  return (
    <div class="axis">
      <div class="name-cell axis-name">Service and operation</div>
      <div class="bar-cell">
        {ticks.map((tick) => (
          <span class="tick" style={{ left: `${(tick / (tree.durationNanos || 1)) * 100}%` }}>
            {formatDurationNanos(tick)}
          </span>
        ))}
      </div>
    </div>
  );
}

export function Waterfall({
  tree,
  rows,
  marks,
  reveal,
  onSelect,
  onToggle,
}: {
  tree: SpanTree;
  rows: SpanNode[];
  marks: RowMarks;
  /** The search's current match, scrolled to once it is among the rows. */
  reveal: Reveal | null;
  onSelect: (node: SpanNode) => void;
  onToggle: (node: SpanNode) => void;
}) {
  const viewport = useRef<HTMLDivElement>(null);
  const { scroll, onScroll } = useViewport(viewport, 600);
  const revealed = useRef('');

  // Bring the selected span into view when it is selected from outside the list (a deep link,
  // the details panel's parent link, a log record).
  useEffect(() => {
    const element = viewport.current;
    if (!element || !marks.selected) return;
    const index = rows.findIndex((node) => node.span.spanId === marks.selected);
    if (index < 0) return;
    const target = scrollToReveal(index, ROW_HEIGHT, element.scrollTop, element.clientHeight);
    if (target !== null) element.scrollTop = target;
  }, [marks.selected, rows]);

  // Centre the search's current match; while its ancestors are being expanded it is not
  // among the rows yet, so this waits for the rows that include it.
  useEffect(() => {
    const element = viewport.current;
    if (!element || !reveal) return;
    const key = `${reveal.spanId}#${reveal.nonce}`;
    if (revealed.current === key) return;
    const index = rows.findIndex((node) => node.span.spanId === reveal.spanId);
    if (index < 0) return;
    revealed.current = key;
    const target = scrollToCentre(index, ROW_HEIGHT, rows.length, element.scrollTop, element.clientHeight);
    if (target !== null) element.scrollTop = target;
  }, [reveal?.spanId, reveal?.nonce, rows]);

  const shown = visibleWindow(rows.length, ROW_HEIGHT, scroll.top, scroll.height);
  const rendered: JSX.Element[] = [];
  for (let i = shown.first; i < shown.last; i += 1) {
    const node = rows[i] as SpanNode;
    rendered.push(
      <Row key={node.span.spanId} node={node} tree={tree} top={i * ROW_HEIGHT} marks={marks} onSelect={onSelect} onToggle={onToggle} />,
    );
  }
  return (
    <div class="waterfall" data-testid="waterfall" data-row-count={rows.length}>
      {rows.length * ROW_HEIGHT > scroll.height ? (
        <Minimap
          tree={tree}
          rows={rows}
          matches={marks.matches}
          scrollTop={scroll.top}
          viewportHeight={scroll.height}
          rowHeight={ROW_HEIGHT}
          onScrollTo={(top) => {
            if (viewport.current) viewport.current.scrollTop = top;
          }}
        />
      ) : null}
      <Axis tree={tree} />
      <div class="rows-viewport" ref={viewport} onScroll={onScroll}>
        <div class="rows" role="treegrid" style={{ height: `${rows.length * ROW_HEIGHT}px` }}>
          {rendered}
        </div>
      </div>
    </div>
  );
}
