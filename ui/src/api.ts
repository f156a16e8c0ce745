// Reading the API: JSON over fetch, failures turned into words (status and the server's own
// message), and the bearer token a user entered when authentication is on.

import type { JaegerList, SearchResponse, ServicesResponse, Trace } from './types';

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

/** Fetches JSON from the server; every failure becomes an {@link ApiError}. */
export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = storedToken();
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(url, { headers, signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, '', `cannot reach the server (${String(error)})`, url);
  }
  const body = await response.text();
  if (!response.ok) throw new ApiError(response.status, response.statusText, errorMessage(body), url);
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new ApiError(response.status, response.statusText, `the answer is not JSON: ${body.slice(0, 200)}`, url);
  }
}

export const api = {
  services: (query: string, signal?: AbortSignal) => getJson<ServicesResponse>(`/api/v1/services${query}`, signal),
  searchTraces: (query: string, signal?: AbortSignal) => getJson<SearchResponse>(`/api/v1/traces${query}`, signal),
  trace: (traceId: string, signal?: AbortSignal) =>
    getJson<Trace>(`/api/v1/traces/${encodeURIComponent(traceId)}`, signal),
  serviceNames: async (signal?: AbortSignal) =>
    (await getJson<JaegerList>('/jaeger/api/services', signal)).data ?? [],
  operationNames: async (service: string, signal?: AbortSignal) =>
    (await getJson<JaegerList>(`/jaeger/api/services/${encodeURIComponent(service)}/operations`, signal)).data ?? [],
};
