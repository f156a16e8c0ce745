// The JSON shapes of the API endpoints the UI reads. Field names follow the server
// (query/src/api/native/render.rs, query/src/api/health/render.rs); timestamps are unix
// nanoseconds as decimal strings, durations numbers of nanoseconds.

/** `GET /api/v1/services`. */
export interface ServicesResponse {
  startUnixNano: string;
  endUnixNano: string;
  /** The step between sparkline points, when `sparkline_points` asked for them. */
  sparklineStepSeconds?: number;
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
  /** Request rate and error ratio over the window as `[unix ms, value]` pairs (with `sparkline_points`). */
  sparkline?: { rate: [number, number][]; errorRatio: [number, number][] };
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

/** Requests, rate, errors, error ratio and latency of a node or an edge over the window. */
export interface Figures {
  requests: number;
  rate: number;
  errors: number;
  errorRatio: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
}

/** What a dependency-map node is: a service, or a peer derived from spans. */
export type NodeKind = 'service' | 'user' | 'database' | 'messaging' | 'external';

export interface DependencyNode extends Figures {
  name: string;
  kind: NodeKind;
  status: HealthStatus;
  reasons: string[];
}

/** An edge: `connectionType` is empty for a direct call, else `database`, `messaging_system` or `virtual_node`. */
export interface DependencyEdge extends Figures {
  client: string;
  server: string;
  connectionType: string;
}

/** `GET /api/v1/dependencies`. */
export interface DependenciesResponse {
  startUnixNano: string;
  endUnixNano: string;
  nodes: DependencyNode[];
  edges: DependencyEdge[];
}

/** One operation of a service page. */
export interface Operation extends Figures {
  name: string;
  spanKind: string;
}

/** `GET /api/v1/services/{service}`: series are `[unix ms, value]` pairs. */
export interface ServicePageResponse {
  startUnixNano: string;
  endUnixNano: string;
  service: ServiceHealth;
  stepSeconds: number;
  rateWindowSeconds: number;
  series: {
    rate: [number, number][];
    errorRatio: [number, number][];
    latencyMs: { p50: [number, number][]; p95: [number, number][]; p99: [number, number][] };
  };
  operations: Operation[];
  errorTraces: TraceSummary[];
  /** Edges into the service (its callers). */
  upstream: DependencyEdge[];
  /** Edges out of it (what it calls). */
  downstream: DependencyEdge[];
}

/** A quick health rule (`query/src/alerts/quick.rs`). */
export interface QuickRule {
  kind: 'error_ratio_above' | 'latency_above' | 'request_rate_below' | 'health_check_failing';
  service?: string;
  client?: string;
  server?: string;
  check?: string;
  threshold?: number;
  percentile?: number;
  window?: string;
}

/** A rule as the API takes it: exactly one of `expr` and `quick`. */
export interface RuleDefinition {
  name: string;
  group?: string;
  interval?: string;
  expr?: string;
  quick?: QuickRule;
  for?: string;
  keep_firing_for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  enabled?: boolean;
}

export type AlertState = 'inactive' | 'pending' | 'firing';

/** An alert (`query/src/api/alerts/render.rs`). */
export interface Alert {
  rule: string;
  group: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: AlertState;
  value: number | null;
  active_at_unix_ms: number | null;
  fired_at_unix_ms: number | null;
  resolved_at_unix_ms: number | null;
}

/** A rule with its state. `source` is `file` (read-only) or `api`. */
export interface AlertRule {
  id: string;
  kind: 'alerting' | 'recording';
  source: 'file' | 'api';
  file: string | null;
  group: string;
  interval: string;
  definition: RuleDefinition;
  query: string;
  enabled: boolean;
  state: AlertState;
  health: 'ok' | 'err' | 'unknown';
  last_error: string | null;
  last_evaluation_unix_ms: number | null;
  evaluation_seconds: number;
  alerts: Alert[];
}

export interface RulesResponse {
  rules: AlertRule[];
}

export interface AlertsResponse {
  alerts: Alert[];
}

export interface HistoryEntry {
  rule: string;
  alertname: string;
  labels: Record<string, string> | null;
  state: string;
  value: number | null;
  time_unix_ms: number;
}

export interface HistoryResponse {
  history: HistoryEntry[];
}

/** `POST /api/v1/alerts/rules/test`: the alerts the rule would make now. */
export interface RuleTestResponse {
  query: string;
  time_unix_ms: number;
  alerts: Alert[];
}

/** A log record of `GET /api/v1/logs` (snake_case, as the log API writes it). */
export interface LogRecord {
  time: string;
  time_unix_nano: string;
  observed_time_unix_nano: string | null;
  severity_number: number;
  severity_text: string;
  body: unknown;
  body_type: string;
  attributes: Record<string, unknown>;
  resource: { service_name: string; attributes: Record<string, unknown> };
  scope: { name: string; version: string };
  trace_id: string | null;
  span_id: string | null;
  flags: number;
  event_name: string;
  cursor: string;
}

export interface LogPage {
  records: LogRecord[];
  next_cursor: string | null;
}

export interface LogBucket {
  start_unix_nano: string;
  time: string;
  count: number;
}

/** `GET /api/v1/logs/histogram`. */
export interface LogHistogram {
  start_unix_nano: string;
  step_nanos: string;
  buckets: LogBucket[];
  total: number;
}
