// Directory figures, each beside a baseline from the same run: stream manager lookups per second through the real
// route on the core's HTTP server (100 nodes, 1,000 streams in the snapshot), beside a plain Fastify route answering a
// constant, loaded the same way (keep-alive connections from a worker thread); and how evenly 10,000 lookups through
// the route spread over 5 equal nodes between two reports, beside a uniform random pick.
// Goals from issue 13: >= 0.8x the plain route; busiest/idlest <= 1.1.
// npx node bench/directory.ts [--quick] [--seconds=5] [--connections=32]
import { Worker } from 'node:worker_threads';
import Fastify from 'fastify';
import { pino } from 'pino';
import { Type } from 'typebox';
import { systemClock } from '../src/core/clock.ts';
import { loadConfig } from '../src/core/config.ts';
import { createHttpServer } from '../src/core/http/server.ts';
import { createMetrics } from '../src/core/metrics.ts';
import type { DirectoryNode, NodeStream } from '../src/directory/contract.ts';
import { directoryNode, StandInSnapshot } from '../test/directory/stand-ins.ts';
import { serveLookups } from './lookups.ts';
import { attempt, cells, finish, inFlight, judge, option, printConditions, printTable, quick, ratio, summary, type Row } from './support.ts';

const NODES = 100;
const STREAMS = 1000;
const REGIONS = ['eu-central', 'eu-west', 'us-east', 'us-west', 'ap-south'];
const SECONDS = Number(option('seconds') ?? (quick ? 2 : 5));
const ROUNDS = quick ? 1 : 3;
const CONNECTIONS = Number(option('connections') ?? 32);
const LOOKUPS = 10_000;
const THROUGHPUT_GOAL = 0.8;
const EVENNESS_GOAL = 1.1;

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
    streams: carried.get(n) ?? [], reportedAt: Date.now(),
  }));
}

const gate = { channel: async (name: string) => ({ name, port: 20_000, configured: false, static: true, fallback: null as never, appKey: 'live' }) };

const CONSTANT = { name: 'stream-1', scope: '/live', serverAddress: 'node-1.example', region: 'eu-west' };
const ROUTE = '/streammanager/api/2.0/event/:scope/:stream';

/** The same constant on the core's HTTP server (its access rule, deadline, metrics, validation): what the core costs. */
async function coreConstant(): Promise<{ url: string; close(): Promise<unknown> }> {
  const app = await createHttpServer({ clock: systemClock, logger: pino({ level: 'silent' }), metrics: createMetrics(), apiKey: undefined, http: loadConfig({}).http, version: 'bench' });
  app.get(ROUTE, { config: { access: 'public' }, schema: { querystring: Type.Object({ action: Type.String(), region: Type.String() }) } }, async () => CONSTANT);
  return { url: await app.listen({ host: '127.0.0.1', port: 0 }), close: () => app.close() };
}

async function throughput(rows: Row[]): Promise<void> {
  const lookups = await serveLookups(new StandInSnapshot('node-0', registry()), gate);
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
  const nodes = Array.from({ length: 5 }, (_, n) => directoryNode(`equal-${n}`, { capacity: 1_000_000 }));
  const lookups = await serveLookups(new StandInSnapshot('equal-0', nodes), gate);
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

printConditions('directory');
const rows: Row[] = [];
await attempt('lookups/s', () => throughput(rows));
await attempt('evenness', () => evenness(rows));
printTable('directory lookups', rows);
finish();
