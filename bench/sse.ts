import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { inFlight, option, printConditions, printTable, quick, requestJson, spread, startChild, testDatabases, waitFor, type Row } from './support.ts';

/**
 * Server-sent events against clients that never read: CLIENTS connections ask for a replay of the whole history
 * (`Last-Event-ID: 0`, some 10,000 events) and then read nothing. Measured: /ping latency and the resident memory of
 * `onair serve` while they connect and for a while after; baseline: /ping latency of the same process without them.
 * `--clients=N` changes their number (600 by default).
 */

const CLIENTS = Number(option('clients') ?? (quick ? 200 : 600));
const TASKS = 3400; // three events each (queued, running, completed): the history holds 10,000
const WATCH_MS = quick ? 3000 : 5000;

function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

async function ping(url: string): Promise<number> {
  const start = performance.now();
  await fetch(`${url}/ping`);
  return performance.now() - start;
}

/** Pings every 20 ms until `done` settles; answers the latencies. */
async function pingWhile(url: string, done: Promise<unknown>): Promise<number[]> {
  let finished = false;
  void done.finally(() => (finished = true));
  const latencies: number[] = [];
  while (!finished) {
    latencies.push(await ping(url));
    await sleep(20);
  }
  return latencies;
}

async function stalledClient(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.pause();
  socket.write(`GET /sse HTTP/1.1\r\nHost: ${hostname}\r\nLast-Event-ID: 0\r\n\r\n`);
  return socket;
}

printConditions('sse');
const onair = await startChild(testDatabases[0]!, { ONAIR_SSE_MAX_CLIENTS: String(CLIENTS * 2) });
try {
  await inFlight(Array.from({ length: TASKS }), 16, () => requestJson(onair.url, 'POST', '/tasks', { operation: { type: 'test', parameters: {} } }));
  await waitFor(async () => (await requestJson(onair.url, 'GET', '/tasks')).body.completed.length === TASKS, 'the tasks to complete', 120_000, 100);
  const baseline: number[] = [];
  for (let i = 0; i < 200; i++) baseline.push(await ping(onair.url));
  const before = memory(onair.child.pid!);
  const sockets: Socket[] = [];
  const connecting = (async () => {
    for (let i = 0; i < CLIENTS; i++) sockets.push(await stalledClient(onair.url));
    await sleep(WATCH_MS);
  })();
  const loaded = await pingWhile(onair.url, connecting);
  const after = memory(onair.child.pid!);
  const metrics = (await requestJson(onair.url, 'GET', '/metrics')).body as string;
  const counter = (name: string) => /^\w+ (\d+)$/m.exec(metrics.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[1] ?? 'n/a';
  for (const socket of sockets) socket.destroy();
  const row = (scenario: string, latencies: number[], rss: number, peak: number): Row => {
    const { p50, p99, max } = spread(latencies);
    return { scenario, pings: latencies.length, 'p50 ms': p50, 'p99 ms': p99, 'max ms': max, 'RSS MiB': rss, 'peak RSS MiB': peak };
  };
  printTable(`/ping while ${CLIENTS} clients replay Last-Event-ID: 0 and never read`, [
    row('baseline: no SSE clients', baseline, before.rss, before.peak),
    row(`${CLIENTS} stalled replaying clients`, loaded, after.rss, after.peak),
  ]);
  process.stdout.write(`dropped: ${counter('onair_sse_clients_dropped_total')}, still open: ${counter('onair_sse_clients')}\n`);
} finally {
  await onair.stop();
}
