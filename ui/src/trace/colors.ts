// Service colours: distinct for the services of one trace (by their sorted position), readable
// as bar fills with dark text beside them.

const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#b07aa1',
  '#76b7b2',
  '#edc948',
  '#9c755f',
  '#ff9da7',
  '#bab0ac',
  '#86bcb6',
  '#d4a6c8',
  '#8cd17d',
];

export function serviceColor(index: number | undefined): string {
  return PALETTE[(index ?? 0) % PALETTE.length] as string;
}
