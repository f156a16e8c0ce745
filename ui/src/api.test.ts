import { describe, expect, it } from 'vitest';
import { ApiError, errorMessage } from './api';

describe('API errors in words', () => {
  it('reads the native, Jaeger and plain-text error bodies', () => {
    expect(errorMessage('{"error":"invalid parameter limit: must be between 1 and 1000, got 0"}')).toBe(
      'invalid parameter limit: must be between 1 and 1000, got 0',
    );
    expect(errorMessage('{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}')).toBe('trace not found');
    expect(errorMessage('upstream timed out\n')).toBe('upstream timed out');
    expect(errorMessage('')).toBe('no message');
  });

  it('says the status, the message, and whether a token would help', () => {
    const error = new ApiError(401, 'Unauthorized', 'missing or unknown bearer token', '/api/v1/services');
    expect(error.message).toBe('HTTP 401 Unauthorized: missing or unknown bearer token');
    expect(error.needsToken).toBe(true);
    expect(new ApiError(0, '', 'cannot reach the server', '/x').message).toBe('cannot reach the server');
  });
});
