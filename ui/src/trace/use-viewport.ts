// The scroll position and height of a scrolling element, kept current for row
// virtualisation: measured on mount and on resize, updated by the element's scroll events.

import type { RefObject } from 'preact';
import { useLayoutEffect, useState } from 'preact/hooks';

export interface ViewportScroll {
  top: number;
  height: number;
}

/**
 * Tracks `ref`'s scroll offset and visible height; pass `onScroll` to the element.
 * `initialHeight` stands in until the first measurement.
 */
export function useViewport(ref: RefObject<HTMLElement | null>, initialHeight: number): { scroll: ViewportScroll; onScroll: () => void } {
  const [scroll, setScroll] = useState<ViewportScroll>({ top: 0, height: initialHeight });
  const measure = () => {
    const element = ref.current;
    if (element) setScroll({ top: element.scrollTop, height: element.clientHeight });
  };
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return { scroll, onScroll: measure };
}
