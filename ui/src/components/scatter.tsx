// The trace search's duration-over-time scatter plot, drawn on a canvas: one dot per trace
// (red for traces with errors); hovering names the trace, clicking opens it.

import { useEffect, useRef, useState } from 'preact/hooks';
import { formatDurationNanos, formatTimestamp } from '../format';
import { axisTicks } from '../trace/tree';

export interface ScatterPoint {
  id: string;
  /** Start time, epoch milliseconds. */
  timeMs: number;
  durationNanos: number;
  error: boolean;
  label: string;
}

export interface PlotArea {
  left: number;
  top: number;
  width: number;
  height: number;
  minTimeMs: number;
  maxTimeMs: number;
  maxDurationNanos: number;
}

const MARGIN = { left: 64, right: 16, top: 10, bottom: 24 };
const HIT_RADIUS_PX = 8;

/** The plot's area in a canvas of `width` × `height` CSS pixels and the ranges it shows. */
export function plotArea(points: ScatterPoint[], width: number, height: number): PlotArea {
  let minTimeMs = Infinity;
  let maxTimeMs = -Infinity;
  let maxDurationNanos = 0;
  for (const point of points) {
    minTimeMs = Math.min(minTimeMs, point.timeMs);
    maxTimeMs = Math.max(maxTimeMs, point.timeMs);
    maxDurationNanos = Math.max(maxDurationNanos, point.durationNanos);
  }
  if (!Number.isFinite(minTimeMs)) {
    minTimeMs = 0;
    maxTimeMs = 1;
  }
  if (maxTimeMs - minTimeMs < 1000) {
    // A single instant: widen to a second either side so the dot sits in the middle.
    minTimeMs -= 1000;
    maxTimeMs += 1000;
  } else {
    // Keep the first and last dots off the plot's edges.
    const pad = (maxTimeMs - minTimeMs) * 0.03;
    minTimeMs -= pad;
    maxTimeMs += pad;
  }
  return {
    left: MARGIN.left,
    top: MARGIN.top,
    width: Math.max(1, width - MARGIN.left - MARGIN.right),
    height: Math.max(1, height - MARGIN.top - MARGIN.bottom),
    minTimeMs,
    maxTimeMs,
    maxDurationNanos: maxDurationNanos > 0 ? maxDurationNanos * 1.1 : 1,
  };
}

/** Where a point is drawn, in CSS pixels. */
export function pointPosition(area: PlotArea, point: ScatterPoint): { x: number; y: number } {
  const x = area.left + ((point.timeMs - area.minTimeMs) / (area.maxTimeMs - area.minTimeMs)) * area.width;
  const y = area.top + area.height - (point.durationNanos / area.maxDurationNanos) * area.height;
  return { x, y };
}

/** The point nearest to (x, y) within the hit radius, or null. */
export function nearestPoint(area: PlotArea, points: ScatterPoint[], x: number, y: number): ScatterPoint | null {
  let best: ScatterPoint | null = null;
  let bestDistance = HIT_RADIUS_PX * HIT_RADIUS_PX;
  for (const point of points) {
    const position = pointPosition(area, point);
    const distance = (position.x - x) ** 2 + (position.y - y) ** 2;
    if (distance <= bestDistance) {
      best = point;
      bestDistance = distance;
    }
  }
  return best;
}

function timeLabel(ms: number, spanMs: number): string {
  const text = formatTimestamp(ms);
  return spanMs > 86_400_000 ? text.slice(5, 16) : text.slice(11, spanMs < 60_000 ? 23 : 19);
}

function draw(canvas: HTMLCanvasElement, points: ScatterPoint[], hovered: ScatterPoint | null): PlotArea {
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const area = plotArea(points, width, height);
  const context = canvas.getContext('2d');
  if (!context) return area;
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  context.font = '11px system-ui, sans-serif';
  context.strokeStyle = '#e3e6eb';
  context.fillStyle = '#5c6370';
  context.lineWidth = 1;
  context.textAlign = 'right';
  context.textBaseline = 'middle';
  for (const tick of axisTicks(area.maxDurationNanos, 4)) {
    const y = area.top + area.height - (tick / area.maxDurationNanos) * area.height;
    context.beginPath();
    context.moveTo(area.left, y + 0.5);
    context.lineTo(area.left + area.width, y + 0.5);
    context.stroke();
    context.fillText(formatDurationNanos(tick), area.left - 6, y);
  }
  context.textAlign = 'center';
  context.textBaseline = 'top';
  const spanMs = area.maxTimeMs - area.minTimeMs;
  for (let i = 0; i <= 4; i += 1) {
    const ms = area.minTimeMs + (spanMs * i) / 4;
    const x = area.left + (area.width * i) / 4;
    context.fillText(timeLabel(ms, spanMs), Math.min(Math.max(x, area.left + 30), area.left + area.width - 30), area.top + area.height + 6);
  }
  for (const point of points) {
    const { x, y } = pointPosition(area, point);
    context.beginPath();
    context.arc(x, y, point === hovered ? 6 : 4, 0, Math.PI * 2);
    context.fillStyle = point.error ? 'rgba(214, 48, 49, 0.8)' : 'rgba(47, 111, 222, 0.7)';
    context.fill();
    if (point === hovered) {
      context.strokeStyle = '#1d2430';
      context.stroke();
    }
  }
  return area;
}

export function ScatterPlot({ points, onSelect }: { points: ScatterPoint[]; onSelect: (point: ScatterPoint) => void }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const areaRef = useRef<PlotArea | null>(null);
  const [hovered, setHovered] = useState<{ point: ScatterPoint; x: number; y: number } | null>(null);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const redraw = () => {
      areaRef.current = draw(canvas, points, hovered?.point ?? null);
    };
    redraw();
    const observer = new ResizeObserver(redraw);
    observer.observe(canvas);
    return () => observer.disconnect();
  }, [points, hovered]);

  const locate = (event: MouseEvent) => {
    const canvas = canvasRef.current;
    const area = areaRef.current;
    if (!canvas || !area) return null;
    const rect = canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    const point = nearestPoint(area, points, x, y);
    return point ? { point, x, y } : null;
  };

  return (
    <div class="scatter">
      <canvas
        ref={canvasRef}
        data-testid="scatter"
        aria-label={`Duration over time of ${points.length} traces`}
        style={{ cursor: hovered ? 'pointer' : 'default' }}
        onMouseMove={(event) => {
          const found = locate(event);
          if (found?.point !== hovered?.point) setHovered(found);
        }}
        onMouseLeave={() => setHovered(null)}
        onClick={(event) => {
          const found = locate(event);
          if (found) onSelect(found.point);
        }}
      />
      {hovered ? (
        <div class="scatter-tip" style={{ left: `${hovered.x + 12}px`, top: `${hovered.y}px` }}>
          <strong>{hovered.point.label}</strong>
          <br />
          {formatDurationNanos(hovered.point.durationNanos)} · {formatTimestamp(hovered.point.timeMs)}
          {hovered.point.error ? ' · errors' : ''}
        </div>
      ) : null}
    </div>
  );
}
