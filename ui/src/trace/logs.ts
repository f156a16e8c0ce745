// The trace's logs: `GET /api/v1/traces/{traceId}/logs` (the log records carrying the trace's
// id, oldest first), which of them the panel lists, how many each span has, and their times
// relative to the trace's start.

import { getJson } from '../api';
import { formatDurationNanos } from '../format';
import { valueText } from '../logs/records';
import type { LogRecord } from '../types';
import type { TraceLogsMode } from '../url';
import { offsetNanos } from './tree';

/** `GET /api/v1/traces/{traceId}/logs` (query/src/api/logs/render.rs `TraceLogsJson`). */
export interface TraceLogsResponse {
  trace_id: string;
  /** Oldest first; at most 10,000. */
  records: LogRecord[];
}

/** Fetches the log records correlated with a trace. */
export function fetchTraceLogs(traceId: string, signal?: AbortSignal): Promise<TraceLogsResponse> {
  return getJson<TraceLogsResponse>(`/api/v1/traces/${encodeURIComponent(traceId)}/logs`, signal);
}

/** The span a record names, lowercased as the trace API writes span ids; null when it names none. */
export function recordSpanId(record: LogRecord): string | null {
  return record.span_id ? record.span_id.toLowerCase() : null;
}

/** How many records each span id has. */
export function logCountsBySpan(records: readonly LogRecord[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of records) {
    const spanId = recordSpanId(record);
    if (spanId) counts.set(spanId, (counts.get(spanId) ?? 0) + 1);
  }
  return counts;
}

/**
 * The records the panel lists: all of them, or only the selected span's when the mode is
 * `span` and a span is selected (without a selection `span` lists all).
 */
export function recordsForPanel(records: LogRecord[], mode: TraceLogsMode, selectedSpanId: string | null): LogRecord[] {
  if (mode !== 'span' || !selectedSpanId) return records;
  const wanted = selectedSpanId.toLowerCase();
  return records.filter((record) => recordSpanId(record) === wanted);
}

/** The position of the first listed record of a span, or -1. */
export function firstRecordOfSpan(records: readonly LogRecord[], spanId: string | null): number {
  if (!spanId) return -1;
  const wanted = spanId.toLowerCase();
  return records.findIndex((record) => recordSpanId(record) === wanted);
}

/** A record's time from the trace's start (unix-nanosecond text) as `+12ms`, or `−1.5s` before it. */
export function recordOffsetText(record: LogRecord, traceStartUnixNano: string): string {
  const nanos = offsetNanos(record.time_unix_nano, traceStartUnixNano);
  return nanos < 0 ? `−${formatDurationNanos(-nanos)}` : `+${formatDurationNanos(nanos)}`;
}

/** A record's attributes as `key=value` text, for one line beside its body. */
export function attributesText(attributes: Record<string, unknown>): string {
  return Object.entries(attributes)
    .map(([key, value]) => `${key}=${valueText(value)}`)
    .join(' ');
}
