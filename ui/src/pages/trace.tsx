// Trace view: the waterfall of `GET /api/v1/traces/{traceId}` with a collapsible span tree,
// service colours, the critical path, errors and orphans marked, and the selected span's
// details. The selected span and the collapsed spans live in the query string.

import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorPanel, Loading } from '../components/messages';
import { formatDurationNanos, formatTimestamp, nanosTextToMillis } from '../format';
import { navigate } from '../router';
import { serviceColor } from '../trace/colors';
import { SpanDetails } from '../trace/details';
import {
  ancestors,
  axisTicks,
  barGeometry,
  buildSpanTree,
  criticalPathNodes,
  visibleRows,
  type SpanNode,
  type SpanTree,
} from '../trace/tree';
import { scrollToReveal, visibleWindow } from '../trace/virtual';
import type { Trace } from '../types';
import { useFetch } from '../use-fetch';
import { parseTraceViewState, traceViewStateToQuery, type TraceViewState } from '../url';

const ROW_HEIGHT = 26;
/** Indentation stops growing past this depth (a deep chain would push names off screen). */
const MAX_INDENT_DEPTH = 24;
const INDENT_PX = 14;

function TraceHeader({ trace, tree }: { trace: Trace; tree: SpanTree }) {
  const critical = criticalPathNodes(tree).length;
  return (
    <header class="trace-header">
      <h1>
        {trace.rootServiceName ?? <em>no root span</em>}
        {trace.rootSpanName ? `: ${trace.rootSpanName}` : ''}
      </h1>
      <div class="trace-facts">
        <span class="mono" title="Trace id">
          {trace.traceId}
        </span>
        <span>{formatTimestamp(nanosTextToMillis(trace.startTimeUnixNano))}</span>
        <span>
          Duration <strong>{formatDurationNanos(trace.durationNanos)}</strong>
        </span>
        <span data-testid="span-count">
          <strong>{trace.spanCount.toLocaleString('en-US')}</strong> spans
        </span>
        <span class={trace.errorCount > 0 ? 'bad' : ''} data-testid="error-count">
          <strong>{trace.errorCount}</strong> {trace.errorCount === 1 ? 'error' : 'errors'}
        </span>
        {trace.orphanCount > 0 ? (
          <span class="badge orphan" title="Spans whose parent is not in the trace">
            {trace.orphanCount} orphan{trace.orphanCount === 1 ? '' : 's'}
          </span>
        ) : null}
        {trace.duplicateSpanCount > 0 ? <span class="muted">{trace.duplicateSpanCount} duplicate copies dropped</span> : null}
        <span class="muted" title="Spans with time on the critical path">
          {critical.toLocaleString('en-US')} on the critical path
        </span>
        <a href={`/api/v1/traces/${trace.traceId}`} class="muted">
          JSON
        </a>
      </div>
      <div class="legend">
        {trace.services.map((service) => (
          <span class="legend-item">
            <span class="swatch" style={{ background: serviceColor(tree.serviceColors.get(service.name)) }} />
            {service.name} <span class="muted">{service.spanCount}</span>
            {service.errorCount ? (
              <span class="bad">
                {' '}
                ({service.errorCount} {service.errorCount === 1 ? 'error' : 'errors'})
              </span>
            ) : null}
          </span>
        ))}
        <span class="legend-item">
          <span class="critical-sample" /> critical path
        </span>
      </div>
      {trace.warnings.length ? (
        <ul class="warnings">
          {trace.warnings.map((warning) => (
            <li>{warning}</li>
          ))}
        </ul>
      ) : null}
    </header>
  );
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
  selected,
  collapsed,
  onSelect,
  onToggle,
}: {
  node: SpanNode;
  tree: SpanTree;
  top: number;
  selected: boolean;
  collapsed: boolean;
  onSelect: (node: SpanNode) => void;
  onToggle: (node: SpanNode) => void;
}) {
  const span = node.span;
  const color = serviceColor(tree.serviceColors.get(span.serviceName));
  const bar = barGeometry(node.startNanos, node.durationNanos, tree.durationNanos);
  const label = labelPlacement(bar);
  const classes = ['row'];
  if (selected) classes.push('selected');
  if (node.isError) classes.push('error');
  if (node.critical.length) classes.push('critical');
  if (node.orphan) classes.push('orphan');
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

function Waterfall({
  tree,
  rows,
  view,
  onSelect,
  onToggle,
}: {
  tree: SpanTree;
  rows: SpanNode[];
  view: TraceViewState;
  onSelect: (node: SpanNode) => void;
  onToggle: (node: SpanNode) => void;
}) {
  const viewport = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState({ top: 0, height: 600 });
  const collapsed = useMemo(() => new Set(view.collapsed), [view.collapsed.join(',')]);

  useLayoutEffect(() => {
    const element = viewport.current;
    if (!element) return;
    const measure = () => setScroll({ top: element.scrollTop, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  // Bring the selected span into view when it is selected from outside the list (a deep link,
  // the details panel's parent link).
  useEffect(() => {
    const element = viewport.current;
    if (!element || !view.span) return;
    const index = rows.findIndex((node) => node.span.spanId === view.span);
    if (index < 0) return;
    const target = scrollToReveal(index, ROW_HEIGHT, element.scrollTop, element.clientHeight);
    if (target !== null) element.scrollTop = target;
  }, [view.span, rows]);

  const shown = visibleWindow(rows.length, ROW_HEIGHT, scroll.top, scroll.height);
  const rendered: JSX.Element[] = [];
  for (let i = shown.first; i < shown.last; i += 1) {
    const node = rows[i] as SpanNode;
    rendered.push(
      <Row
        key={node.span.spanId}
        node={node}
        tree={tree}
        top={i * ROW_HEIGHT}
        selected={node.span.spanId === view.span}
        collapsed={collapsed.has(node.span.spanId)}
        onSelect={onSelect}
        onToggle={onToggle}
      />,
    );
  }
  return (
    <div class="waterfall" data-testid="waterfall" data-row-count={rows.length}>
      <Axis tree={tree} />
      <div
        class="rows-viewport"
        ref={viewport}
        onScroll={(event) => {
          const element = event.currentTarget as HTMLDivElement;
          setScroll({ top: element.scrollTop, height: element.clientHeight });
        }}
      >
        <div class="rows" role="treegrid" style={{ height: `${rows.length * ROW_HEIGHT}px` }}>
          {rendered}
        </div>
      </div>
    </div>
  );
}

export function TracePage({ traceId, search }: { traceId: string; search: string }) {
  const view = parseTraceViewState(search);
  const { data: trace, error, loading } = useFetch(`trace:${traceId}`, (signal) => api.trace(traceId, signal));
  const tree = useMemo(() => (trace ? buildSpanTree(trace) : null), [trace]);
  const collapsedKey = view.collapsed.join(',');
  const rows = useMemo(() => (tree ? visibleRows(tree, new Set(view.collapsed)) : []), [tree, collapsedKey]);

  const update = (next: TraceViewState) => navigate(`/traces/${encodeURIComponent(traceId)}${traceViewStateToQuery(next)}`, { replace: true });
  // Selecting a span hidden under a collapsed ancestor expands the ancestors, so it shows.
  const select = (spanId: string | null) => {
    const node = spanId ? tree?.byId.get(spanId) : undefined;
    const hidden = new Set(node ? ancestors(node).map((ancestor) => ancestor.span.spanId) : []);
    update({ span: spanId, collapsed: view.collapsed.filter((id) => !hidden.has(id)) });
  };
  const toggle = (node: SpanNode) => {
    const id = node.span.spanId;
    const collapsed = view.collapsed.includes(id) ? view.collapsed.filter((other) => other !== id) : [...view.collapsed, id];
    update({ ...view, collapsed });
  };

  if (error) return <ErrorPanel error={error} what={`trace ${traceId}`} />;
  if (!trace || !tree) return loading ? <Loading what={`trace ${traceId}`} /> : null;
  const selected = view.span ? tree.byId.get(view.span) ?? null : null;
  const parents = tree.nodes.filter((node) => node.children.length > 0);
  return (
    <section class="trace-page">
      <TraceHeader trace={trace} tree={tree} />
      <div class="trace-toolbar">
        <button type="button" onClick={() => update({ ...view, collapsed: [] })} disabled={view.collapsed.length === 0}>
          Expand all
        </button>{' '}
        <button
          type="button"
          onClick={() => update({ ...view, collapsed: tree.roots.filter((root) => root.children.length).map((root) => root.span.spanId) })}
          disabled={parents.length === 0}
        >
          Collapse all
        </button>{' '}
        <span class="muted" data-testid="visible-rows">
          {rows.length.toLocaleString('en-US')} of {tree.nodes.length.toLocaleString('en-US')} spans shown
        </span>
        {view.span && !selected ? <span class="warning"> Span {view.span} is not in this trace.</span> : null}
      </div>
      <div class={`trace-body ${selected ? 'with-details' : ''}`}>
        <Waterfall
          tree={tree}
          rows={rows}
          view={view}
          onSelect={(node) => select(node.span.spanId === view.span ? null : node.span.spanId)}
          onToggle={toggle}
        />
        {selected ? (
          <SpanDetails node={selected} tree={tree} traceId={trace.traceId} onSelect={select} onClose={() => select(null)} />
        ) : null}
      </div>
    </section>
  );
}
