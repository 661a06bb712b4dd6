import { Session } from '@ikc/kernel';

/** JSON for results and listings: sessions as their specifiers, errors as code and message. */
export function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, (_key, v: unknown) => {
    if (v instanceof Session) return `poe://${v.remote?.kernelName ?? v.kernel.name}/${v.id}`;
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Error) return { code: (v as { code?: string }).code, message: v.message };
    return v;
  });
}

/** A plain text table: a header row, then one row per item, columns padded to fit. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
