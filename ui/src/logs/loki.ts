// Loki's query answers (query/src/api/loki/render.rs) as the explorer shows them: stream
// entries as list lines (labels as details, the level from a level label, the trace from
// `trace_id`/`span_id`), newest first; the pages of a log query joined by time; and a
// `sum(count_over_time(…))` matrix as the histogram's buckets.

import { millisToNanosText } from '../format';
import type { PromSeries } from '../metrics/promql';
import type { LogBucket, LogHistogram } from '../types';
import { compareNanos, nanosToRfc3339, type LogLine, type ValueGroup } from './lines';
import type { Severity } from './records';

/** Per-entry labels when the answer is categorised (`categorize-labels`). */
export interface LokiEntryLabels {
  structuredMetadata?: Record<string, string>;
  parsed?: Record<string, string>;
}

/** An entry: `[unix ns, line]`, or with its categorised labels as a third element. */
export type LokiEntry = [string, string] | [string, string, LokiEntryLabels];

/** A stream of a log query's answer. */
export interface LokiStream {
  stream: Record<string, string>;
  values: LokiEntry[];
}

/** `data` of a `query_range` answer: streams for a log query, a matrix for a metric query. */
export type LokiData =
  | { resultType: 'streams'; result: LokiStream[]; encodingFlags?: string[] }
  | { resultType: 'matrix'; result: PromSeries[] }
  | { resultType: 'vector' | 'scalar' | 'string'; result: unknown };

/** A `query_range` answer. */
export interface LokiAnswer {
  status: string;
  data: LokiData;
}

/** Level names seen in log labels, by the level they stand for. */
const LEVEL_NAMES: [Severity, string[]][] = [
  ['trace', ['trace', 'trc']],
  ['debug', ['debug', 'dbg']],
  ['info', ['info', 'inf', 'information', 'informational', 'notice']],
  ['warn', ['warn', 'warning', 'wrn']],
  ['error', ['error', 'err', 'eror']],
  ['fatal', ['fatal', 'critical', 'crit', 'panic', 'emerg', 'emergency', 'alert']],
];

/** The labels a level is read from, first found first. */
const LEVEL_LABELS = ['severity_text', 'detected_level', 'level', 'level_extracted', 'severity', 'lvl'];

/**
 * The level a label value names (`ERROR`, `warning`, `Info2`, `crit`…), or `unset` for
 * anything else (`unknown` included). OpenTelemetry's numbered texts (`ERROR2`) count as
 * their level.
 */
export function levelFromText(text: string): Severity | 'unset' {
  const name = text.trim().toLowerCase().replace(/[0-9]+$/, '');
  for (const [level, names] of LEVEL_NAMES) if (names.includes(name)) return level;
  return 'unset';
}

/** The level of an entry's labels: the first of {@link LEVEL_LABELS} naming a level, and the value that said it. */
export function levelFromLabels(labels: Record<string, string>): { level: Severity | 'unset'; label: string } {
  for (const name of LEVEL_LABELS) {
    const value = labels[name];
    if (value === undefined) continue;
    const level = levelFromText(value);
    if (level !== 'unset') return { level, label: value.toUpperCase() };
  }
  return { level: 'unset', label: 'UNSET' };
}

/** A label set as canonical text, for keys: names sorted. */
function labelsKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`)
    .join(',');
}

/** One entry of a stream as a list line. */
function entryLine(stream: Record<string, string>, entry: LokiEntry): LogLine {
  const [time, line] = entry;
  const categories = entry.length === 3 ? entry[2] : undefined;
  const metadata = categories?.structuredMetadata ?? {};
  const parsed = categories?.parsed ?? {};
  const all = { ...stream, ...metadata, ...parsed };
  const { level, label } = levelFromLabels(all);
  const groups: ValueGroup[] = categories
    ? [
        { title: 'Stream labels', values: stream },
        { title: 'Structured metadata', values: metadata },
        { title: 'Parsed labels', values: parsed },
      ]
    : [{ title: 'Labels', values: stream }];
  const traceId = all.trace_id || null;
  const spanId = all.span_id || null;
  return {
    key: `${time} ${labelsKey(stream)} ${labelsKey(metadata)} ${line}`,
    timeUnixNano: time,
    level,
    levelLabel: label,
    service: all.service_name ?? '',
    body: line,
    traceId,
    spanId,
    groups,
    facts: [
      ['Time', nanosToRfc3339(time)],
      ['Level', label],
      ['Trace', traceId ?? '–'],
      ['Span', spanId ?? '–'],
    ],
  };
}

/**
 * A log query's streams as list lines, newest first (entries of different streams
 * interleaved by time). Categorised answers keep stream labels, structured metadata and
 * parsed labels apart; others show the stream's labels as one group. Keys are unique: a
 * repeated entry's key is numbered by its occurrence.
 */
export function streamsToLines(streams: LokiStream[]): LogLine[] {
  const lines = streams.flatMap((stream) => stream.values.map((entry) => entryLine(stream.stream, entry)));
  // Identical entries (a record exported twice) get numbered keys, the same on every page.
  const occurrences = new Map<string, number>();
  for (const line of lines) {
    const seen = occurrences.get(line.key) ?? 0;
    occurrences.set(line.key, seen + 1);
    if (seen) line.key = `${line.key} #${seen}`;
  }
  return lines.sort((a, b) => compareNanos(b.timeUnixNano, a.timeUnixNano));
}

/** Lines so far and where the next (older) page ends, or null when there is none. */
export interface LokiPages {
  lines: LogLine[];
  nextEnd: string | null;
}

/**
 * Adds a page of a backward log query (at most `limit` lines, newest first) to the lines
 * so far. The next page ends just after the oldest line's time (the end is exclusive), so
 * lines sharing that nanosecond are asked again and dropped here as repeats; when a full
 * page brought nothing new (more than `limit` lines in one nanosecond), the next page skips
 * past that time. A page shorter than `limit` was the last.
 */
export function addLokiPage(kept: LogLine[], page: LogLine[], limit: number): LokiPages {
  const seen = new Set(kept.map((line) => line.key));
  const fresh = page.filter((line) => !seen.has(line.key));
  const lines = [...kept, ...fresh];
  if (page.length < limit || page.length === 0) return { lines, nextEnd: null };
  const oldest = page.reduce((min, line) => (compareNanos(line.timeUnixNano, min) < 0 ? line.timeUnixNano : min), page[0]!.timeUnixNano);
  const end = fresh.length ? BigInt(oldest) + 1n : BigInt(oldest);
  return { lines, nextEnd: end.toString() };
}

/**
 * The histogram of a `sum(count_over_time(…[step]))` matrix whose points run every
 * `stepSeconds` from `startSeconds` to `endSeconds`: one bucket per point, starting a step
 * before it (what the point counts), zero where the matrix has no point, and the total.
 */
export function matrixToHistogram(series: PromSeries[], startSeconds: number, endSeconds: number, stepSeconds: number): LogHistogram {
  const counts = new Map<number, number>();
  for (const entry of series) {
    for (const [seconds, value] of entry.values ?? []) {
      const index = Math.round((seconds - startSeconds) / stepSeconds);
      const count = Number(value);
      if (Number.isFinite(count)) counts.set(index, (counts.get(index) ?? 0) + count);
    }
  }
  const steps = Math.floor((endSeconds - startSeconds) / stepSeconds + 1e-6) + 1;
  const buckets: LogBucket[] = [];
  let total = 0;
  for (let index = 0; index < steps; index += 1) {
    const startMs = Math.round((startSeconds + (index - 1) * stepSeconds) * 1000);
    const count = counts.get(index) ?? 0;
    total += count;
    buckets.push({ start_unix_nano: millisToNanosText(startMs), time: new Date(startMs).toISOString(), count });
  }
  const first = buckets[0];
  return {
    start_unix_nano: first ? first.start_unix_nano : '0',
    step_nanos: millisToNanosText(stepSeconds * 1000),
    buckets,
    total,
  };
}
