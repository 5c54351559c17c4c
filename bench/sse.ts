import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  attempt, cells, finish, fixed, inFlight, judge, option, pingsWhile, printConditions, printTable, quick, requestJson, startChild, summary,
  testDatabases, waitFor, type Row,
} from './support.ts';

/**
 * Server-sent events against clients that never read: CLIENTS connections ask for a replay of the whole history
 * (`Last-Event-ID: 0`, some 10,000 events) and then read nothing. Measured: /ping latency and the resident memory of
 * `onair serve` while they connect and for a while after; baseline: /ping latency of the same process without them.
 * Goal: no /ping slower than 50 ms meanwhile (nothing holds the event loop). `--clients=N` changes their number (600
 * by default).
 */

const CLIENTS = Number(option('clients') ?? (quick ? 200 : 600));
const TASKS = 3400; // three events each (queued, running, completed): the history holds 10,000
const WATCH_MS = quick ? 3000 : 5000;
const PING_EVERY_MS = 20;
const PING_GOAL_MS = 50;

function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
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
const sockets: Socket[] = [];
try {
  await attempt(`${CLIENTS} stalled clients`, async () => {
    await inFlight(Array.from({ length: TASKS }), 16, () => requestJson(onair.url, 'POST', '/tasks', { operation: { type: 'test', parameters: {} } }));
    await waitFor(async () => (await requestJson(onair.url, 'GET', '/tasks')).body.completed.length === TASKS, 'the tasks to complete', 120_000, 100);
    // As long as the stalled clients are watched, at the same pace, without them.
    const baseline = summary(await pingsWhile(onair.url, sleep(WATCH_MS), PING_EVERY_MS));
    const before = memory(onair.child.pid!);
    const connecting = (async () => {
      for (let i = 0; i < CLIENTS; i++) sockets.push(await stalledClient(onair.url));
      await sleep(WATCH_MS);
    })();
    const loaded = summary(await pingsWhile(onair.url, connecting, PING_EVERY_MS));
    await connecting;
    const after = memory(onair.child.pid!);
    const metrics = (await requestJson(onair.url, 'GET', '/metrics')).body as string;
    const counter = (name: string) => /^\w+ (\d+)$/m.exec(metrics.split('\n').find((l) => l.startsWith(`${name} `)) ?? '')?.[1] ?? 'n/a';
    const idleSlow = baseline.max > PING_GOAL_MS ? `/ping max ${fixed(baseline.max)} ms` : undefined;
    const rows: Row[] = [
      { scenario: 'baseline: no SSE clients', ...cells(baseline), 'RSS MiB': before.rss, 'peak RSS MiB': before.peak },
      { scenario: `${CLIENTS} stalled replaying clients`, ...cells(loaded), 'RSS MiB': after.rss, 'peak RSS MiB': after.peak,
        ...judge(`/ping max <= ${PING_GOAL_MS} ms`, loaded.max <= PING_GOAL_MS, idleSlow) },
    ];
    printTable(`/ping every ${PING_EVERY_MS} ms, ms, while ${CLIENTS} clients replay Last-Event-ID: 0 and never read`, rows);
    process.stdout.write(`dropped: ${counter('onair_sse_clients_dropped_total')}, still open: ${counter('onair_sse_clients')}\n`);
  });
} finally {
  for (const socket of sockets) socket.destroy();
  await onair.stop();
}
finish();
