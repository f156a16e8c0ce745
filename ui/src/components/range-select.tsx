// The relative time range selector shared by the pages.

import { RANGES, type RangeKey } from '../url';

export function RangeSelect({ value, onChange, name = 'range' }: { value: RangeKey; onChange: (range: RangeKey) => void; name?: string }) {
  return (
    <select
      name={name}
      aria-label="Time range"
      value={value}
      onChange={(event) => onChange((event.target as HTMLSelectElement).value as RangeKey)}
    >
      {RANGES.map((range) => (
        <option value={range.key}>{range.label}</option>
      ))}
    </select>
  );
}
