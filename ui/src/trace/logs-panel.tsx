// The trace's logs beside its waterfall: every record carrying the trace id (oldest first)
// with its time, severity colour, service and body, or only the selected span's. A record
// with a span in the trace selects it (the waterfall scrolls to it); the selected span's
// records are highlighted and scrolled to. The list is virtualised: a trace may have 10,000.

import { useEffect, useRef } from 'preact/hooks';
import { EmptyState, ErrorPanel, Loading } from '../components/messages';
import { formatTimestamp, nanosTextToMillis, shortId } from '../format';
import { severityLabel, severityLevel, valueText } from '../logs/records';
import type { LogRecord } from '../types';
import type { Fetched } from '../use-fetch';
import type { TraceLogsMode } from '../url';
import { serviceColor } from './colors';
import { attributesText, firstRecordOfSpan, recordOffsetText, recordSpanId, recordsForPanel, type TraceLogsResponse } from './logs';
import type { SpanTree } from './tree';
import { useViewport } from './use-viewport';
import { scrollToReveal, visibleWindow } from './virtual';

const LOG_ROW_HEIGHT = 26;

function LogRow({
  record,
  tree,
  top,
  selectedSpanId,
  onSelectSpan,
}: {
  record: LogRecord;
  tree: SpanTree;
  top: number;
  selectedSpanId: string | null;
  onSelectSpan: (spanId: string) => void;
}) {
  const level = severityLevel(record.severity_number);
  const spanId = recordSpanId(record);
  const node = spanId ? tree.byId.get(spanId) : undefined;
  const service = record.resource.service_name;
  const attributes = attributesText(record.attributes);
  const classes = ['trace-log', `sev-${level}`];
  if (node) classes.push('linked');
  if (spanId && spanId === selectedSpanId) classes.push('of-selected');
  const select = node ? () => onSelectSpan(node.span.spanId) : undefined;
  return (
    <div
      class={classes.join(' ')}
      style={{ top: `${top}px`, height: `${LOG_ROW_HEIGHT}px` }}
      data-span-id={spanId ?? ''}
      data-severity={level}
      role={node ? 'button' : undefined}
      tabIndex={node ? 0 : undefined}
      title={node ? `Show span ${node.span.name} (${node.span.spanId}) in the waterfall` : undefined}
      onClick={select}
      onKeyDown={(event) => {
        if (select && (event.key === 'Enter' || event.key === ' ')) {
          event.preventDefault();
          select();
        }
      }}
    >
      <span class="log-time mono" title={record.time}>
        {formatTimestamp(nanosTextToMillis(record.time_unix_nano)).slice(11)}
      </span>
      <span class="log-offset muted small" title="From the trace's start">
        {recordOffsetText(record, tree.startUnixNano)}
      </span>
      <span class={`severity sev-${level}`} title={`${severityLabel(record.severity_number, record.severity_text)} (${record.severity_number})`}>
        {severityLabel(record.severity_number, record.severity_text)}
      </span>
      <span class="log-service" title={service}>
        {/* A service without spans in the trace has no colour of its own. */}
        <span class="swatch" style={{ background: tree.serviceColors.has(service) ? serviceColor(tree.serviceColors.get(service)) : 'var(--line)' }} />
        {service}
      </span>
      <span class="log-body mono" title={attributes ? `${valueText(record.body)}\n${attributes}` : valueText(record.body)}>
        {valueText(record.body)}
        {attributes ? <span class="muted"> {attributes}</span> : null}
      </span>
      <span class="log-span small">
        {node ? (
          <span class="span-name">{node.span.name}</span>
        ) : spanId ? (
          <span class="muted" title={`Span ${spanId} is not in this trace`}>
            span {shortId(spanId)}… not in trace
          </span>
        ) : (
          <span class="muted">no span</span>
        )}
      </span>
    </div>
  );
}

function LogList({
  records,
  tree,
  selectedSpanId,
  onSelectSpan,
}: {
  records: LogRecord[];
  tree: SpanTree;
  selectedSpanId: string | null;
  onSelectSpan: (spanId: string) => void;
}) {
  const list = useRef<HTMLDivElement>(null);
  const { scroll, onScroll } = useViewport(list, 200);
  // Show the selected span's first record when a span is selected (in the waterfall or here).
  useEffect(() => {
    const element = list.current;
    const index = firstRecordOfSpan(records, selectedSpanId);
    if (!element || index < 0) return;
    const target = scrollToReveal(index, LOG_ROW_HEIGHT, element.scrollTop, element.clientHeight);
    if (target !== null) element.scrollTop = target;
  }, [selectedSpanId, records]);
  const shown = visibleWindow(records.length, LOG_ROW_HEIGHT, scroll.top, scroll.height);
  const rows = [];
  for (let i = shown.first; i < shown.last; i += 1) {
    const record = records[i] as LogRecord;
    rows.push(
      <LogRow key={record.cursor} record={record} tree={tree} top={i * LOG_ROW_HEIGHT} selectedSpanId={selectedSpanId} onSelectSpan={onSelectSpan} />,
    );
  }
  return (
    <div class="trace-logs-list" ref={list} onScroll={onScroll} data-testid="trace-log-list" data-count={records.length}>
      <div style={{ height: `${records.length * LOG_ROW_HEIGHT}px`, position: 'relative' }}>{rows}</div>
    </div>
  );
}

/** How records come to belong to a trace, for the empty state. */
function CorrelationHint() {
  return (
    <p class="small">
      Log records are correlated with a trace when they carry its trace id (and the span's id): OTLP log records'{' '}
      <code>traceId</code> and <code>spanId</code>, which OpenTelemetry SDKs and log bridges fill in from the active span.
    </p>
  );
}

export function TraceLogsPanel({
  tree,
  logs,
  mode,
  selectedSpanId,
  onMode,
  onSelectSpan,
}: {
  tree: SpanTree;
  logs: Fetched<TraceLogsResponse>;
  mode: TraceLogsMode;
  selectedSpanId: string | null;
  onMode: (mode: TraceLogsMode) => void;
  onSelectSpan: (spanId: string) => void;
}) {
  const all = logs.data?.records ?? [];
  const selected = selectedSpanId ? selectedSpanId.toLowerCase() : null;
  const listed = recordsForPanel(all, mode, selected);
  const ofSelected = selected ? recordsForPanel(all, 'span', selected).length : 0;
  const narrowed = mode === 'span' && selected !== null;
  return (
    <section class="trace-logs" data-testid="trace-logs" data-loading={logs.loading ? 'true' : 'false'} aria-label="The trace's logs">
      <header>
        <h2>
          Logs{' '}
          <span class="muted small">
            {logs.data ? `${all.length.toLocaleString('en-US')} record${all.length === 1 ? '' : 's'} of this trace` : ''}
          </span>
        </h2>
        {all.length ? (
          <div class="mode-tabs" role="group" aria-label="Which logs">
            <button type="button" data-logs-mode="all" class={narrowed ? '' : 'active'} aria-pressed={!narrowed} onClick={() => onMode('all')}>
              All ({all.length.toLocaleString('en-US')})
            </button>
            <button
              type="button"
              data-logs-mode="span"
              class={narrowed ? 'active' : ''}
              aria-pressed={narrowed}
              disabled={!selected}
              title={selected ? undefined : 'Select a span to see only its logs'}
              onClick={() => onMode('span')}
            >
              Selected span ({ofSelected})
            </button>
          </div>
        ) : null}
      </header>
      {logs.error ? <ErrorPanel error={logs.error} what="the trace's logs" /> : null}
      {!logs.data && !logs.error ? <Loading what="the trace's logs" /> : null}
      {logs.data && all.length === 0 ? (
        <EmptyState title="No logs for this trace.">
          <CorrelationHint />
        </EmptyState>
      ) : null}
      {narrowed && all.length > 0 && listed.length === 0 ? <p class="muted small">The selected span has no log records.</p> : null}
      {listed.length ? <LogList records={listed} tree={tree} selectedSpanId={selected} onSelectSpan={onSelectSpan} /> : null}
    </section>
  );
}
