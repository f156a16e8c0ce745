import { describe, expect, it } from 'vitest';
import { valueText } from './details';

describe('attribute values as text', () => {
  it('keeps every OTLP type readable', () => {
    expect(valueText({ type: 'string', value: '/cart/{id}' })).toBe('/cart/{id}');
    expect(valueText({ type: 'int', value: 500 })).toBe('500');
    expect(valueText({ type: 'bool', value: true })).toBe('true');
    expect(valueText({ type: 'double', value: 'NaN' })).toBe('NaN');
    expect(valueText({ type: 'bytes', value: 'AQID' })).toBe('base64:AQID');
    expect(valueText({ type: 'array', value: [{ type: 'string', value: 'a' }, { type: 'int', value: 2 }] })).toBe('["a", 2]');
    expect(valueText({ type: 'map', value: [{ key: 'id', type: 'int', value: 7 }] })).toBe('{id: 7}');
    expect(valueText({ type: 'empty' })).toBe('');
  });
});
