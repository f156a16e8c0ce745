// The JSON shapes of the API endpoints the UI reads. Field names follow the server
// (query/src/api/native/render.rs, query/src/api/health/render.rs); timestamps are unix
// nanoseconds as decimal strings, durations numbers of nanoseconds.

/** `GET /api/v1/services`. */
export interface ServicesResponse {
  startUnixNano: string;
  endUnixNano: string;
  services: ServiceHealth[];
}

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/** One row of the health table. Latencies in milliseconds, ratios 0 to 1, `null` when unknown. */
export interface ServiceHealth {
  name: string;
  status: HealthStatus;
  reasons: string[];
  measuredOn: 'entry_spans' | 'all_spans';
  requests: number;
  rate: number;
  errors: number;
  errorRatio: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  checks: HealthCheckState[];
  alerts: FiringAlert[];
}

export interface HealthCheckState {
  name: string;
  probe: string;
  instance: string;
  up: boolean | null;
  availability: number | null;
  durationMs: number | null;
}

export interface FiringAlert {
  name: string;
  severity: string;
}

/** `GET /api/v1/traces?...`. */
export interface SearchResponse {
  traces: TraceSummary[];
  limit: number;
}

export interface ServiceSpanCount {
  name: string;
  spanCount: number;
  errorCount: number;
}

export interface TraceSummary {
  traceId: string;
  rootServiceName: string | null;
  rootSpanName: string | null;
  startTimeUnixNano: string;
  durationNanos: number;
  spanCount: number;
  errorCount: number;
  services: ServiceSpanCount[];
}

/** `GET /api/v1/traces/{traceId}`: spans depth first, each root's subtree then each orphan's. */
export interface Trace {
  traceId: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationNanos: number;
  rootServiceName: string | null;
  rootSpanName: string | null;
  spanCount: number;
  errorCount: number;
  orphanCount: number;
  duplicateSpanCount: number;
  services: ServiceSpanCount[];
  warnings: string[];
  spans: Span[];
}

export type TypedValue =
  | { type: 'empty'; value?: null }
  | { type: 'string'; value: string }
  | { type: 'bool'; value: boolean }
  | { type: 'int'; value: number }
  | { type: 'double'; value: number | string }
  | { type: 'bytes'; value: string }
  | { type: 'array'; value: TypedValue[] }
  | { type: 'map'; value: Attribute[] };

export type Attribute = { key: string } & TypedValue;

export interface Segment {
  startTimeUnixNano: string;
  endTimeUnixNano: string;
}

export interface Span {
  spanId: string;
  parentSpanId: string | null;
  depth: number;
  childSpanIds: string[];
  serviceName: string;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationNanos: number;
  status: { code: string; message: string };
  traceState: string;
  flags: number;
  attributes: Attribute[];
  droppedAttributesCount: number;
  resource: { attributes: Attribute[]; droppedAttributesCount: number; schemaUrl: string };
  scope: { name: string; version: string; attributes: Attribute[] };
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
  orphan: boolean;
  clockSkew: {
    startsBeforeParentNanos: number;
    endsAfterParentNanos: number;
    adjustmentNanos: number;
    warning: string;
  } | null;
  criticalPath: Segment[];
}

export interface SpanEvent {
  timeUnixNano: string;
  name: string;
  attributes: Attribute[];
  droppedAttributesCount: number;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  flags: number;
  attributes: Attribute[];
  droppedAttributesCount: number;
}

/** Jaeger's `structuredResponse`, as `/jaeger/api/services` answers. */
export interface JaegerList {
  data: string[] | null;
}
