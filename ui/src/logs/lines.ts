// One shape for every log line the explorer lists, whichever API it came from: a native
// record (`/api/v1/logs`, the live tail) or a Loki stream entry (`/loki/api/v1/query_range`,
// see loki.ts). The list, its rows and their details read only this.

import type { LogRecord } from '../types';
import { severityLabel, severityLevel, valueText, type Severity } from './records';

/** A titled group of values shown in a line's details (attributes, resource, labels). */
export interface ValueGroup {
  title: string;
  values: Record<string, unknown>;
}

/** A log line as the explorer lists it. */
export interface LogLine {
  /** Unique within its list: the native cursor, or the entry's time, stream and line. */
  key: string;
  /** Unix nanoseconds as decimal text. */
  timeUnixNano: string;
  level: Severity | 'unset';
  /** What the severity is called (the record's own text, or its level in capitals). */
  levelLabel: string;
  service: string;
  /** The body (the line) as one string. */
  body: string;
  traceId: string | null;
  spanId: string | null;
  /** The details' tables, in order. */
  groups: ValueGroup[];
  /** The details' facts: name and text, in order. */
  facts: [string, string][];
}

/** A native record (search page or live tail) as a list line. */
export function lineFromRecord(record: LogRecord): LogLine {
  const facts: [string, string][] = [
    ['Time', record.time],
    ['Severity', `${record.severity_text || '–'} (${record.severity_number})`],
    ['Body type', record.body_type],
    ['Scope', `${record.scope.name || '–'} ${record.scope.version}`.trim()],
  ];
  if (record.event_name) facts.push(['Event', record.event_name]);
  facts.push(['Trace', record.trace_id ?? '–'], ['Span', record.span_id ?? '–']);
  return {
    key: record.cursor,
    timeUnixNano: record.time_unix_nano,
    level: severityLevel(record.severity_number),
    levelLabel: severityLabel(record.severity_number, record.severity_text),
    service: record.resource.service_name,
    body: valueText(record.body),
    traceId: record.trace_id,
    spanId: record.span_id,
    groups: [
      { title: 'Attributes', values: record.attributes },
      { title: 'Resource', values: record.resource.attributes },
    ],
    facts,
  };
}

/** Orders unix-nanosecond decimal texts (no leading zeros) without losing precision. */
export function compareNanos(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A unix-nanosecond decimal text as RFC 3339 in UTC with all nine fraction digits, e.g.
 * `2024-05-01T12:00:00.123456789Z`; the text as given when it is not a timestamp.
 */
export function nanosToRfc3339(text: string): string {
  if (!/^\d+$/.test(text)) return text;
  const nanos = BigInt(text);
  const seconds = nanos / 1_000_000_000n;
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return text;
  return `${date.toISOString().slice(0, 19)}.${fraction}Z`;
}

/** A list loaded page by page: the lines so far, the first page's state and the next page's. */
export interface PagedLines {
  lines: LogLine[];
  /** A first page has answered (with lines or none; while a new search loads, the last one's). */
  loaded: boolean;
  /** The first page is loading (a new search, a refresh). */
  loading: boolean;
  /** Why the first page failed, or null. */
  error: unknown;
  /** Another page can be asked for. */
  hasMore: boolean;
  /** The next page is loading. */
  moreLoading: boolean;
  /** Why the last "more" failed, or null. */
  moreError: unknown;
  /** Asks for the next page and adds its lines. */
  loadMore: () => void;
}
