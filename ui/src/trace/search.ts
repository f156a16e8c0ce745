// Search within a trace: which spans match a text (case-insensitive substring of the
// operation name, the service, the span id, or a span attribute's key or value), and moving
// through the matches. The text each span is searched in is built once per tree, so typing
// into the box over a 10,000-span trace is a scan of prepared strings.

import { valueText } from './details';
import type { SpanNode, SpanTree } from './tree';

/** Between the fields of a span's searchable text: no typed query contains it. */
const SEPARATOR = '\u0000';

const haystacks = new WeakMap<SpanTree, string[]>();

/** The lowercased text a span is searched in: name, service, span id, attribute keys and values. */
export function searchableText(node: SpanNode): string {
  const span = node.span;
  const parts = [span.name, span.serviceName, span.spanId];
  for (const attribute of span.attributes) parts.push(attribute.key, valueText(attribute));
  return parts.join(SEPARATOR).toLowerCase();
}

function treeHaystacks(tree: SpanTree): string[] {
  let found = haystacks.get(tree);
  if (!found) {
    found = tree.nodes.map(searchableText);
    haystacks.set(tree, found);
  }
  return found;
}

/**
 * The spans matching `query` in display order, collapsed ones included (a match is
 * revealed by expanding its ancestors). Blank queries match nothing; surrounding spaces
 * are ignored.
 */
export function findSpans(tree: SpanTree, query: string): SpanNode[] {
  const needle = query.trim().toLowerCase();
  if (needle === '') return [];
  const texts = treeHaystacks(tree);
  const found: SpanNode[] = [];
  for (let i = 0; i < tree.nodes.length; i += 1) {
    if ((texts[i] as string).includes(needle)) found.push(tree.nodes[i] as SpanNode);
  }
  return found;
}

/** The match after (`step` 1) or before (`step` -1) `current`, wrapping around; -1 when there are none. */
export function stepMatch(current: number, count: number, step: 1 | -1): number {
  if (count <= 0) return -1;
  if (current < 0 || current >= count) return step === 1 ? 0 : count - 1;
  return (current + step + count) % count;
}

/** "k of n matches" for the search box; `current` counts from 0, -1 for none. */
export function matchCountText(current: number, count: number): string {
  if (count === 0) return 'no matches';
  const noun = count === 1 ? 'match' : 'matches';
  return current >= 0 ? `${current + 1} of ${count.toLocaleString('en-US')} ${noun}` : `${count.toLocaleString('en-US')} ${noun}`;
}
