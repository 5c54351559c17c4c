import { once } from 'node:events';
import http, { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeUdpPort } from '../test/gate/harness.ts';
import {
  attempt, cells, finish, fixed, inFlight, judge, option, preciseNow, printConditions, printTable, quick, ratio, startInProcess, summary, tail,
  testDatabases, waitFor, type Row, type Running, type TestDatabase,
} from './support.ts';

/**
 * Webhooks and REST hooks, each figure beside a baseline from the same run: webhook deliveries per second to a local
 * receiver and the time to drain a backlog (beside a bare loop of the same requests, as many in flight as onair had,
 * a new connection each as onair's client makes), event-to-receipt latency at 200 events/s (beside bare requests at
 * that rate), and what a REST hook backend answering at once adds to POST /reserve and to opening /listen (beside the
 * same onair without ONAIR_HOOK_APPS). Run: npx node bench/hooks.ts [--quick] [--database=sqlite|postgres]
 * [--only=deliveries,latency,drain,rest]
 */

declare module '../src/core/events/bus.ts' {
  interface EventMap {
    'bench-webhook': { run: string; n: number; sent: number };
  }
}

const TYPE = 'bench-webhook';
const THROUGHPUT = quick ? 1_000 : 5_000;
const RUNS = quick ? 1 : 3;
const RECORD_BATCH = 100;
const RATE = 200;
const RATE_SECONDS = quick ? 2 : 10;
const BACKLOG = quick ? 2_000 : 10_000;
const HOOK_CALLS = quick ? 20 : 100;
const DRAIN_WAIT_MS = quick ? 60_000 : 180_000;
const THROUGHPUT_GOAL = 0.5;
const LATENCY_GOAL_P99 = 50;
const HOOK_GOAL_P99 = 10;

/** The body onair sends, about: a bare request carries one as large. */
const sampleBody = (run: string, n: number) => JSON.stringify({ type: TYPE, timestamp: new Date().toISOString(), data: { run, n, sent: preciseNow() } });

/**
 * A webhook receiver on loopback: when each request of a run arrived, and how many connections were open at most (a
 * request is answered as soon as it arrived; each comes on a connection of its own, so its connection is how long the
 * sender had it in flight).
 */
class Receiver {
  readonly arrivals = new Map<string, Map<number, number>>();
  /** Requests answered 503 per run. */
  readonly refused = new Map<string, number>();
  open = 0;
  maxOpen = 0;
  /** While set, every request is answered 503 with Retry-After this time (epoch ms, on a whole second). */
  downUntil: number | undefined;
  url = '';
  #server: Server;

  constructor() {
    this.#server = createServer((request, response) => this.#take(request, response));
    this.#server.on('connection', (socket: Socket) => {
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      socket.once('close', () => this.open--);
    });
    this.#server.keepAliveTimeout = 5_000;
  }

  async start(): Promise<void> {
    this.#server.listen(0, '127.0.0.1', 511);
    await once(this.#server, 'listening');
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/webhooks`;
  }

  #take(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = preciseNow();
      const { run, n } = (JSON.parse(Buffer.concat(chunks).toString()) as { data: { run: string; n: number } }).data;
      if (this.downUntil !== undefined) {
        this.refused.set(run, (this.refused.get(run) ?? 0) + 1);
        response.writeHead(503, { 'retry-after': new Date(this.downUntil).toUTCString() }).end();
        return;
      }
      this.of(run).set(n, at);
      response.writeHead(200).end('ok');
    });
  }

  of(run: string): Map<number, number> {
    let arrived = this.arrivals.get(run);
    if (!arrived) this.arrivals.set(run, (arrived = new Map()));
    return arrived;
  }

  /** Resolves with the last arrival once `count` requests of `run` have arrived. */
  async all(run: string, count: number, timeoutMs: number): Promise<number> {
    await waitFor(() => this.of(run).size >= count, `${count} deliveries of ${run}`, timeoutMs, 5);
    return Math.max(...this.of(run).values());
  }

  resetOpen(): void {
    this.maxOpen = this.open;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

/** One POST as onair's outbound client makes it: no agent, so a connection of its own; resolves with the answer. */
function bareRequest(url: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', 'webhook-id': 'msg_bare', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,bare' },
    }, (response) => {
      response.resume();
      response.on('end', resolve);
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** `count` bare requests of `run`, `concurrency` in flight: milliseconds in all. */
async function bareLoop(receiver: Receiver, run: string, count: number, concurrency: number): Promise<number> {
  const start = performance.now();
  await inFlight(Array.from({ length: count }, (_, n) => n), concurrency, (n) => bareRequest(receiver.url, sampleBody(run, n)));
  return performance.now() - start;
}

/** Records `count` events of `run` in transactions of RECORD_BATCH, one after another. */
async function recordEvents(running: Running, run: string, count: number): Promise<void> {
  const { bus, database } = running.onair;
  for (let first = 0; first < count; first += RECORD_BATCH) {
    const batch = Array.from({ length: Math.min(RECORD_BATCH, count - first) }, (_, i) => ({ run, n: first + i, sent: preciseNow() }));
    await bus.record(database.kysely, TYPE, batch);
  }
}

const webhookRows: Row[] = [];
const latencyRows: Row[] = [];
const hookRows: Row[] = [];
let measuredPerSecond: number | undefined;

/** Deliveries per second of events recorded as fast as they go, beside the bare loop at onair's concurrency. */
async function deliveries(database: string, running: Running, receiver: Receiver): Promise<void> {
  const ours: number[] = [];
  const bare: number[] = [];
  const concurrency: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const run = `throughput-${i}`;
    receiver.resetOpen();
    const start = preciseNow();
    await recordEvents(running, run, THROUGHPUT);
    const last = await receiver.all(run, THROUGHPUT, 300_000);
    ours.push((THROUGHPUT * 1000) / (last - start));
    concurrency.push(Math.max(1, receiver.maxOpen));
    bare.push((THROUGHPUT * 1000) / await bareLoop(receiver, `bare-${run}`, THROUGHPUT, concurrency.at(-1)!));
  }
  const [theirs, mine] = [summary(bare), summary(ours)];
  measuredPerSecond = mine.median;
  webhookRows.push({
    database, figure: `deliveries/s, ${THROUGHPUT} events`, ...cells(mine), 'in flight': Math.max(...concurrency),
    'baseline is': 'bare POSTs, as many in flight, no reuse', ...cells(theirs, 'baseline '), ratio: ratio(mine.median, theirs.median),
    ...judge(`>= ${THROUGHPUT_GOAL}x the bare loop`, mine.median >= THROUGHPUT_GOAL * theirs.median),
  });
}

/** Calls `send(i)` at RATE per second for RATE_SECONDS, each at its due time; answers once every call returned. */
async function atRate(send: (i: number) => Promise<void>): Promise<void> {
  const count = RATE * RATE_SECONDS;
  const first = preciseNow() + 100;
  const sent: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const wait = first + (i * 1000) / RATE - preciseNow();
    if (wait > 1) await sleep(wait);
    sent.push(send(i));
  }
  await Promise.all(sent);
}

/** Event recorded (one per transaction) to its receipt at RATE/s, beside bare requests sent to receipt at that rate. */
async function latency(database: string, running: Running, receiver: Receiver): Promise<void> {
  const count = RATE * RATE_SECONDS;
  const { bus, database: db } = running.onair;
  const sentAt = new Map<number, number>();
  await atRate(async (n) => {
    const sent = preciseNow();
    sentAt.set(n, sent);
    await bus.record(db.kysely, TYPE, [{ run: 'latency', n, sent }]);
  });
  await receiver.all('latency', count, 60_000);
  const ours = summary([...receiver.of('latency')].map(([n, at]) => at - sentAt.get(n)!));
  const bareSent = new Map<number, number>();
  await atRate((n) => {
    bareSent.set(n, preciseNow());
    return bareRequest(receiver.url, sampleBody('bare-latency', n));
  });
  const theirs = summary([...receiver.of('bare-latency')].map(([n, at]) => at - bareSent.get(n)!));
  const bareSlow = tail(theirs) >= LATENCY_GOAL_P99 ? `bare p99 ${fixed(tail(theirs))} ms` : undefined;
  latencyRows.push({
    database, load: `${RATE}/s for ${RATE_SECONDS} s`, ...cells(ours), 'baseline is': 'bare POST sent -> received', ...cells(theirs, 'baseline '),
    'p99 vs bare': ratio(tail(ours), tail(theirs)), ...judge(`p99 < ${LATENCY_GOAL_P99} ms`, tail(ours) < LATENCY_GOAL_P99, bareSlow),
  });
}

/**
 * BACKLOG events while the receiver answers 503 with Retry-After a moment to come, so that every message's second
 * attempt is due then; the drain is that moment to the last receipt. Beside: the bare loop's time for as many.
 */
async function drain(database: string, running: Running, receiver: Receiver): Promise<void> {
  // Enough time for every first attempt (at the rate just measured, with room) before the retries fall due.
  const queueMs = 3000 + (2 * BACKLOG * 1000) / Math.max(100, measuredPerSecond ?? 250);
  const upAt = Math.ceil((Date.now() + queueMs) / 1000) * 1000;
  receiver.downUntil = upAt;
  await recordEvents(running, 'drain', BACKLOG);
  await waitFor(() => (receiver.refused.get('drain') ?? 0) >= BACKLOG, `${BACKLOG} first attempts`, upAt - Date.now() + 120_000, 20);
  const queuedBy = Date.now();
  await sleep(Math.max(0, upAt - 200 - Date.now()));
  receiver.downUntil = undefined;
  receiver.resetOpen();
  const drained = await receiver.all('drain', BACKLOG, DRAIN_WAIT_MS).catch(() => undefined);
  if (drained === undefined) {
    const arrived = receiver.of('drain').size;
    throw new Error(`${arrived} of ${BACKLOG} arrived in ${DRAIN_WAIT_MS / 1000} s; retries' outcomes: ${await retryOutcomes(running)}`);
  }
  const ours = drained - upAt;
  const concurrency = Math.max(1, receiver.maxOpen);
  const theirs = await bareLoop(receiver, 'bare-drain', BACKLOG, concurrency);
  const late = queuedBy > upAt ? [`the first attempts ended ${queuedBy - upAt} ms after the retries fell due`] : [];
  webhookRows.push({
    database, figure: `drain ${BACKLOG} queued, ms`, n: 1, median: ours, 'in flight': concurrency,
    'baseline is': `bare loop of ${BACKLOG}, as many in flight`, 'baseline n': 1, 'baseline median': theirs, ratio: ratio(ours, theirs),
    ...judge(`<= 2x the bare loop (as >= ${THROUGHPUT_GOAL}x its rate)`, ours * THROUGHPUT_GOAL <= theirs, undefined, ...late),
  });
}

/** The attempts after the first, counted by their status or error (the first 40 characters). */
async function retryOutcomes(running: Running): Promise<string> {
  const rows = await running.onair.database.kysely.selectFrom('onair_deliveries' as never)
    .select(['status' as never, 'error' as never]).where('kind' as never, '=', 'webhook' as never).where('attempt' as never, '>', 1 as never).execute() as
    Array<{ status: number | null; error: string | null }>;
  const counts = new Map<string, number>();
  for (const { status, error } of rows) {
    const outcome = status === null ? (error ?? '').slice(0, 40) : String(status);
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  }
  return [...counts].map(([outcome, n]) => `${outcome}: ${n}`).join(', ');
}

async function benchWebhooks(database: TestDatabase): Promise<void> {
  const receiver = new Receiver();
  await receiver.start();
  const running = await startInProcess(database, { ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.1/32' });
  try {
    const created = await running.request('POST', '/webhooks', { url: receiver.url, types: [TYPE] });
    if (created.status !== 201) throw new Error(`POST /webhooks answered ${created.status} ${JSON.stringify(created.body)}`);
    for (const [name, section] of [['deliveries', deliveries], ['latency', latency], ['drain', drain]] as const) {
      if (chosen(name)) await attempt(`${database.name} ${name}`, () => section(database.name, running, receiver));
    }
  } finally {
    await running.stop();
    await receiver.close();
  }
}

/** A hook backend that lets everything through at once, and asks onair to keep no decision (every call is made). */
async function startBackend(): Promise<{ url: string; calls: Map<string, number>; close(): Promise<void> }> {
  const calls = new Map<string, number>();
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const method = request.url!.split('/').pop()!;
      calls.set(method, (calls.get(method) ?? 0) + 1);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"cacheTtl":0}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/rest/bench`, calls,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A live event on air now, for a reservation. */
async function liveInstance(running: Running) {
  const show = await running.request('POST', '/shows', { title: 'Hooks bench' });
  const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
  const event = await running.onair.programme.service.createEvent({ showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
  return { event: event.id, start };
}

/** Milliseconds of POST /reserve; the reservation is ended and the channel idle again before it answers. */
async function reserveOnce(running: Running): Promise<number> {
  const instance = await liveInstance(running);
  const start = performance.now();
  const reserved = await running.request('POST', '/reserve', { instance });
  const ms = performance.now() - start;
  if (reserved.status !== 201) throw new Error(`POST /reserve answered ${reserved.status} ${JSON.stringify(reserved.body)}`);
  const gate = running.onair.gate.gate;
  for (const stream of await gate.streams()) await gate.terminate(stream.session, 'terminated');
  await waitFor(async () => (await running.request('GET', '/check')).body.state === 'idle', 'the channel to be idle', 20_000, 5);
  return ms;
}

/** Milliseconds of GET /listen to its answer's headers (the channel's fallback); each with a query of its own, so no decision is reused. */
async function listenOnce(running: Running, n: number): Promise<number> {
  const controller = new AbortController();
  const start = performance.now();
  const response = await fetch(`${running.url}/listen?listener=${n}`, { signal: controller.signal });
  const ms = performance.now() - start;
  controller.abort();
  if (response.status !== 200) throw new Error(`GET /listen answered ${response.status}`);
  return ms;
}

async function benchRestHooks(database: TestDatabase): Promise<void> {
  const backend = await startBackend();
  const env = async () => ({ ONAIR_SRT_PORT_START: String(await freeUdpPort()), ONAIR_GATE_FALLBACK: 'silence' });
  const hooked = await startInProcess(database, { ...await env(), ONAIR_HOOK_APPS: JSON.stringify([{ name: 'station', url: backend.url }]) });
  const plain = await startInProcess(database, await env());
  try {
    for (const [path, measure] of [['POST /reserve', reserveOnce], ['GET /listen (headers)', listenOnce]] as const) {
      await attempt(`${database.name} ${path}`, async () => {
        const [withHooks, without] = [[] as number[], [] as number[]];
        // In turns, so that both meet the same moments of a shared machine; the first of each warms up.
        for (let i = 0; i <= HOOK_CALLS; i++) {
          const [a, b] = [await measure(hooked, i), await measure(plain, i)];
          if (i > 0) withHooks.push(a), without.push(b);
        }
        const [ours, theirs] = [summary(withHooks), summary(without)];
        const added = tail(ours) - tail(theirs);
        // Without hooks the same call's p99 already strays further than the goal from its median: the difference of two
        // such tails says more of the machine than of the hook.
        const spread = tail(theirs) - theirs.median;
        hookRows.push({
          database: database.name, path, ...cells(ours), 'baseline is': 'no ONAIR_HOOK_APPS', ...cells(theirs, 'baseline '),
          'median added': ours.median - theirs.median, 'p99 added': added,
          ...judge(`adds < ${HOOK_GOAL_P99} ms at p99`, added < HOOK_GOAL_P99, spread >= HOOK_GOAL_P99 ? `its p99 is ${fixed(spread)} ms over its median` : undefined),
        });
      });
    }
    const asked = ['connect', 'playStream'].map((m) => `${m} ${backend.calls.get(m) ?? 0}`).join(', ');
    process.stdout.write(`${database.name}: the hook backend was asked ${asked}\n`);
  } finally {
    await hooked.stop();
    await plain.stop();
    await backend.close();
  }
}

printConditions('bench/hooks.ts');
const onlyDatabase = option('database');
const onlySections = option('only')?.split(',');
function chosen(section: string): boolean {
  return onlySections === undefined || onlySections.includes(section);
}
const began = performance.now();
for (const database of testDatabases.filter((d) => onlyDatabase === undefined || d.name === onlyDatabase)) {
  process.stdout.write(`${database.name}: webhooks...\n`);
  await attempt(`${database.name} webhooks`, () => benchWebhooks(database));
  if (!chosen('rest')) continue;
  process.stdout.write(`${database.name}: REST hooks...\n`);
  await attempt(`${database.name} REST hooks`, () => benchRestHooks(database));
}
printTable('Webhook deliveries to a receiver on loopback', webhookRows);
printTable('Webhook event -> receipt, ms', latencyRows);
printTable('What a REST hook backend answering at once adds, ms (each call in turn, with and without hooks alternately)', hookRows);
process.stdout.write(`\n${fixed((performance.now() - began) / 1000)} s\n`);
finish();
