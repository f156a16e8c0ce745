import { describe, expect, it } from 'vitest';
import {
  formatAgo,
  formatDurationNanos,
  formatMillis,
  formatPercent,
  formatRate,
  millisToNanosText,
  nanosTextToMillis,
} from './format';

describe('formatDurationNanos', () => {
  it.each([
    [0, '0ns'],
    [850, '850ns'],
    [1_000, '1µs'],
    [12_345, '12.3µs'],
    [999_700, '1ms'],
    [1_500_000, '1.5ms'],
    [45_000_000, '45ms'],
    [250_400_000, '250ms'],
    [1_250_000_000, '1.25s'],
    [59_000_000_000, '59s'],
    [125_000_000_000, '2m 5s'],
    [120_000_000_000, '2m'],
    [3_720_000_000_000, '1h 2m'],
    [7_200_000_000_000, '2h'],
  ])('%d ns is %s', (nanos, text) => {
    expect(formatDurationNanos(nanos)).toBe(text);
  });

  it('shows a dash for what cannot be a duration', () => {
    expect(formatDurationNanos(-1)).toBe('–');
    expect(formatDurationNanos(Number.NaN)).toBe('–');
  });

  it('formats the health API milliseconds, null as unknown', () => {
    expect(formatMillis(300)).toBe('300ms');
    expect(formatMillis(0.25)).toBe('250µs');
    expect(formatMillis(null)).toBe('–');
  });
});

describe('rates and ratios', () => {
  it('formats rates per second', () => {
    expect(formatRate(0)).toBe('0/s');
    expect(formatRate(1 / 3)).toBe('0.33/s');
    expect(formatRate(12)).toBe('12/s');
    expect(formatRate(1234)).toBe('1.23k/s');
    expect(formatRate(0.01)).toBe('0.6/min');
    expect(formatRate(6 / 3600)).toBe('0.1/min');
    expect(formatRate(0.0001)).toBe('<0.01/min');
    expect(formatRate(null)).toBe('–');
  });

  it('formats ratios as percentages', () => {
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(0.2)).toBe('20%');
    expect(formatPercent(0.125)).toBe('12.5%');
    expect(formatPercent(0.00001)).toBe('<0.01%');
    expect(formatPercent(null)).toBe('–');
  });
});

describe('timestamps', () => {
  it('converts nanosecond text to milliseconds and back without losing the milliseconds', () => {
    const nanos = '1764000000123456789';
    expect(nanosTextToMillis(nanos)).toBeCloseTo(1764000000123.4568, 3);
    expect(millisToNanosText(1764000000123)).toBe('1764000000123000000');
    expect(nanosTextToMillis('5000000')).toBe(5);
  });

  it('says how long ago', () => {
    const now = 1_000_000_000;
    expect(formatAgo(now - 1_000, now)).toBe('just now');
    expect(formatAgo(now - 42_000, now)).toBe('42s ago');
    expect(formatAgo(now - 5 * 60_000, now)).toBe('5m ago');
    expect(formatAgo(now - 3 * 3_600_000, now)).toBe('3h ago');
    expect(formatAgo(now - 2 * 86_400_000, now)).toBe('2d ago');
  });
});
