import { describe, expect, it } from 'vitest';
import { nearestPoint, plotArea, pointPosition, type ScatterPoint } from './scatter';

const point = (id: string, timeMs: number, durationNanos: number): ScatterPoint => ({ id, timeMs, durationNanos, error: false, label: id });

describe('scatter plot geometry', () => {
  const points = [point('early', 10_000, 0), point('late', 20_000, 100), point('middle', 15_000, 50)];
  const area = plotArea(points, 664, 214);

  it('spans the results in time and leaves headroom above the slowest', () => {
    expect(area).toMatchObject({ left: 64, top: 10, width: 584, height: 180, minTimeMs: 9_700, maxTimeMs: 20_300 });
    expect(area.maxDurationNanos).toBeCloseTo(110);
    const first = pointPosition(area, points[0]!);
    expect(first.y).toBe(190);
    expect(first.x).toBeCloseTo(64 + 584 * (300 / 10_600));
    expect(pointPosition(area, points[1]!).x).toBeCloseTo(648 - 584 * (300 / 10_600));
    expect(pointPosition(area, points[2]!).x).toBeCloseTo(64 + 584 / 2);
  });

  it('finds the point under the pointer, or none', () => {
    const { x, y } = pointPosition(area, points[2]!);
    expect(nearestPoint(area, points, x + 3, y - 3)?.id).toBe('middle');
    expect(nearestPoint(area, points, x + 30, y)).toBeNull();
  });

  it('centres a single trace', () => {
    const single = plotArea([point('only', 5_000, 10)], 664, 214);
    expect(pointPosition(single, point('only', 5_000, 10)).x).toBe(64 + 584 / 2);
  });
});
