// The minimap above the waterfall: every visible row's span bar in its service colour on a
// canvas (errors marked in a strip at the left, search matches at the right), and a
// rectangle for the rows the waterfall shows. Clicking or dragging scrolls the waterfall.
//
// The canvas is drawn once per change of the rows, the matches or the width; scrolling only
// moves the rectangle (a positioned element), so a 10,000-span trace scrolls smoothly.

import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { serviceColor } from './colors';
import { minimapBar, minimapLayout, minimapViewport, scrollTopForMinimapY, type MinimapLayout } from './minimap';
import type { SpanNode, SpanTree } from './tree';

/** The minimap's most height, CSS pixels. */
const MAX_HEIGHT = 64;
/** A row's most height on the minimap (a short trace makes a short minimap). */
const MAX_ROW_PX = 3;
/** Width of the error and match strips at either side, CSS pixels. */
const MARK_PX = 4;
const ERROR_COLOR = '#d63031';
const MATCH_COLOR = '#f08c00';

/** Draws the rows' bars and marks into the canvas at the device's pixel ratio. */
function drawMinimap(
  canvas: HTMLCanvasElement,
  tree: SpanTree,
  rows: SpanNode[],
  matches: ReadonlySet<string>,
  cssWidth: number,
  layout: MinimapLayout,
): void {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(cssWidth * ratio));
  const height = Math.max(1, Math.round(layout.height * ratio));
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  if (!context) return;
  context.clearRect(0, 0, width, height);
  const mark = Math.round(MARK_PX * ratio);
  const barsWidth = Math.max(1, width - 2 * (mark + 1));
  const rowPx = layout.rowPx * ratio;
  let fill = '';
  for (let i = 0; i < rows.length; i += 1) {
    const node = rows[i] as SpanNode;
    const color = serviceColor(tree.serviceColors.get(node.span.serviceName));
    if (color !== fill) {
      context.fillStyle = color;
      fill = color;
    }
    const bar = minimapBar(i, node.startNanos, node.durationNanos, tree.durationNanos, barsWidth, rowPx);
    context.fillRect(mark + 1 + bar.x, bar.y, bar.width, bar.height);
  }
  for (let i = 0; i < rows.length; i += 1) {
    const node = rows[i] as SpanNode;
    const matched = matches.has(node.span.spanId);
    if (!node.isError && !matched) continue;
    const line = minimapBar(i, 0, 0, 0, mark, rowPx);
    if (node.isError) {
      context.fillStyle = ERROR_COLOR;
      context.fillRect(0, line.y, mark, line.height);
    }
    if (matched) {
      context.fillStyle = MATCH_COLOR;
      context.fillRect(width - mark, line.y, mark, line.height);
    }
  }
  canvas.dataset.bars = String(rows.length);
}

export function Minimap({
  tree,
  rows,
  matches,
  scrollTop,
  viewportHeight,
  rowHeight,
  onScrollTo,
}: {
  tree: SpanTree;
  rows: SpanNode[];
  /** Span ids matching the search within the trace. */
  matches: ReadonlySet<string>;
  scrollTop: number;
  viewportHeight: number;
  rowHeight: number;
  onScrollTo: (scrollTop: number) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  /** While dragging: the pointer's distance from the rectangle's centre when it was grabbed. */
  const grab = useRef<number | null>(null);
  const [width, setWidth] = useState(0);
  const layout = minimapLayout(rows.length, MAX_HEIGHT, MAX_ROW_PX);

  useLayoutEffect(() => {
    const element = box.current;
    if (!element) return;
    const measure = () => setWidth(element.clientWidth);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    if (canvas.current && width > 0) drawMinimap(canvas.current, tree, rows, matches, width, layout);
  }, [tree, rows, matches, width, layout.height]);

  const rect = minimapViewport(scrollTop, viewportHeight, rowHeight, rows.length, layout.rowPx);
  // Measured from the canvas (inside the box's border), where the rows are drawn.
  const pointerY = (event: PointerEvent) => event.clientY - (canvas.current?.getBoundingClientRect().top ?? 0);
  const scrollToY = (y: number) => onScrollTo(scrollTopForMinimapY(y, layout.rowPx, rowHeight, rows.length, viewportHeight));
  const release = () => {
    grab.current = null;
  };
  return (
    <div
      class="minimap"
      ref={box}
      data-testid="minimap"
      style={{ height: `${layout.height}px` }}
      title={`Overview of ${rows.length.toLocaleString('en-US')} rows: click or drag to scroll the waterfall`}
      onPointerDown={(event) => {
        if (event.button !== 0) return;
        event.preventDefault();
        const y = pointerY(event);
        const centre = rect.y + rect.height / 2;
        grab.current = y >= rect.y && y <= rect.y + rect.height ? y - centre : 0;
        (event.currentTarget as HTMLElement).setPointerCapture(event.pointerId);
        scrollToY(y - grab.current);
      }}
      onPointerMove={(event) => {
        if (grab.current !== null) scrollToY(pointerY(event) - grab.current);
      }}
      onPointerUp={release}
      onPointerCancel={release}
    >
      <canvas ref={canvas} style={{ height: `${layout.height}px` }} />
      <div class="minimap-viewport" data-testid="minimap-viewport" style={{ top: `${rect.y}px`, height: `${rect.height}px` }} />
    </div>
  );
}
