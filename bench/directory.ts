// Directory figures, each beside a baseline from the same run: stream manager lookups per second through the real
// route on the core's HTTP server (100 nodes, 1,000 streams in the snapshot), beside a plain Fastify route answering a
// constant, loaded the same way (keep-alive connections from a worker thread); and how evenly 10,000 lookups through
// the route spread over 5 equal nodes between two reports, beside a uniform random pick.
// Goals from issue 13: >= 0.8x the plain route; busiest/idlest <= 1.1.
// npx node bench/directory.ts [--quick] [--seconds=5] [--connections=32]
import Fastify from 'fastify';
import { Worker } from 'node:worker_threads';
import type { DirectoryNode, NodeStream } from '../src/directory/contract.ts';
import { directoryNode } from '../test/directory/nodes.ts';
import { StandInSnapshot } from '../test/directory/snapshot.ts';
import { serveLookups } from '../test/directory/lookups.ts';
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

/** Keeps CONNECTIONS requests in flight over keep-alive connections for SECONDS; posts how many were answered 200. */
const LOAD = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { url, paths, seconds, connections } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
let answered = 0, failed = 0, next = 0;
const until = Date.now() + seconds * 1000;
const one = () => new Promise((resolve) => {
  const request = http.get(url + paths[next++ % paths.length], { agent }, (response) => {
    response.resume();
    response.on('end', () => { if (response.statusCode === 200) answered++; else failed++; resolve(); });
  });
  request.on('error', () => { failed++; resolve(); });
});
const lane = async () => { while (Date.now() < until) await one(); };
Promise.all(Array.from({ length: connections }, lane)).then(() => { agent.destroy(); parentPort.postMessage({ answered, failed }); });
`;

function load(url: string, paths: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LOAD, { eval: true, workerData: { url, paths, seconds: SECONDS, connections: CONNECTIONS } });
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

async function throughput(rows: Row[]): Promise<void> {
  const lookups = await serveLookups({ snapshot: new StandInSnapshot('node-0', registry()), gate });
  const plain = Fastify();
  const constant = { name: 'stream-1', scope: '/live', serverAddress: 'node-1.example', region: 'eu-west' };
  plain.get('/streammanager/api/2.0/event/:scope/:stream', async () => constant);
  const plainUrl = await plain.listen({ host: '127.0.0.1', port: 0 });
  const paths = Array.from({ length: 1000 }, (_, i) => {
    const action = i % 4 === 0 ? 'broadcast' : 'subscribe';
    return `/streammanager/api/2.0/event/live/${streamName((i * 7919) % STREAMS)}?action=${action}&region=${REGIONS[i % REGIONS.length]}`;
  });
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      theirs.push(await load(plainUrl, paths));
      ours.push(await load(lookups.url, paths));
    }
  } finally {
    await lookups.close();
    await plain.close();
  }
  const [mine, base] = [summary(ours), summary(theirs)];
  rows.push({
    figure: `lookups/s, ${NODES} nodes, ${STREAMS} streams, ${CONNECTIONS} connections`, ...cells(mine),
    'baseline is': 'plain Fastify route, a constant', ...cells(base, 'baseline '), ratio: ratio(mine.median, base.median),
    ...judge(`>= ${THROUGHPUT_GOAL}x the plain route`, mine.median >= THROUGHPUT_GOAL * base.median),
  });
}

async function evenness(rows: Row[]): Promise<void> {
  const nodes = Array.from({ length: 5 }, (_, n) => directoryNode(`equal-${n}`, { capacity: 1_000_000 }));
  const lookups = await serveLookups({ snapshot: new StandInSnapshot('equal-0', nodes), gate });
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
