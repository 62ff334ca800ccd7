/** Plain-text tables for the console and the results file. */

export function table(headers: string[], rows: (string | number | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => cells.every((r) => /^[-+]?[\d.,]+[a-z%x]*$|^-$/.test(r[i] ?? '-')));
  const fmt = (r: string[]) => '| ' + r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ') + ' |';
  return [fmt(headers), '| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |', ...cells.map(fmt)].join('\n');
}

export const mb = (bytes: number | undefined) => (bytes === undefined ? undefined : (bytes / 1e6).toFixed(1));
export const s1 = (x: number | undefined) => (x === undefined ? undefined : x.toFixed(1));
export const s2 = (x: number | undefined) => (x === undefined ? undefined : x.toFixed(2));
export const ratio = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? undefined : `${x.toFixed(2)}x`);

export interface Target {
  name: string;
  /** e.g. "<= 1.0x pg_dump" */
  target: string;
  value: number;
  /** As printed after the value: 'x' (the default) for ratios, ' MB' for memory. */
  unit?: string;
  limit: number;
  aim?: number;
  pass: boolean;
  note?: string;
}

export function target(name: string, value: number, limit: number, unit: string, aim?: number, note?: string): Target {
  return {
    name,
    target: `<= ${limit}${unit}${aim !== undefined ? ` (aim ${aim}${unit})` : ''}`,
    value: Math.round(value * 1000) / 1000,
    unit,
    limit,
    ...(aim !== undefined ? { aim } : {}),
    pass: value <= limit,
    ...(note ? { note } : {}),
  };
}
