import { describe, expect, it } from 'vitest';
import { scrollToCentre, scrollToReveal, visibleWindow } from './virtual';

describe('visibleWindow', () => {
  it('renders the viewport plus overscan, within bounds', () => {
    expect(visibleWindow(10_000, 26, 0, 520, 10)).toEqual({ first: 0, last: 30 });
    expect(visibleWindow(10_000, 26, 26_000, 520, 10)).toEqual({ first: 990, last: 1030 });
    expect(visibleWindow(10_000, 26, 259_480, 520, 10)).toEqual({ first: 9970, last: 10_000 });
  });

  it('renders a few dozen rows of 10,000 wherever the scroll is', () => {
    for (let top = 0; top < 10_000 * 26; top += 13_337) {
      const { first, last } = visibleWindow(10_000, 26, top, 800);
      expect(last - first).toBeLessThanOrEqual(Math.ceil(800 / 26) + 21);
    }
  });

  it('handles empty lists', () => {
    expect(visibleWindow(0, 26, 0, 500)).toEqual({ first: 0, last: 0 });
  });
});

describe('scrollToReveal', () => {
  it('scrolls only when the row is out of view', () => {
    expect(scrollToReveal(5, 20, 0, 200)).toBeNull();
    expect(scrollToReveal(50, 20, 0, 200)).toBe(820);
    expect(scrollToReveal(2, 20, 400, 200)).toBe(40);
  });
});

describe('scrollToCentre', () => {
  it('centres a row out of view, within the scrollable range', () => {
    expect(scrollToCentre(5, 20, 1_000, 0, 200)).toBeNull();
    expect(scrollToCentre(500, 20, 1_000, 0, 200)).toBe(500 * 20 + 10 - 100);
    expect(scrollToCentre(1, 20, 1_000, 400, 200)).toBe(0);
    expect(scrollToCentre(999, 20, 1_000, 0, 200)).toBe(1_000 * 20 - 200);
  });

  it('treats a row cut by the viewport edge as out of view', () => {
    expect(scrollToCentre(9, 20, 1_000, 0, 190)).toBe(9 * 20 + 10 - 95);
  });
});
