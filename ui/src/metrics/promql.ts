// The metrics explorer's logic: what to complete at the cursor of a PromQL expression (a
// metric name, or a label name inside `{…}` or `by (…)`), applying a completion, naming a
// series for the legend, and turning a range query's matrix into chart columns.

import { alignSeries, type Columns, type Points } from '../service/series';

/** A series of a Prometheus query answer. */
export interface PromSeries {
  metric: Record<string, string>;
  values?: [number, string][];
  value?: [number, string];
}

export interface CompletionContext {
  kind: 'metric' | 'label';
  /** What is typed of the word so far. */
  prefix: string;
  /** Where the word starts in the text. */
  start: number;
}

const WORD = /[A-Za-z0-9_:]*$/;

/** What the word ending at `cursor` is, or null where nothing is completed (in a string, a number, after a comparison). */
export function completionContext(text: string, cursor: number): CompletionContext | null {
  const before = text.slice(0, cursor);
  const prefix = WORD.exec(before)?.[0] ?? '';
  const start = cursor - prefix.length;
  // Inside a string literal: an odd number of unescaped quotes before the cursor.
  const quotes = (before.match(/(?<!\\)"/g) ?? []).length;
  if (quotes % 2 === 1) return null;
  if (/^[0-9]/.test(prefix)) return null;
  const head = before.slice(0, start);
  const openBrace = head.lastIndexOf('{');
  const closeBrace = head.lastIndexOf('}');
  if (openBrace > closeBrace) {
    // In a selector: a label name starts the matcher (after `{` or `,`), not its value.
    return /[{,]\s*$/.test(head) ? { kind: 'label', prefix, start } : null;
  }
  const grouping = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)$/.exec(head);
  if (grouping && /(^|,)\s*$/.test(grouping[2] ?? '')) return { kind: 'label', prefix, start };
  if (prefix === '') return null;
  return { kind: 'metric', prefix, start };
}

/** The candidates for a context, those starting with the prefix first, at most `limit`. */
export function completions(context: CompletionContext, names: string[], limit = 12): string[] {
  const prefix = context.prefix.toLowerCase();
  const starts = names.filter((name) => name.toLowerCase().startsWith(prefix) && name !== context.prefix);
  const contains = prefix ? names.filter((name) => !name.toLowerCase().startsWith(prefix) && name.toLowerCase().includes(prefix)) : [];
  return [...starts, ...contains].slice(0, limit);
}

/** Replaces the word of `context` with `choice`; returns the text and the cursor after it. */
export function applyCompletion(text: string, cursor: number, context: CompletionContext, choice: string): { text: string; cursor: number } {
  const after = text.slice(cursor).replace(/^[A-Za-z0-9_:]*/, '');
  const next = text.slice(0, context.start) + choice + after;
  return { text: next, cursor: context.start + choice.length };
}

/** A series' name as Prometheus shows it: `name{a="1", b="2"}`, or `{}` for none. */
export function seriesLabel(metric: Record<string, string>): string {
  const { __name__: name = '', ...labels } = metric;
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}="${value}"`);
  return pairs.length || !name ? `${name}{${pairs.join(', ')}}` : name;
}

/** A range query's series as chart columns (x in unix seconds); values are numbers or gaps. */
export function matrixToColumns(series: PromSeries[]): Columns {
  const points: Points[] = series.map((entry) => (entry.values ?? []).map(([seconds, value]) => [seconds * 1000, Number(value)]));
  return alignSeries(points);
}

/** The step for a range when none is given: about 250 points, at least a second. */
export function autoStepSeconds(rangeMillis: number): number {
  return Math.max(1, Math.ceil(rangeMillis / 1000 / 250));
}
