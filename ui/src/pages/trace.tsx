// Trace view: the waterfall of `GET /api/v1/traces/{traceId}` with a collapsible span tree,
// service colours, the critical path, errors and orphans marked, a minimap when the rows do
// not fit, search within the trace, the selected span's details, and the trace's logs
// (`GET /api/v1/traces/{traceId}/logs`) below the waterfall. The selected span, the
// collapsed spans, the search text and the logs panel live in the query string.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorPanel, Loading } from '../components/messages';
import { formatDurationNanos, formatTimestamp, nanosTextToMillis } from '../format';
import { navigate } from '../router';
import { serviceColor } from '../trace/colors';
import { SpanDetails } from '../trace/details';
import { fetchTraceLogs, logCountsBySpan } from '../trace/logs';
import { TraceLogsPanel } from '../trace/logs-panel';
import { findSpans, stepMatch } from '../trace/search';
import { TraceSearchBox } from '../trace/search-box';
import { ancestors, buildSpanTree, criticalPathNodes, visibleRows, type SpanNode, type SpanTree } from '../trace/tree';
import '../trace/trace.css';
import { Waterfall, type Reveal } from '../trace/waterfall';
import type { Trace } from '../types';
import { useFetch } from '../use-fetch';
import { parseTraceViewState, traceViewStateToQuery, type TraceViewState } from '../url';

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

/** Where the search is: the match index for the text it was chosen for, and how often it was asked to reveal it. */
interface MatchCursor {
  find: string;
  index: number;
  nonce: number;
}

export function TracePage({ traceId, search }: { traceId: string; search: string }) {
  const view = parseTraceViewState(search);
  const { data: trace, error, loading } = useFetch(`trace:${traceId}`, (signal) => api.trace(traceId, signal));
  const logs = useFetch(`trace-logs:${traceId}`, (signal) => fetchTraceLogs(traceId, signal));
  const tree = useMemo(() => (trace ? buildSpanTree(trace) : null), [trace]);
  const collapsedKey = view.collapsed.join(',');
  const collapsed = useMemo(() => new Set(view.collapsed), [collapsedKey]);
  const rows = useMemo(() => (tree ? visibleRows(tree, collapsed) : []), [tree, collapsed]);
  const matches = useMemo(() => (tree ? findSpans(tree, view.find) : []), [tree, view.find]);
  const matchIds = useMemo(() => new Set(matches.map((node) => node.span.spanId)), [matches]);
  const logCounts = useMemo(() => logCountsBySpan(logs.data?.records ?? []), [logs.data]);
  const [cursor, setCursor] = useState<MatchCursor>({ find: '', index: 0, nonce: 0 });
  // A new search text starts at its first match.
  const current = matches.length === 0 ? -1 : cursor.find === view.find ? Math.min(cursor.index, matches.length - 1) : 0;
  const currentMatch = current >= 0 ? (matches[current] ?? null) : null;
  const reveal: Reveal | null = currentMatch ? { spanId: currentMatch.span.spanId, nonce: cursor.find === view.find ? cursor.nonce : 0 } : null;

  const update = (next: TraceViewState) => navigate(`/traces/${encodeURIComponent(traceId)}${traceViewStateToQuery(next)}`, { replace: true });
  /** The collapsed spans without the ancestors of `node`, so it shows. */
  const expandedTo = (node: SpanNode | null | undefined) => {
    const hidden = new Set(node ? ancestors(node).map((ancestor) => ancestor.span.spanId) : []);
    return view.collapsed.filter((id) => !hidden.has(id));
  };
  // Selecting a span hidden under a collapsed ancestor expands the ancestors, so it shows.
  const select = (spanId: string | null) => {
    const node = spanId ? tree?.byId.get(spanId) : undefined;
    update({ ...view, span: spanId, collapsed: expandedTo(node) });
  };
  const toggle = (node: SpanNode) => {
    const id = node.span.spanId;
    const next = view.collapsed.includes(id) ? view.collapsed.filter((other) => other !== id) : [...view.collapsed, id];
    update({ ...view, collapsed: next });
  };
  // Moving to a match expands its ancestors; the waterfall then centres it.
  const step = (direction: 1 | -1) => {
    const index = stepMatch(current, matches.length, direction);
    if (index < 0) return;
    setCursor({ find: view.find, index, nonce: cursor.nonce + 1 });
    const next = expandedTo(matches[index]);
    if (next.length !== view.collapsed.length) update({ ...view, collapsed: next });
  };
  // A new search text's first match is revealed the same way, once the trace is there.
  useEffect(() => {
    if (!currentMatch || cursor.find === view.find) return;
    setCursor({ find: view.find, index: 0, nonce: 0 });
    const next = expandedTo(currentMatch);
    if (next.length !== view.collapsed.length) update({ ...view, collapsed: next });
  }, [view.find, currentMatch]);

  if (error) return <ErrorPanel error={error} what={`trace ${traceId}`} />;
  if (!trace || !tree) return loading ? <Loading what={`trace ${traceId}`} /> : null;
  const selected = view.span ? (tree.byId.get(view.span) ?? null) : null;
  const parents = tree.nodes.filter((node) => node.children.length > 0);
  const logCount = logs.data?.records.length;
  return (
    <section class="trace-page">
      <TraceHeader trace={trace} tree={tree} />
      <div class="trace-toolbar">
        <button type="button" onClick={() => update({ ...view, collapsed: [] })} disabled={view.collapsed.length === 0}>
          Expand all
        </button>
        <button
          type="button"
          onClick={() => update({ ...view, collapsed: tree.roots.filter((root) => root.children.length).map((root) => root.span.spanId) })}
          disabled={parents.length === 0}
        >
          Collapse all
        </button>
        <span class="muted" data-testid="visible-rows">
          {rows.length.toLocaleString('en-US')} of {tree.nodes.length.toLocaleString('en-US')} spans shown
        </span>
        <TraceSearchBox text={view.find} current={current} count={matches.length} onText={(find) => update({ ...view, find })} onStep={step} />
        <button
          type="button"
          data-testid="logs-toggle"
          class={view.logs === 'off' ? '' : 'active'}
          aria-pressed={view.logs !== 'off'}
          onClick={() => update({ ...view, logs: view.logs === 'off' ? 'all' : 'off' })}
        >
          Logs{logCount === undefined ? '' : ` (${logCount.toLocaleString('en-US')})`}
        </button>
        {view.span && !selected ? <span class="warning"> Span {view.span} is not in this trace.</span> : null}
      </div>
      <div class={`trace-body ${selected ? 'with-details' : ''}`}>
        <div class={`trace-main ${view.logs === 'off' ? '' : 'with-logs'}`}>
          <Waterfall
            tree={tree}
            rows={rows}
            marks={{ selected: view.span, collapsed, matches: matchIds, currentMatch: currentMatch?.span.spanId ?? null, logCounts }}
            reveal={reveal}
            onSelect={(node) => {
              const index = matches.indexOf(node);
              if (index >= 0) setCursor({ find: view.find, index, nonce: cursor.nonce });
              select(node.span.spanId === view.span ? null : node.span.spanId);
            }}
            onToggle={toggle}
          />
          {view.logs === 'off' ? null : (
            <TraceLogsPanel
              tree={tree}
              logs={logs}
              mode={view.logs}
              selectedSpanId={selected ? selected.span.spanId : null}
              onMode={(logsMode) => update({ ...view, logs: logsMode })}
              onSelectSpan={(spanId) => select(spanId)}
            />
          )}
        </div>
        {selected ? (
          <SpanDetails node={selected} tree={tree} traceId={trace.traceId} onSelect={select} onClose={() => select(null)} />
        ) : null}
      </div>
    </section>
  );
}
