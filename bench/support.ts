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

export async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await run();
  return { value, ms: performance.now() - start };
}

/** Nearest-rank percentile (p in 0..100) of numbers in any order. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export interface Spread {
  p50: number;
  p99: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  return { p50: percentile(values, 50), p99: percentile(values, 99), max: percentile(values, 100) };
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
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
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

/** Starts a whole onair in this process (silent logs, fresh data dir and database, dropped on stop). */
export function startInProcess(database: TestDatabase, env: Record<string, string> = {}): Promise<Running> {
  return startOnair({ database, env: { ONAIR_LOG_LEVEL: 'silent', ...env } });
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
