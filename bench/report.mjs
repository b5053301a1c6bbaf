// What the benchmarks print: medians and ranges of runs, numbers and ratios, plain-text tables.
// Shared by bench/throughput.mjs and bench/rooms.mjs.

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), all: xs });
export const num = (x, digits = 0) =>
  x === undefined || Number.isNaN(x)
    ? '-'
    : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const ratio = (x) => (x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(2)}x`);

export function table(rows, headers) {
  const keys = Object.keys(headers);
  const width = Object.fromEntries(
    keys.map((k) => [k, Math.max(headers[k].length, ...rows.map((row) => String(row[k] ?? '').length))]),
  );
  const line = (row) =>
    keys
      .map((k) => String(row[k] ?? '').padEnd(width[k]))
      .join(' | ')
      .trimEnd();
  return [line(headers), keys.map((k) => '-'.repeat(width[k])).join('-|-'), ...rows.map(line)].join('\n');
}
