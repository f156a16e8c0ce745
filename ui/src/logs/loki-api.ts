// Reads `/loki/api/v1/query_range` for the logs explorer. It asks for categorised labels
// (`X-Loki-Response-Encoding-Flags: categorize-labels`, as Grafana does), so stream labels,
// structured metadata and parsed labels come apart. Failures are `ApiError`s like every other
// call's: a query Loki refuses is a 400 whose plain-text message says why.

import { requestJson } from '../api';
import type { LokiAnswer } from './loki';

/** Runs a range query (`query` is the query string, see `lokiRangeQuery`). */
export function lokiQueryRange(query: string, signal?: AbortSignal): Promise<LokiAnswer> {
  return requestJson<LokiAnswer>('GET', `/loki/api/v1/query_range${query}`, undefined, signal, {
    'x-loki-response-encoding-flags': 'categorize-labels',
  });
}
