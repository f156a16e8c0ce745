// Reading the API: JSON over fetch, failures turned into words (status and the server's own
// message), and the bearer token a user entered when authentication is on.

import type {
  AlertRule,
  AlertsResponse,
  DependenciesResponse,
  HistoryResponse,
  RuleDefinition,
  RulesResponse,
  RuleTestResponse,
  JaegerList,
  LogHistogram,
  LogPage,
  SearchResponse,
  ServicePageResponse,
  ServicesResponse,
  Trace,
} from './types';
import type { PromSeries } from './metrics/promql';

/** A Prometheus API answer. */
export interface PromAnswer<T> {
  status: string;
  data?: T;
  warnings?: string[];
}

const TOKEN_KEY = 'sightline.token';

/** A failed API call, with what the server said. */
export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    readonly statusText: string,
    /** The server's message (its `error` field), or what went wrong locally. */
    readonly detail: string,
    readonly url: string,
    /** Each invalid field as `field: message`, when the server listed them (`problems`). */
    readonly problems: string[] = [],
    /** The method of the failed request. */
    readonly method = 'GET',
  ) {
    super(status ? `HTTP ${status}${statusText ? ` ${statusText}` : ''}: ${detail}` : detail);
    this.name = 'ApiError';
  }

  /** Authentication is on and the request lacked a (good enough) token. */
  get needsToken(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

/** Pulls the message out of an error body: native `{"error"}`, Jaeger `{"errors":[{msg}]}`, or text. */
export function errorMessage(body: string): string {
  try {
    const json: unknown = JSON.parse(body);
    if (json && typeof json === 'object') {
      const record = json as { error?: unknown; errors?: { msg?: unknown }[] };
      if (typeof record.error === 'string') return record.error;
      const first = record.errors?.[0]?.msg;
      if (typeof first === 'string') return first;
    }
  } catch {
    // Not JSON: the text itself.
  }
  return body.trim() || 'no message';
}

export function storedToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (private mode): the token lasts as long as the page.
  }
}

/** The `problems` list of a native error body (`["field: message", …]`), or none. */
export function errorProblems(body: string): string[] {
  try {
    const json: unknown = JSON.parse(body);
    const problems = (json as { problems?: unknown } | null)?.problems;
    if (Array.isArray(problems)) return problems.filter((problem): problem is string => typeof problem === 'string');
  } catch {
    // Not JSON: no list.
  }
  return [];
}

/** Fetches JSON from the server; every failure becomes an {@link ApiError}. */
export function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  return requestJson<T>('GET', url, undefined, signal);
}

/**
 * Sends a request (with a JSON body when given) and reads the JSON answer; 204 reads as `null`.
 * `extraHeaders` go along with the usual ones (e.g. Loki's response encoding flags).
 */
export async function requestJson<T>(
  method: string,
  url: string,
  body?: unknown,
  signal?: AbortSignal,
  extraHeaders: Record<string, string> = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
  const token = storedToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, '', `cannot reach the server (${String(error)})`, url, [], method);
  }
  const text = await response.text();
  if (!response.ok) {
    throw new ApiError(response.status, response.statusText, errorMessage(text), url, errorProblems(text), method);
  }
  if (response.status === 204 || text === '') return null as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, response.statusText, `the answer is not JSON: ${text.slice(0, 200)}`, url, [], method);
  }
}

export const api = {
  services: (query: string, signal?: AbortSignal) => getJson<ServicesResponse>(`/api/v1/services${query}`, signal),
  service: (name: string, query: string, signal?: AbortSignal) =>
    getJson<ServicePageResponse>(`/api/v1/services/${encodeURIComponent(name)}${query}`, signal),
  dependencies: (query: string, signal?: AbortSignal) =>
    getJson<DependenciesResponse>(`/api/v1/dependencies${query}`, signal),
  alertRules: (signal?: AbortSignal) => getJson<RulesResponse>('/api/v1/alerts/rules', signal),
  activeAlerts: (signal?: AbortSignal) => getJson<AlertsResponse>('/api/v1/alerts', signal),
  alertHistory: (query: string, signal?: AbortSignal) => getJson<HistoryResponse>(`/api/v1/alerts/history${query}`, signal),
  createRule: (definition: RuleDefinition) => requestJson<AlertRule>('POST', '/api/v1/alerts/rules', definition),
  replaceRule: (id: string, definition: RuleDefinition) =>
    requestJson<AlertRule>('PUT', `/api/v1/alerts/rules/${encodeURIComponent(id)}`, definition),
  testRule: (definition: RuleDefinition) => requestJson<RuleTestResponse>('POST', '/api/v1/alerts/rules/test', definition),
  setRuleEnabled: (id: string, enabled: boolean) =>
    requestJson<AlertRule>('POST', `/api/v1/alerts/rules/${encodeURIComponent(id)}/${enabled ? 'enable' : 'disable'}`),
  deleteRule: (id: string) => requestJson<null>('DELETE', `/api/v1/alerts/rules/${encodeURIComponent(id)}`),
  logs: (query: string, signal?: AbortSignal) => getJson<LogPage>(`/api/v1/logs${query}`, signal),
  logHistogram: (query: string, signal?: AbortSignal) => getJson<LogHistogram>(`/api/v1/logs/histogram${query}`, signal),
  metricNames: async (signal?: AbortSignal) =>
    (await getJson<PromAnswer<string[]>>('/prometheus/api/v1/label/__name__/values', signal)).data ?? [],
  labelNames: async (signal?: AbortSignal) => (await getJson<PromAnswer<string[]>>('/prometheus/api/v1/labels', signal)).data ?? [],
  /** A label's values; with a metric, only those of its series (`match[]`). */
  labelValues: async (label: string, metric: string, signal?: AbortSignal) => {
    const query = metric ? `?${new URLSearchParams([['match[]', metric]]).toString()}` : '';
    const url = `/prometheus/api/v1/label/${encodeURIComponent(label)}/values${query}`;
    return (await getJson<PromAnswer<string[]>>(url, signal)).data ?? [];
  },
  queryRange: (query: string, signal?: AbortSignal) =>
    getJson<PromAnswer<{ resultType: string; result: PromSeries[] }>>(`/prometheus/api/v1/query_range${query}`, signal),
  queryInstant: (query: string, signal?: AbortSignal) =>
    getJson<PromAnswer<{ resultType: string; result: PromSeries[] | [number, string] }>>(`/prometheus/api/v1/query${query}`, signal),
  searchTraces: (query: string, signal?: AbortSignal) => getJson<SearchResponse>(`/api/v1/traces${query}`, signal),
  trace: (traceId: string, signal?: AbortSignal) =>
    getJson<Trace>(`/api/v1/traces/${encodeURIComponent(traceId)}`, signal),
  serviceNames: async (signal?: AbortSignal) =>
    (await getJson<JaegerList>('/jaeger/api/services', signal)).data ?? [],
  operationNames: async (service: string, signal?: AbortSignal) =>
    (await getJson<JaegerList>(`/jaeger/api/services/${encodeURIComponent(service)}/operations`, signal)).data ?? [],
};

/**
 * Opens a server-sent event stream with fetch (so the bearer token is sent) and hands each
 * chunk of text to `onText` until `signal` aborts; failures become an {@link ApiError}.
 */
export async function streamText(url: string, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  const token = storedToken();
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(url, { headers, signal });
  } catch (error) {
    if (signal.aborted) return;
    throw new ApiError(0, '', `cannot reach the server (${String(error)})`, url);
  }
  if (!response.ok || !response.body) {
    throw new ApiError(response.status, response.statusText, errorMessage(await response.text()), url);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onText(value);
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
