/**
 * What commands print: aligned tables for people, `--json` for scripts (one JSON document on
 * stdout), and a progress line on stderr only when stderr is a terminal.
 */

/** Prints rows under a header line; numbers are right-aligned, missing values shown as "-". */
export function printTable<T extends object>(rows: readonly T[], columns: readonly (keyof T & string)[], out: NodeJS.WritableStream = process.stdout): void {
  const value = (row: T, c: keyof T) => row[c] as unknown;
  const cells = rows.map((row) => columns.map((c) => (value(row, c) === undefined ? '-' : String(value(row, c)))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const numeric = columns.map((c) => rows.length > 0 && rows.every((row) => typeof value(row, c) === 'number' || value(row, c) === undefined));
  const line = (values: readonly string[]) =>
    values.map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  out.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const r of cells) out.write(`${line(r)}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function formatTime(ms: number | undefined): string | undefined {
  return ms === undefined || ms <= 0 ? undefined : new Date(ms).toISOString();
}

/** A body for a terminal: UTF-8 text when it is printable, else base64 (marked). */
export function bodyText(body: Buffer, max = Infinity): string {
  const text = body.toString('utf8');
  // eslint-disable-next-line no-control-regex
  const printable = !text.includes('\uFFFD') && !/[\u0000-\u0008\u000E-\u001F]/.test(text);
  const shown = printable ? text : `base64:${body.toString('base64')}`;
  return shown.length > max ? `${shown.slice(0, max)}…` : shown;
}

/** "done/total what" redrawn in place on a TTY; silent otherwise (scripts and tests). */
export class Progress {
  private readonly enabled: boolean;
  private lastDraw = 0;

  constructor(
    private readonly total: number,
    private readonly what: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = Boolean(stream.isTTY) && total > 1;
  }

  update(done: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (done < this.total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.stream.write(`\r${done}/${this.total} ${this.what}`);
  }

  finish(): void {
    if (this.enabled) this.stream.write('\n');
  }
}
