// The log list: a virtualised grid of one-line rows (time, level, service, body, trace link)
// where only the rows in or near the viewport are in the DOM, so thousands of lines (pages
// added by "more", the live tail) scroll smoothly. A click opens a row's details below it
// (the whole body, its attribute or label groups, its facts); an open row's details are
// measured as they render, and the rows below move down by that much (see window.ts).

import { useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { JSX } from 'preact';
import { formatTimestamp, nanosTextToMillis } from '../format';
import { tracePath } from '../url';
import type { LogLine } from './lines';
import { valueText } from './records';
import { listHeight, rowLayout, rowTop, visibleRows, type TallRow } from './window';
import './logs.css';

/** A row's height in pixels; must match `.log-row` in logs.css and LOG_ROW_HEIGHT in e2e/walk.mjs. */
export const LOG_ROW_HEIGHT = 28;
/** The sticky column header's height in pixels; must match `.log-list-header` in logs.css. */
const HEADER_HEIGHT = 28;
/** The height assumed for details until they are measured. */
const DETAILS_ESTIMATE = 200;

function ValueTable({ values }: { values: Record<string, unknown> }) {
  const entries = Object.entries(values);
  if (entries.length === 0) return <p class="muted small">none</p>;
  return (
    <table class="attributes">
      <tbody>
        {entries.map(([key, value]) => (
          <tr>
            <th>{key}</th>
            <td>{valueText(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** An open row's details, reporting their height whenever it changes (a wider window rewraps them). */
function Details({ line, top, onHeight }: { line: LogLine; top: number; onHeight: (key: string, height: number) => void }) {
  const element = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const node = element.current;
    if (!node) return;
    const measure = () => onHeight(line.key, node.offsetHeight);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(node);
    return () => observer.disconnect();
  }, [line.key]);
  return (
    <div class="log-details" data-testid="log-details" role="row" ref={element} style={{ top: `${top}px` }}>
      <pre class="log-full-body mono">{line.body}</pre>
      <div class="log-details-grid">
        {line.groups.map((group) => (
          <div>
            <h4>{group.title}</h4>
            <ValueTable values={group.values} />
          </div>
        ))}
        <div>
          <h4>Record</h4>
          <dl class="facts">
            {line.facts.map(([name, text]) => (
              <>
                <dt>{name}</dt>
                <dd>{text}</dd>
              </>
            ))}
          </dl>
        </div>
      </div>
    </div>
  );
}

function Row({ line, index, top, open, onToggle }: { line: LogLine; index: number; top: number; open: boolean; onToggle: (key: string) => void }) {
  return (
    <div
      class={`log-row sev-${line.level}${open ? ' open' : ''}`}
      role="row"
      data-key={line.key}
      data-index={index}
      data-severity={line.level}
      style={{ top: `${top}px` }}
      onClick={() => onToggle(line.key)}
    >
      <span class="log-time mono" role="cell">
        {formatTimestamp(nanosTextToMillis(line.timeUnixNano))}
      </span>
      <span role="cell">
        <span class={`severity sev-${line.level}`}>{line.levelLabel}</span>
      </span>
      <span class="log-service" role="cell" title={line.service}>
        {line.service}
      </span>
      <span class="log-body" role="cell">
        <button type="button" class="toggle" aria-expanded={open} aria-label={open ? 'Hide details' : 'Show details'}>
          {open ? '▾' : '▸'}
        </button>{' '}
        <span class="mono">{line.body}</span>
      </span>
      <span role="cell">
        {line.traceId ? (
          <a
            href={tracePath(line.traceId, line.spanId ?? undefined)}
            class="trace-link mono"
            onClick={(event) => event.stopPropagation()}
            title="Open the trace"
          >
            trace
          </a>
        ) : null}
      </span>
    </div>
  );
}

/**
 * A virtualised list of log lines. `compact` caps its height lower (the live tail above
 * the results). Open rows are remembered by key, so they stay open when lines are added.
 */
export function LogList({ lines, testId, compact = false }: { lines: LogLine[]; testId: string; compact?: boolean }) {
  const viewport = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState({ top: 0, height: 600 });
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [heights, setHeights] = useState<ReadonlyMap<string, number>>(new Map());
  /** The row the user just opened, whose details are scrolled into view once measured. */
  const reveal = useRef<string | null>(null);

  useLayoutEffect(() => {
    const element = viewport.current;
    if (!element) return;
    const measure = () => setScroll({ top: element.scrollTop, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const layout = useMemo(() => {
    const tall: TallRow[] = [];
    if (open.size) {
      lines.forEach((line, index) => {
        if (open.has(line.key)) tall.push({ index, extra: heights.get(line.key) ?? DETAILS_ESTIMATE });
      });
    }
    return rowLayout(LOG_ROW_HEIGHT, tall);
  }, [lines, open, heights]);

  // Scrolls just enough to show the opened row's details, never past the row itself.
  useLayoutEffect(() => {
    const element = viewport.current;
    const key = reveal.current;
    const height = key === null ? undefined : heights.get(key);
    if (!element || key === null || height === undefined) return;
    reveal.current = null;
    const index = lines.findIndex((line) => line.key === key);
    if (index < 0) return;
    const top = rowTop(layout, index);
    const detailsEnd = HEADER_HEIGHT + top + LOG_ROW_HEIGHT + height;
    if (detailsEnd > element.scrollTop + element.clientHeight) element.scrollTop = Math.min(detailsEnd - element.clientHeight, top);
  }, [open, heights]);

  const toggle = (key: string) => {
    const next = new Set(open);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    reveal.current = next.has(key) ? key : null;
    setOpen(next);
  };
  const onHeight = (key: string, height: number) =>
    setHeights((known) => (known.get(key) === height ? known : new Map(known).set(key, height)));

  const shown = visibleRows(layout, lines.length, scroll.top - HEADER_HEIGHT, scroll.height - HEADER_HEIGHT);
  const rendered: JSX.Element[] = [];
  for (let index = shown.first; index < shown.last; index += 1) {
    const line = lines[index] as LogLine;
    const top = rowTop(layout, index);
    const isOpen = open.has(line.key);
    rendered.push(<Row key={line.key} line={line} index={index} top={top} open={isOpen} onToggle={toggle} />);
    if (isOpen) rendered.push(<Details key={`${line.key} details`} line={line} top={top + LOG_ROW_HEIGHT} onHeight={onHeight} />);
  }
  return (
    <div class={`log-list${compact ? ' compact' : ''}`} data-testid={testId} data-row-count={lines.length} role="table">
      <div
        class="log-list-viewport"
        ref={viewport}
        onScroll={(event) => {
          const element = event.currentTarget as HTMLDivElement;
          setScroll({ top: element.scrollTop, height: element.clientHeight });
        }}
      >
        <div class="log-list-header" role="row">
          <span role="columnheader">Time</span>
          <span role="columnheader">Level</span>
          <span role="columnheader">Service</span>
          <span role="columnheader">Body</span>
          <span role="columnheader" />
        </div>
        <div class="log-list-rows" style={{ height: `${listHeight(layout, lines.length)}px` }}>
          {rendered}
        </div>
      </div>
    </div>
  );
}
