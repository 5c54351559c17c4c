// Directory figures, each beside a baseline from the same run: stream manager lookups per second through the real
// route on the core's HTTP server (100 nodes, 1,000 streams in the snapshot), beside a plain Fastify route answering a
// constant, loaded the same way (keep-alive connections from a worker thread); and how evenly 10,000 lookups through
// the route spread over 5 equal nodes between two reports, beside a uniform random pick.
// On one PostgreSQL database (skipped without one): a listener's first audio at an edge, with a relay to start and with
// the relay running, beside a listener's at the origin itself; and how soon the other instances of three see a node
// drained or resumed from one, beside a bare LISTEN/NOTIFY round trip between two connections.
// Goals from issue 13: >= 0.8x the plain route; busiest/idlest <= 1.1; edge first audio < 1.5 s cold, < 100 ms warm;
// a state change seen everywhere, p99 < 100 ms.
// npx node bench/directory.ts [--quick] [--seconds=5] [--connections=32] [--only=lookups,evenness,edge,states]
import { Worker } from 'node:worker_threads';
import Fastify from 'fastify';
import pg from 'pg';
import { pino } from 'pino';
import { Type } from 'typebox';
import { systemClock } from '../src/core/clock.ts';
import { loadConfig } from '../src/core/config.ts';
import { createHttpServer } from '../src/core/http/server.ts';
import { createMetrics } from '../src/core/metrics.ts';
import type { DirectoryNode, NodeState, NodeStream } from '../src/directory/contract.ts';
import { directoryNode, StandInSnapshot } from '../test/directory/stand-ins.ts';
import { serveLookups } from './lookups.ts';
import { commandLine, ffmpegChildren, pushTone } from '../test/gate/harness.ts';
import { audioListener } from '../test/gate/listener.ts';
import { reserveNow } from '../test/support/process.ts';
import {
  attempt, cells, finish, inFlight, judge, option, postgresAvailable, postgresDatabase, printConditions, printTable, quick, ratio, startInProcess,
  summary, tail, waitFor, type Row, type Running,
} from './support.ts';

const NODES = 100;
const STREAMS = 1000;
const REGIONS = ['eu-central', 'eu-west', 'us-east', 'us-west', 'ap-south'];
const SECONDS = Number(option('seconds') ?? (quick ? 2 : 5));
const ROUNDS = quick ? 1 : 3;
const CONNECTIONS = Number(option('connections') ?? 32);
const LOOKUPS = 10_000;
const THROUGHPUT_GOAL = 0.8;
const EVENNESS_GOAL = 1.1;
const FIRST_AUDIO_SAMPLES = quick ? 5 : 20;
const COLD_GOAL_MS = 1500;
const WARM_GOAL_MS = 100;
const STATE_CHANGES = quick ? 20 : 100;
const SEEN_GOAL_MS = 100;

/**
 * Keeps one request in flight on each of CONNECTIONS keep-alive connections for SECONDS, as autocannon does: raw
 * sockets and a parser that reads only the status and Content-Length, so that the client costs less than the server.
 * Posts how many were answered 200, and how many otherwise.
 */
const LOAD = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const { port, paths, seconds, connections } = workerData;
const until = Date.now() + seconds * 1000;
let answered = 0, failed = 0, next = 0, open = connections;
const lane = () => {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let buffer = Buffer.alloc(0);
  const send = () => socket.write('GET ' + paths[next++ % paths.length] + ' HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n');
  socket.on('connect', send);
  socket.on('data', (chunk) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    for (;;) {
      const end = buffer.indexOf('\\r\\n\\r\\n');
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString('latin1');
      const length = Number(/content-length: *(\\d+)/i.exec(head)?.[1] ?? 0);
      if (buffer.length < end + 4 + length) return;
      buffer = buffer.subarray(end + 4 + length);
      if (head.startsWith('HTTP/1.1 200')) answered++; else failed++;
      if (Date.now() < until) send(); else { socket.end(); return; }
    }
  });
  socket.on('error', () => { failed++; });
  socket.on('close', () => { if (--open === 0) parentPort.postMessage({ answered, failed }); });
};
for (let i = 0; i < connections; i++) lane();
`;

function load(url: string, paths: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LOAD, { eval: true, workerData: { port: Number(new URL(url).port), paths, seconds: SECONDS, connections: CONNECTIONS } });
    worker.once('message', ({ answered, failed }: { answered: number; failed: number }) => {
      if (failed > 0) reject(new Error(`${failed} requests failed`));
      else resolve(answered / SECONDS);
    });
    worker.once('error', reject);
  });
}

const streamName = (i: number) => `stream-${i}`;

/** NODES nodes over REGIONS; each stream has its origin on one node and edges on the next two. */
function registry(): DirectoryNode[] {
  // Every node serves every channel (made at run time: one port for all).
  const ports = Object.fromEntries(Array.from({ length: STREAMS }, (_, s) => [streamName(s), 20_000 + s]));
  const carried = new Map<number, NodeStream[]>();
  for (let s = 0; s < STREAMS; s++) {
    for (const [k, carriedAs] of (['origin', 'edge', 'edge'] as const).entries()) {
      const node = (s + k) % NODES;
      carried.set(node, [...(carried.get(node) ?? []), {
        name: streamName(s), scope: '/live', carriedAs, publishers: carriedAs === 'origin' ? 1 : 0, subscribers: s % 7, startTime: Date.now(), instance: null,
      }]);
    }
  }
  return Array.from({ length: NODES }, (_, n) => directoryNode(`node-${n}`, {
    region: REGIONS[n % REGIONS.length]!, geozone: REGIONS[n % REGIONS.length]!.split('-')[0]!, capacity: 10_000, subscribers: (n * 37) % 500,
    streams: carried.get(n) ?? [], reportedAt: Date.now(), ports,
  }));
}

const CONSTANT = { name: 'stream-1', scope: '/live', serverAddress: 'node-1.example', region: 'eu-west' };
const ROUTE = '/streammanager/api/2.0/event/:scope/:stream';

/** The same constant on the core's HTTP server (its access rule, deadline, metrics, validation): what the core costs. */
async function coreConstant(): Promise<{ url: string; close(): Promise<unknown> }> {
  const app = await createHttpServer({ clock: systemClock, logger: pino({ level: 'silent' }), metrics: createMetrics(), apiKey: undefined, http: loadConfig({}).http, version: 'bench' });
  app.get(ROUTE, { config: { access: 'public' }, schema: { querystring: Type.Object({ action: Type.String(), region: Type.String() }) } }, async () => CONSTANT);
  return { url: await app.listen({ host: '127.0.0.1', port: 0 }), close: () => app.close() };
}

async function throughput(rows: Row[]): Promise<void> {
  const lookups = await serveLookups(new StandInSnapshot('node-0', registry()));
  const plain = Fastify();
  plain.get(ROUTE, async () => CONSTANT);
  const plainUrl = await plain.listen({ host: '127.0.0.1', port: 0 });
  const core = await coreConstant();
  const paths = Array.from({ length: 1000 }, (_, i) => {
    const action = i % 4 === 0 ? 'broadcast' : 'subscribe';
    return `/streammanager/api/2.0/event/live/${streamName((i * 7919) % STREAMS)}?action=${action}&region=${REGIONS[i % REGIONS.length]}`;
  });
  const [ours, theirs, cores]: number[][] = [[], [], []];
  try {
    // Each round in another order, so that none is always measured first on a machine that others share.
    const servers: Array<[string, number[]]> = [[plainUrl, theirs], [core.url, cores], [lookups.url, ours]];
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < servers.length; i++) {
        const [url, figures] = servers[(round + i) % servers.length]!;
        figures.push(await load(url, paths));
      }
    }
  } finally {
    await lookups.close();
    await plain.close();
    await core.close();
  }
  const [mine, base, coreOnly] = [summary(ours), summary(theirs), summary(cores)];
  const against = { 'baseline is': 'plain Fastify route, a constant', ...cells(base, 'baseline ') };
  rows.push({
    figure: `lookups/s, ${NODES} nodes, ${STREAMS} streams, ${CONNECTIONS} connections`, ...cells(mine), ...against, ratio: ratio(mine.median, base.median),
    ...judge(`>= ${THROUGHPUT_GOAL}x the plain route`, mine.median >= THROUGHPUT_GOAL * base.median, undefined,
      `the core's server answering the constant: ${ratio(coreOnly.median, base.median)} of the plain route; the lookup ${ratio(mine.median, coreOnly.median)} of that`),
  });
  rows.push({ figure: 'requests/s, the constant on the core\'s HTTP server', ...cells(coreOnly), ...against, ratio: ratio(coreOnly.median, base.median) });
}

async function evenness(rows: Row[]): Promise<void> {
  const nodes = Array.from({ length: 5 }, (_, n) => directoryNode(`equal-${n}`, { capacity: 1_000_000, ports: { main: 20_000 } }));
  const lookups = await serveLookups(new StandInSnapshot('equal-0', nodes));
  const answered = new Map<string, number>();
  try {
    await inFlight(Array.from({ length: LOOKUPS }), 16, async () => {
      const answer = await fetch(`${lookups.url}/streammanager/api/2.0/event/live/main?action=broadcast`);
      const { serverAddress } = (await answer.json()) as { serverAddress: string };
      answered.set(serverAddress, (answered.get(serverAddress) ?? 0) + 1);
    });
  } finally {
    await lookups.close();
  }
  const random = new Map<number, number>();
  for (let i = 0; i < LOOKUPS; i++) {
    const n = Math.floor(Math.random() * nodes.length);
    random.set(n, (random.get(n) ?? 0) + 1);
  }
  const spreadOf = (counts: number[]) => (counts.length < nodes.length ? Infinity : Math.max(...counts) / Math.min(...counts));
  const [mine, base] = [spreadOf([...answered.values()]), spreadOf([...random.values()])];
  rows.push({
    figure: `busiest/idlest of ${LOOKUPS} lookups over 5 equal nodes, no report between`, value: Number(mine.toFixed(3)),
    'baseline is': 'uniform random pick', baseline: Number(base.toFixed(3)), ratio: ratio(mine, base),
    ...judge(`<= ${EVENNESS_GOAL}`, mine <= EVENNESS_GOAL),
  });
}

/** SRT ports of this benchmark (23000-23299), 50 to a node. */
const SRT_PORTS = 23_000;

/**
 * Runs `measure` on a cluster in this process: a node for each env given (ids node-0, node-1...), on one fresh
 * PostgreSQL database, all stopped and dropped after. Without PostgreSQL, rows saying the figures are skipped.
 */
async function onCluster(figures: string[], rows: Row[], envs: Array<Record<string, string>>, measure: (nodes: Running[], databaseUrl: string) => Promise<void>): Promise<void> {
  if (!postgresAvailable) {
    rows.push(...figures.map((figure) => ({ figure, verdict: 'skipped: PostgreSQL not reachable' })));
    return;
  }
  const databaseUrl = (await postgresDatabase.create())!;
  const nodes: Running[] = [];
  try {
    for (const [i, env] of envs.entries()) {
      const ports = SRT_PORTS + 50 * i;
      nodes.push(await startInProcess(postgresDatabase, {
        ONAIR_NODE_ID: `node-${i}`, ONAIR_NODE_REPORT_INTERVAL: 'PT0.2S', ONAIR_SRT_PORT_START: String(ports), ONAIR_SRT_PORT_END: String(ports + 49), ...env,
      }, databaseUrl));
    }
    await measure(nodes, databaseUrl);
  } finally {
    for (const node of nodes) await node.stop();
    await postgresDatabase.drop(databaseUrl);
  }
}

/** First audio at a listener, who then leaves. */
async function firstAudio(url: string): Promise<number> {
  const heard = audioListener(url);
  try {
    return await heard.firstAudio;
  } finally {
    heard.close();
  }
}

/** The edge's one relay ffmpeg (this process's child pulling with the relay header), `expected` if given. */
function oneRelay(expected?: number): number {
  const relays = ffmpegChildren().filter((pid) => commandLine(pid).includes('X-Onair-Relay'));
  if (relays.length !== 1 || (expected !== undefined && relays[0] !== expected)) throw new Error(`relays ${relays}, expected one${expected ? `: ${expected}` : ''}`);
  return relays[0]!;
}

const EDGE_FIGURES = ['edge listener first audio, relay to start, ms', 'edge listener first audio, relay running, ms'];

/**
 * An origin and an edge in this process; a tone on air at the origin. Each round: a listener at the origin (the
 * baseline), then, once the edge's relay has lingered out, one at the edge that starts it, and one more that joins it.
 */
async function edgeFirstAudio(rows: Row[]): Promise<void> {
  await onCluster(EDGE_FIGURES, rows, [{ ONAIR_NODE_ROLES: 'origin' }, { ONAIR_NODE_ROLES: 'edge', ONAIR_EDGE_LINGER: 'PT0.3S' }], async ([origin, edge]) => {
    const source = pushTone(await reserveNow(origin.url), { seconds: 3600 });
    const [atOrigin, cold, warm]: number[][] = [[], [], []];
    try {
      await waitFor(async () => (await edge.request('GET', '/channels/main/check')).body.state === 'publishing', 'the show on air, as the edge sees it', 15_000);
      for (let i = 0; i < FIRST_AUDIO_SAMPLES; i++) {
        atOrigin.push(await firstAudio(`${origin.url}/listen`));
        await waitFor(() => edge.onair.gate.gate.localLoad().channels.length === 0, 'the edge\'s relay to linger out', 5_000);
        const starting = audioListener(`${edge.url}/listen`);
        try {
          cold.push(await starting.firstAudio);
          const relay = oneRelay();
          warm.push(await firstAudio(`${edge.url}/listen`));
          oneRelay(relay);
        } finally {
          starting.close();
        }
      }
    } finally {
      source.child.kill('SIGKILL');
      await source.exited;
    }
    const base = summary(atOrigin);
    const against = { 'baseline is': 'first audio at the origin', ...cells(base, 'baseline ') };
    const baselineOff = (goal: number) => (tail(base) >= goal ? `origin ${tail(base).toFixed(1)} ms` : undefined);
    for (const [figure, values, goal] of [[EDGE_FIGURES[0]!, cold, COLD_GOAL_MS], [EDGE_FIGURES[1]!, warm, WARM_GOAL_MS]] as const) {
      const ours = summary(values);
      rows.push({ figure, ...cells(ours), ...against, ratio: ratio(ours.median, base.median), ...judge(`< ${goal}`, tail(ours) < goal, baselineOff(goal)) });
    }
  });
}

/** Fails after `ms` unless `promise` settles first. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A bare NOTIFY from one connection until another that LISTENs hears it, ms. */
async function notifyRoundTrip(listening: pg.Client, sending: pg.Client): Promise<number> {
  const heard = new Promise<void>((resolve) => listening.once('notification', () => resolve()));
  const start = performance.now();
  await sending.query('NOTIFY onair_bench');
  await within(heard, 5_000, 'a bare NOTIFY');
  return performance.now() - start;
}

const STATES_FIGURE = 'node drained/resumed on one instance -> seen in the snapshot of each other, ms';

/**
 * Three instances; the first drains and resumes the third STATE_CHANGES times in turn, and the snapshots of the other
 * two say when they show each change (onChange). A bare NOTIFY round trip after each change is the baseline.
 */
async function statesSeen(rows: Row[]): Promise<void> {
  await onCluster([STATES_FIGURE], rows, [{}, {}, {}], async (nodes, databaseUrl) => {
    const [listening, sending] = [new pg.Client({ connectionString: databaseUrl }), new pg.Client({ connectionString: databaseUrl })];
    await Promise.all([listening.connect(), sending.connect()]);
    const [seen, bare]: number[][] = [[], []];
    try {
      await listening.query('LISTEN onair_bench');
      const [admin, ...others] = nodes.map((running) => running.onair.directory);
      const target = 'node-2';
      await waitFor(() => others.every((d) => d.snapshot.nodes().filter((n) => n.state === 'INSERVICE').length === 3), 'three nodes in service everywhere', 15_000);
      let change: { state: NodeState; start: number; left: Set<unknown>; done(): void } | undefined;
      for (const directory of others) {
        directory.snapshot.onChange(() => {
          if (!change?.left.has(directory) || directory.snapshot.node(target)?.state !== change.state) return;
          seen.push(performance.now() - change.start);
          change.left.delete(directory);
          if (change.left.size === 0) change.done();
        });
      }
      for (let i = 0; i < STATE_CHANGES; i++) {
        const all = Promise.withResolvers<void>();
        const state = i % 2 === 0 ? 'SOFT_SUNSET' : 'INSERVICE';
        change = { state, start: performance.now(), left: new Set(others), done: all.resolve };
        await (state === 'SOFT_SUNSET' ? admin!.admin.drain(target) : admin!.admin.resume(target));
        await within(all.promise, 5_000, `${target} ${state} everywhere`);
        bare.push(await notifyRoundTrip(listening, sending));
      }
    } finally {
      await Promise.all([listening.end(), sending.end()]);
    }
    const [ours, base] = [summary(seen), summary(bare)];
    rows.push({
      figure: STATES_FIGURE, ...cells(ours), 'baseline is': 'bare LISTEN/NOTIFY round trip', ...cells(base, 'baseline '), ratio: ratio(ours.median, base.median),
      ...judge(`p99 < ${SEEN_GOAL_MS}`, tail(ours) < SEEN_GOAL_MS, tail(base) >= SEEN_GOAL_MS ? `bare p99 ${tail(base).toFixed(1)} ms` : undefined),
    });
  });
}

const only = option('only')?.split(',');
const chosen = (part: string) => only === undefined || only.includes(part);
printConditions('directory');
const rows: Row[] = [];
if (chosen('lookups')) await attempt('lookups/s', () => throughput(rows));
if (chosen('evenness')) await attempt('evenness', () => evenness(rows));
if (chosen('edge')) await attempt('edge first audio', () => edgeFirstAudio(rows));
if (chosen('states')) await attempt('node states seen', () => statesSeen(rows));
printTable('directory', rows);
finish();
