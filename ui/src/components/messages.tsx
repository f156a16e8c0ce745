// What a page shows instead of data: an API error in words, an empty state that says how to
// send data, and a loading line.

import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, storedToken, storeToken } from '../api';

/** The OTLP/HTTP endpoint on this host (the server's default port). */
export function otlpEndpoint(): string {
  return `http://${window.location.hostname || 'localhost'}:4318`;
}

/** A copyable OTLP/HTTP JSON export of one span, as the README shows. */
export function otlpCurlExample(endpoint: string): string {
  return `now=$(date +%s%N)
curl -s ${endpoint}/v1/traces -H 'content-type: application/json' -d '{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
    "scopeSpans": [{"spans": [{
      "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
      "name": "POST /checkout", "kind": 2,
      "startTimeUnixNano": "'$now'", "endTimeUnixNano": "'$((now + 25000000))'"
    }]}]
  }]
}'`;
}

export function SendDataHint() {
  const endpoint = otlpEndpoint();
  return (
    <div class="hint">
      <p>
        Point your OpenTelemetry SDKs or Collector at <code>{endpoint}</code> (OTLP/HTTP) or{' '}
        <code>{endpoint.replace(/:4318$/, ':4317')}</code> (OTLP/gRPC), for example with{' '}
        <code>OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}</code>, or send a span by hand:
      </p>
      <pre class="code">{otlpCurlExample(endpoint)}</pre>
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty" data-testid="empty">
      <h3>{title}</h3>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p class="loading">Loading {what}…</p>;
}

function TokenForm() {
  const [token, setToken] = useState(storedToken() ?? '');
  return (
    <form
      class="token-form"
      onSubmit={(event) => {
        event.preventDefault();
        storeToken(token.trim() || null);
        window.location.reload();
      }}
    >
      <label>
        Bearer token{' '}
        <input
          type="password"
          value={token}
          autocomplete="off"
          onInput={(event) => setToken((event.target as HTMLInputElement).value)}
        />
      </label>{' '}
      <button type="submit">Use token</button>
      <small> Kept in this browser's local storage; a token with the read scope is enough to look.</small>
    </form>
  );
}

/** An API failure in words: the status, the server's message and what was asked. */
export function ErrorPanel({ error, what }: { error: unknown; what: string }) {
  const apiError = error instanceof ApiError ? error : null;
  return (
    <div class="error-panel" role="alert" data-testid="error">
      <strong>Could not load {what}.</strong>{' '}
      {apiError ? (
        <>
          {apiError.status ? (
            <span class="error-status">
              HTTP {apiError.status}
              {apiError.statusText ? ` ${apiError.statusText}` : ''}
            </span>
          ) : null}
          {apiError.status ? ': ' : ''}
          <span class="error-detail">{apiError.detail}</span>
          <div class="error-url">
            <code>
              {apiError.method} {apiError.url}
            </code>
          </div>
          {apiError.needsToken ? <TokenForm /> : null}
        </>
      ) : (
        <span class="error-detail">{String(error)}</span>
      )}
    </div>
  );
}
