// The metrics explorer's logic: what to complete at the cursor of a PromQL expression (a
// metric name, a label name inside `{…}` or `by (…)`, or a label value inside a matcher's
// string, `{job="…`), applying a completion, naming a series for the legend, and turning a
// range query's matrix into chart columns.

import { alignSeries, type Columns, type Points } from '../service/series';

/** A series of a Prometheus query answer. */
export interface PromSeries {
  metric: Record<string, string>;
  values?: [number, string][];
  value?: [number, string];
}

/** A metric or label name being typed. */
export interface NameContext {
  kind: 'metric' | 'label';
  /** What is typed of the word so far. */
  prefix: string;
  /** Where the word starts in the text. */
  start: number;
}

/** A matcher's operator. */
export type MatchOperator = '=' | '!=' | '=~' | '!~';

/** A label value being typed inside a matcher's string: `{job="ap` or `{job=~"api|we`. */
export interface ValueContext {
  kind: 'value';
  /** What is typed of the value so far (for a regular expression, after its last `|`). */
  prefix: string;
  /** Where that starts in the text. */
  start: number;
  /** The label whose values complete it. */
  label: string;
  operator: MatchOperator;
  /** The metric the selector names (before `{`, or its `__name__="…"`), or '' for none. */
  metric: string;
  /** The quote that opened the string. */
  quote: '"' | "'" | '`';
}

export type CompletionContext = NameContext | ValueContext;

const WORD = /[A-Za-z0-9_:]*$/;

/** Where an unclosed string and an unclosed `{` are in `text` (quotes and braces inside strings are skipped). */
function scanOpen(text: string): { string: { quote: ValueContext['quote']; start: number } | null; brace: number } {
  let quote: ValueContext['quote'] | null = null;
  let stringStart = -1;
  const braces: number[] = [];
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (quote) {
      if (char === '\\' && quote !== '`') index += 1;
      else if (char === quote) quote = null;
    } else if (char === '"' || char === "'" || char === '`') {
      quote = char as ValueContext['quote'];
      stringStart = index;
    } else if (char === '{') {
      braces.push(index);
    } else if (char === '}') {
      braces.pop();
    }
  }
  return { string: quote ? { quote, start: stringStart } : null, brace: braces[braces.length - 1] ?? -1 };
}

/** The value context of a string opened at `quoteAt` inside the selector opened at `brace`, or null when the string is not a matcher's value. */
function valueContext(text: string, cursor: number, brace: number, quoteAt: number, quote: ValueContext['quote']): ValueContext | null {
  if (brace < 0 || brace > quoteAt) return null;
  const matchers = text.slice(brace + 1, quoteAt);
  const matcher = /(?:^|[\s,])([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*$/.exec(matchers);
  if (!matcher) return null;
  const label = matcher[1]!;
  const operator = matcher[2] as MatchOperator;
  const named = /([A-Za-z_:][A-Za-z0-9_:]*)\s*$/.exec(text.slice(0, brace))?.[1] ?? '';
  const inner = /(?:^|[\s,])__name__\s*=\s*"([^"\\]*)"/.exec(matchers)?.[1] ?? '';
  const metric = named && !/^(by|without|on|ignoring|group_left|group_right|offset)$/.test(named) ? named : inner;
  let start = quoteAt + 1;
  if (operator === '=~' || operator === '!~') {
    // A regular expression: complete the alternative being typed.
    const bar = text.lastIndexOf('|', cursor - 1);
    if (bar >= start) start = bar + 1;
  }
  return { kind: 'value', prefix: text.slice(start, cursor), start, label, operator, metric, quote };
}

/** What the word ending at `cursor` is, or null where nothing is completed (a number, after a comparison, a string that is no label value). */
export function completionContext(text: string, cursor: number): CompletionContext | null {
  const before = text.slice(0, cursor);
  const open = scanOpen(before);
  if (open.string) return valueContext(text, cursor, open.brace, open.string.start, open.string.quote);
  const prefix = WORD.exec(before)?.[0] ?? '';
  const start = cursor - prefix.length;
  if (/^[0-9]/.test(prefix)) return null;
  const head = before.slice(0, start);
  if (open.brace >= 0) {
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

/** A label value written inside the context's string: regular-expression characters escaped for `=~`/`!~`, then backslashes and the quote for the string. */
export function quoteValue(value: string, context: ValueContext): string {
  const regex = context.operator === '=~' || context.operator === '!~';
  const pattern = regex ? value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : value;
  // A raw string (backquotes) takes the text as it is.
  if (context.quote === '`') return pattern;
  return pattern.replace(/\\/g, '\\\\').replace(new RegExp(context.quote, 'g'), `\\${context.quote}`);
}

/**
 * Replaces the word of `context` with `choice`; returns the text and the cursor after it. A label
 * value replaces the rest of the value (or of the alternative, in a regular expression) too, and
 * the cursor goes after the string's closing quote, which is added when missing.
 */
export function applyCompletion(text: string, cursor: number, context: CompletionContext, choice: string): { text: string; cursor: number } {
  if (context.kind === 'value') return applyValue(text, cursor, context, choice);
  const after = text.slice(cursor).replace(/^[A-Za-z0-9_:]*/, '');
  const next = text.slice(0, context.start) + choice + after;
  return { text: next, cursor: context.start + choice.length };
}

function applyValue(text: string, cursor: number, context: ValueContext, choice: string): { text: string; cursor: number } {
  const written = quoteValue(choice, context);
  const regex = context.operator === '=~' || context.operator === '!~';
  // The rest of the value after the cursor: up to the closing quote, a `|` in a regex, or the line's end.
  let end = cursor;
  while (end < text.length) {
    const char = text[end];
    if (char === context.quote || char === '\n' || (regex && char === '|')) break;
    end += char === '\\' && context.quote !== '`' ? 2 : 1;
  }
  end = Math.min(end, text.length);
  const head = text.slice(0, context.start) + written;
  if (text[end] === '|') return { text: head + text.slice(end), cursor: head.length };
  const closed = text[end] === context.quote;
  const tail = closed ? text.slice(end + 1) : text.slice(end);
  return { text: `${head}${context.quote}${tail}`, cursor: head.length + 1 };
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
