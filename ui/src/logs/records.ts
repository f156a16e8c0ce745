// The log explorer's logic: severity levels and their colours, bodies and attribute values as
// text, the histogram's bars, and a parser for the live tail's server-sent events (read with
// fetch, so the bearer token goes along, which EventSource cannot send).

import type { LogBucket } from '../types';

/** OpenTelemetry's severity ranges: 1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error, 21–24 fatal. */
export const SEVERITIES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The level of a severity number; 0 (unspecified) reads as `unset`. */
export function severityLevel(severityNumber: number): Severity | 'unset' {
  if (!Number.isFinite(severityNumber) || severityNumber < 1) return 'unset';
  return SEVERITIES[Math.min(5, Math.floor((severityNumber - 1) / 4))] ?? 'fatal';
}

/** What a record's severity is called: its own text, else its level. */
export function severityLabel(severityNumber: number, severityText: string): string {
  return severityText || severityLevel(severityNumber).toUpperCase();
}

/** A body or attribute value as one line of text: strings as they are, the rest as JSON. */
export function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}

export interface Bar {
  x: number;
  width: number;
  height: number;
  count: number;
  startMs: number;
}

/** The histogram's bars in a `width` × `height` box, heights relative to the largest bucket. */
export function histogramBars(buckets: LogBucket[], width: number, height: number): Bar[] {
  if (buckets.length === 0) return [];
  const max = Math.max(1, ...buckets.map((bucket) => bucket.count));
  const slot = width / buckets.length;
  const gap = slot > 4 ? 1 : 0;
  return buckets.map((bucket, index) => ({
    x: index * slot,
    width: Math.max(1, slot - gap),
    height: bucket.count === 0 ? 0 : Math.max(2, (bucket.count / max) * height),
    count: bucket.count,
    startMs: Number(bucket.start_unix_nano.slice(0, -6) || '0'),
  }));
}

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Splits server-sent events out of `buffer` (text received so far): complete events, and the
 * unfinished rest to prepend to the next chunk. Comments (keep-alives) are skipped.
 */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const normalised = buffer.replace(/\r\n?/g, '\n');
  const blocks = normalised.split('\n\n');
  const rest = blocks.pop() ?? '';
  const events: SseEvent[] = [];
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length) events.push({ event, data: data.join('\n') });
  }
  return { events, rest };
}
