// Number, duration and time formatting shared by every page.

const NANOS_PER_MICRO = 1_000;
const NANOS_PER_MILLI = 1_000_000;
const NANOS_PER_SECOND = 1_000_000_000;

/** Three significant digits, without trailing zeros: 12.3, 1.5, 250. */
function significant(value: number): string {
  if (value >= 100) return String(Math.round(value));
  if (value >= 10) return trimZeros(value.toFixed(1));
  return trimZeros(value.toFixed(2));
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** Formats a duration in nanoseconds: `850ns`, `12.3µs`, `45ms`, `1.25s`, `2m 5s`, `1h 2m`. */
export function formatDurationNanos(nanos: number): string {
  if (!Number.isFinite(nanos) || nanos < 0) return '–';
  if (nanos < NANOS_PER_MICRO) return `${Math.round(nanos)}ns`;
  if (nanos < NANOS_PER_MILLI) return unitOrNext(nanos / NANOS_PER_MICRO, 'µs', nanos / NANOS_PER_MILLI, 'ms');
  if (nanos < NANOS_PER_SECOND) return unitOrNext(nanos / NANOS_PER_MILLI, 'ms', nanos / NANOS_PER_SECOND, 's');
  const seconds = nanos / NANOS_PER_SECOND;
  if (seconds < 60) return `${significant(seconds)}s`;
  const totalSeconds = Math.round(seconds);
  if (totalSeconds < 3600) {
    const minutes = Math.floor(totalSeconds / 60);
    const rest = totalSeconds % 60;
    return rest === 0 ? `${minutes}m` : `${minutes}m ${rest}s`;
  }
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  return minutes === 0 ? `${hours}h` : `${hours}h ${minutes}m`;
}

/** `999.7µs` rounds to `1000µs`; show it as `1ms` instead. */
function unitOrNext(value: number, unit: string, next: number, nextUnit: string): string {
  const text = significant(value);
  return Number(text) >= 1000 ? `${significant(next)}${nextUnit}` : `${text}${unit}`;
}

/** Formats milliseconds (the health API's latency unit); `null` (unknown) as a dash. */
export function formatMillis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  return formatDurationNanos(ms * NANOS_PER_MILLI);
}

/** Formats a rate per second: `1.2k/s`, `12/s`, `0.33/s`; slow rates per minute: `0.6/min`. */
export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return '–';
  if (perSecond === 0) return '0/s';
  if (perSecond >= 1000) return `${significant(perSecond / 1000)}k/s`;
  if (perSecond >= 0.1) return `${significant(perSecond)}/s`;
  const perMinute = perSecond * 60;
  return perMinute < 0.01 ? '<0.01/min' : `${significant(perMinute)}/min`;
}

/** Formats a ratio (0 to 1) as a percentage: `0%`, `0.05%`, `12.5%`; `null` as a dash. */
export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '–';
  const percent = ratio * 100;
  if (percent === 0) return '0%';
  if (percent < 0.01) return '<0.01%';
  return `${significant(percent)}%`;
}

/** Converts a unix-nanosecond decimal string (the API's timestamps) to milliseconds. */
export function nanosTextToMillis(text: string): number {
  // Exact enough for display: the milliseconds part of a nanosecond timestamp fits a double.
  return text.length > 6 ? Number(text.slice(0, -6)) + Number(text.slice(-6)) / 1e6 : Number(text) / 1e6;
}

/** Converts epoch milliseconds to a unix-nanosecond decimal string for the API. */
export function millisToNanosText(ms: number): string {
  return (BigInt(Math.floor(ms)) * 1_000_000n).toString();
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** Formats a time as local `YYYY-MM-DD HH:MM:SS.mmm`. */
export function formatTimestamp(ms: number): string {
  const date = new Date(ms);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
  );
}

/** Formats how long ago `ms` was, relative to `nowMs`: `just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function formatAgo(ms: number, nowMs: number): string {
  const seconds = Math.round((nowMs - ms) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** Shortens a trace or span id for lists: the first 8 hex digits. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}
