// How numbers read on the page.

/** Bytes per second in B/s, kB/s or MB/s (powers of 1000, as network rates are given). */
export function formatRate(bytesPerSecond: number | undefined): string {
  if (bytesPerSecond === undefined) return '—';
  if (bytesPerSecond < 1000) return `${Math.round(bytesPerSecond)} B/s`;
  if (bytesPerSecond < 1_000_000) return `${(bytesPerSecond / 1000).toFixed(1)} kB/s`;
  return `${(bytesPerSecond / 1_000_000).toFixed(2)} MB/s`;
}
