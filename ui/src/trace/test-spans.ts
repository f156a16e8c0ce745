// Spans of the API's shape for the trace view's unit tests (not bundled: only tests import it).

import type { Span } from '../types';

/** The unix-nanosecond time test spans count from: beyond 2^53, as real timestamps are. */
export const BASE = 1_764_000_000_000_000_000n;

/** A span of the API's shape: times in nanoseconds after {@link BASE}. */
export function testSpan(id: string, parent: string | null, start: number, end: number, patch: Partial<Span> = {}): Span {
  return {
    spanId: id,
    parentSpanId: parent,
    depth: 0,
    childSpanIds: [],
    serviceName: 'svc',
    name: `op ${id}`,
    kind: 'server',
    startTimeUnixNano: (BASE + BigInt(start)).toString(),
    endTimeUnixNano: (BASE + BigInt(end)).toString(),
    durationNanos: end - start,
    status: { code: 'unset', message: '' },
    traceState: '',
    flags: 0,
    attributes: [],
    droppedAttributesCount: 0,
    resource: { attributes: [], droppedAttributesCount: 0, schemaUrl: '' },
    scope: { name: '', version: '', attributes: [] },
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    orphan: false,
    clockSkew: null,
    criticalPath: [],
    ...patch,
  };
}
