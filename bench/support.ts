import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { postgresAvailable, postgresDatabase, testDatabases, type TestDatabase } from '../test/support/databases.ts';
import { requestJson, startOnair, tempDir, waitFor, type Running } from '../test/support/onair.ts';

export { postgresAvailable, postgresDatabase, testDatabases, requestJson, waitFor };
export type { Running, TestDatabase };

/** Command-line switches every benchmark script understands. */
export const quick = process.argv.includes('--quick');

/** The value of `--name=value`, if given. */
export function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

/** Wall-clock time in epoch milliseconds with sub-millisecond resolution. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Lateness of plain setTimeout timers for `dues` (epoch ms), armed now: a baseline measured alongside, in the same conditions. */
export function timerLateness(dues: readonly number[]): Promise<number[]> {
  return Promise.all(dues.map((due) => new Promise<number>((resolve) => {
    setTimeout(() => resolve(preciseNow() - due), due - Date.now());
  })));
}

export async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await run();
  return { value, ms: performance.now() - start };
}

/** Fewer values than this have no p99 of their own: it would be their maximum under another name. */
const P99_SAMPLES = 100;

/** How many values a figure has and how they spread; p99 only from P99_SAMPLES values on. */
export interface Summary {
  n: number;
  min: number;
  median: number;
  p99?: number;
  max: number;
}

/** n, min, median (nearest rank), p99 when there are enough values, and max of numbers in any order. */
export function summary(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length === 0 ? NaN : sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!);
  const p99 = sorted.length >= P99_SAMPLES ? { p99: at(99) } : {};
  return { n: sorted.length, min: at(0), median: at(50), ...p99, max: at(100) };
}

/** The p99 of a summary, or its maximum when it has too few values for one. */
export const tail = (s: Summary): number => s.p99 ?? s.max;

/** A summary as the cells of a table row, named n, min, median, p99, max after `prefix` (a baseline's, say). */
export function cells(s: Summary, prefix = ''): Row {
  return Object.fromEntries(Object.entries(s).map(([name, value]) => [`${prefix}${name}`, value]));
}

/**
 * The goal cells of a row: the goal, its verdict and notes. `baselineOff` says how the run's own baseline missed the
 * goal too: then the machine (busy, or not up to it) could not have shown it met, and a miss is not judged.
 */
export function judge(goal: string, met: boolean, baselineOff?: string, ...notes: string[]): Row {
  const excused = !met && baselineOff !== undefined;
  const verdict = met ? 'yes' : excused ? 'not judged' : 'NO';
  const all = [...(excused ? [`the baseline missed it too (${baselineOff})`] : []), ...notes];
  return { goal, verdict, ...(all.length > 0 ? { note: all.join('; ') } : {}) };
}

const failures: string[] = [];

/** Measures one figure or section: a failure is printed and costs only what `run` measures; finish() then exits with 1. */
export async function attempt<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    failures.push(name);
    process.stderr.write(`${name}: failed: ${(error as Error).stack ?? String(error)}\n`);
    return undefined;
  }
}

/** The last lines of a benchmark: how busy the machine was by the end, and what failed (exit code 1). */
export function finish(): void {
  process.stdout.write(`\n# load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores: on a shared machine, compare the ratios\n`);
  if (failures.length === 0) return;
  process.stdout.write(`# FAILED, figures missing: ${failures.join(', ')}\n`);
  process.exitCode = 1;
}

/** `measured / baseline` as text; n/a when the baseline is too close to zero to divide by. */
export function ratio(measured: number, baseline: number, floor = 0.05): string {
  if (!Number.isFinite(measured) || !Number.isFinite(baseline) || Math.abs(baseline) < floor) return 'n/a';
  return `${(measured / baseline).toFixed(2)}x`;
}

export function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

export type Row = Record<string, string | number>;

/** Prints rows as an aligned plain-text table (numbers right-aligned) under a title. */
export function printTable(title: string, rows: readonly Row[]): void {
  if (rows.length === 0) return;
  const columns: string[] = [];
  // A column first met in a later row goes after its neighbour in that row (a p99 after its median).
  for (const row of rows) {
    Object.keys(row).forEach((column, i, keys) => {
      if (!columns.includes(column)) columns.splice(i === 0 ? 0 : columns.indexOf(keys[i - 1]!) + 1, 0, column);
    });
  }
  const text = (v: string | number | undefined) => (v === undefined ? '' : typeof v === 'number' ? fixed(v, Number.isInteger(v) ? 0 : 1) : v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => text(r[c]).length)));
  const line = (cells: string[], numeric: boolean[]) =>
    cells.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  const numeric = columns.map((c) => rows.every((r) => typeof r[c] !== 'string'));
  process.stdout.write(`\n${title}\n${line(columns, numeric)}\n${line(widths.map((w) => '-'.repeat(w)), numeric)}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((c) => text(row[c])), numeric)}\n`);
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function inFlight<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** Runs `probe` every `everyMs` until `done` settles; answers the milliseconds of each. */
export async function probesWhile(done: Promise<unknown>, everyMs: number, probe: () => Promise<unknown>): Promise<number[]> {
  let finished = false;
  void done.then(() => (finished = true), () => (finished = true));
  const each: number[] = [];
  while (!finished) {
    const start = performance.now();
    await probe();
    each.push(performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return each;
}

/** GET /ping every `everyMs` until `done` settles; answers the milliseconds of each. */
export function pingsWhile(url: string, done: Promise<unknown>, everyMs: number): Promise<number[]> {
  return probesWhile(done, everyMs, async () => (await fetch(`${url}/ping`)).arrayBuffer());
}

/**
 * Starts a whole onair in this process (silent logs, fresh data dir); on a fresh database dropped on stop, or on the
 * caller's `databaseUrl`, kept (instances of one cluster share it).
 */
export function startInProcess(database: TestDatabase, env: Record<string, string> = {}, databaseUrl?: string): Promise<Running> {
  return startOnair({ database, databaseUrl, env: { ONAIR_LOG_LEVEL: 'silent', ...env } });
}

export interface ChildOnair {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/** Starts `onair serve` as a child process with the project's node; answers once /ping does. */
export async function startChild(database: TestDatabase, env: Record<string, string> = {}): Promise<ChildOnair> {
  const dataDir = tempDir('onair-bench-');
  const databaseUrl = await database.create();
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN, 'serve'], {
    env: {
      ...process.env, ONAIR_LOG_LEVEL: 'silent', ONAIR_HTTP_PORT: String(port), ONAIR_DATA_DIR: dataDir,
      ...(databaseUrl ? { ONAIR_DATABASE_URL: databaseUrl } : {}), ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await database.drop(databaseUrl);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`onair exited with code ${child.exitCode} before answering`);
      return (await fetch(`${url}/ping`).catch(() => undefined))?.status === 204;
    }, 'onair to answer /ping', 30_000, 50);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, child, stop };
}

/** A note on the conditions of the run, printed once at the top of each benchmark. */
export function printConditions(name: string): void {
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  process.stdout.write(`# ${name}: node ${process.version}, ${cpus().length} cores, load average ${load}${quick ? ', --quick' : ''}\n`);
}
