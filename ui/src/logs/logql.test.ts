import { describe, expect, it } from 'vitest';
import { histogramQuery, histogramWindow, isLogql, lokiRangeQuery, querySyntax } from './logql';

describe('querySyntax', () => {
  it('reads a stream selector as a LogQL log query', () => {
    expect(querySyntax('{service_name="checkout"} |= "declined" | json | level="error"')).toBe('logql-log');
    expect(querySyntax('  {app=~"a|b"}')).toBe('logql-log');
    expect(querySyntax('# recent errors\n{app="a"} |= "x"')).toBe('logql-log');
  });

  it('reads an aggregation or range function as a LogQL metric query', () => {
    expect(querySyntax('sum by (service_name) (count_over_time({service_name="checkout"}[1m]))')).toBe('logql-metric');
    expect(querySyntax('count_over_time({a="b"}[5m])')).toBe('logql-metric');
    expect(querySyntax('rate ({a="b"} |= "x" [1m])')).toBe('logql-metric');
    expect(querySyntax('topk(3, sum by (level) (rate({a="b"}[1m])))')).toBe('logql-metric');
    expect(querySyntax('sum without(pod)(rate({a="b"}[1m]))')).toBe('logql-metric');
    expect(querySyntax('(sum(rate({a="b"}[1m])) / 2)')).toBe('logql-metric');
    expect(querySyntax('vector(1)')).toBe('logql-metric');
  });

  it('leaves native searches native, words that name LogQL functions included', () => {
    for (const query of ['', 'zebracorn', '"card declined" AND NOT retry', 'payment.provider:stripe', '(timeout OR refused)', 'sum', 'rate limited', 'count:3']) {
      expect(querySyntax(query)).toBe('native');
    }
    expect(isLogql(querySyntax('zebracorn'))).toBe(false);
    expect(isLogql(querySyntax('{a="b"}'))).toBe(true);
  });
});

describe('Loki requests', () => {
  it('asks for the window, newest first, with a limit and a step', () => {
    const query = lokiRangeQuery('{a="b"}', { startSeconds: 1_700_000_000, endSeconds: 1_700_003_600.5, stepSeconds: 15 }, 1000);
    const params = new URLSearchParams(query);
    expect(Object.fromEntries(params)).toEqual({
      query: '{a="b"}',
      start: '1700000000.000',
      end: '1700003600.500',
      step: '15s',
      limit: '1000',
      direction: 'backward',
    });
    expect(new URLSearchParams(lokiRangeQuery('{a="b"}', { startSeconds: 1, endSeconds: 2, stepSeconds: 1 }, 10, '1700000000000000001')).get('end')).toBe(
      '1700000000000000001',
    );
  });

  it('places the histogram buckets so they end at the window end and cover the range', () => {
    const window = histogramWindow(3_600_000, 3_600_000, 60);
    expect(window).toEqual({ startSeconds: 60, endSeconds: 3600, stepSeconds: 60 });
    // Points every step from start to end: 60 buckets, the first counting (0, 60].
    expect((window.endSeconds - window.startSeconds) / window.stepSeconds + 1).toBe(60);
    // A short range still steps by whole seconds.
    expect(histogramWindow(10_000, 15_000, 60).stepSeconds).toBe(1);
  });

  it('counts every line of the log query, parser errors included, per step', () => {
    expect(histogramQuery(' {a="b"} | json ', 60)).toBe('sum(count_over_time({a="b"} | json\n| drop __error__, __error_details__ [60s]))');
    // A trailing comment ends at its line, so the range still counts.
    expect(histogramQuery('{a="b"} # errors', 5)).toContain('# errors\n| drop');
  });
});
