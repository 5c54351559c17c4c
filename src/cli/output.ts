import { Transform } from 'node:stream';

export interface Answer { status: number; body: unknown }

type Row = Record<string, string>;

const CELL = 60;

/** One value in one line: a list of plain values joined by commas, nested objects as compact JSON, long texts cut. */
function cell(value: unknown): string {
  const plain = (item: unknown) => item === null || typeof item !== 'object';
  const text = value === null || value === undefined ? ''
    : Array.isArray(value) && value.every(plain) ? value.join(', ')
      : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.length > CELL ? `${text.slice(0, CELL - 1)}…` : text;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** An object as name → text, nested objects as dotted names (task.id). */
function flatten(value: Record<string, unknown>, prefix = ''): Row {
  return Object.fromEntries(Object.entries(value).flatMap(([name, inner]) => (isRecord(inner)
    ? Object.entries(flatten(inner, `${prefix}${name}.`))
    : [[`${prefix}${name}`, cell(inner)]])));
}

/** Rows under a header line, each column as wide as its widest text. */
export function table(rows: Row[]): string {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))].filter((column) => rows.some((row) => row[column]));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (texts: string[]) => texts.map((text, i) => text.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((row) => line(columns.map((c) => row[c] ?? '')))].join('\n');
}

/** Names and values in two aligned columns. */
function pairs(row: Row): string {
  const width = Math.max(0, ...Object.keys(row).map((name) => name.length));
  return Object.entries(row).map(([name, text]) => `${`${name}:`.padEnd(width + 2)}${text}`.trimEnd()).join('\n');
}

const isRows = (value: unknown): value is Record<string, unknown>[] => Array.isArray(value) && value.length > 0 && value.every(isRecord);

/**
 * Any answer as a person reads it: a list of objects as a table, an object as names and values with each list of
 * objects in it as a table of its own, and a list of plain values one a line.
 */
export function readable(body: unknown): string {
  if (isRows(body)) return table(body.map((item) => flatten(item)));
  if (Array.isArray(body)) return body.length === 0 ? '(none)' : body.map(cell).join('\n');
  if (!isRecord(body)) return cell(body);
  const scalars: Record<string, unknown> = {};
  const blocks: string[] = [];
  for (const [name, value] of Object.entries(body)) {
    if (Array.isArray(value)) blocks.push(value.length === 0 ? `${name}: none` : `${name} (${value.length}):\n${indent(readable(value))}`);
    else scalars[name] = value;
  }
  return [Object.keys(scalars).length > 0 ? pairs(flatten(scalars)) : '', ...blocks].filter(Boolean).join('\n\n');
}

const indent = (text: string) => text.split('\n').map((line) => `  ${line}`).join('\n');

/** What a command prints: readable tables and sentences, or (--json) the server's answer as it came. */
export class Output {
  readonly json: boolean;

  constructor(json: boolean) {
    this.json = json;
  }

  /**
   * Prints an answer; a problem document becomes one line on stderr and exit code 1. `view` turns a successful
   * answer into what a person reads (a sentence, or a value shown as `readable` shows it).
   */
  print(answer: Answer, view: (body: any) => unknown = (body) => body): number {
    if (answer.status >= 400) {
      // A problem document's detail, or the live API's {error} (seed 001's form).
      const body = answer.body as { detail?: string; error?: string } | null;
      const detail = body?.detail ?? body?.error ?? JSON.stringify(answer.body);
      process.stderr.write(`error ${answer.status}: ${detail}\n`);
      return 1;
    }
    if (this.json) {
      if (answer.body !== null) process.stdout.write(`${JSON.stringify(answer.body, null, 2)}\n`);
      return 0;
    }
    const shown = view(answer.body);
    if (shown !== null && shown !== undefined) process.stdout.write(`${typeof shown === 'string' ? shown : readable(shown)}\n`);
    return 0;
  }
}

const MIB = 1024 * 1024;

/**
 * Counts the bytes passing through and, when standard error is a terminal, draws a progress bar there (at most ten
 * times a second); elsewhere it only passes the bytes on.
 */
export function progress(what: string, total: number | undefined, terminal = process.stderr.isTTY === true): Transform {
  let done = 0;
  let drawn = 0;
  const draw = () => {
    const size = `${(done / MIB).toFixed(1)}${total ? `/${(total / MIB).toFixed(1)}` : ''} MiB`;
    const bar = total ? `[${'#'.repeat(Math.floor((done / total) * 30)).padEnd(30, '.')}] ${Math.floor((done / total) * 100)}% ` : '';
    process.stderr.write(`\r${what} ${bar}${size}`);
    drawn = Date.now();
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      if (terminal && Date.now() - drawn >= 100) draw();
      callback(null, chunk);
    },
    flush(callback) {
      if (terminal) {
        draw();
        process.stderr.write('\n');
      }
      callback();
    },
  });
}
