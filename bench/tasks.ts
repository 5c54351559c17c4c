import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import { sql } from 'kysely';
import pg from 'pg';
import { Type } from 'typebox';
import type { BusEvent } from '../src/core/events/bus.ts';
import { TickBatcher } from '../src/tasks/batch.ts';
import { CLAIM_AHEAD_MS } from '../src/tasks/engine.ts';
import type { NewTask } from '../src/tasks/store.ts';
import {
  attempt, cells, finish, fixed, inFlight, judge, option, postgresDatabase, preciseNow, printConditions, printTable, quick, ratio,
  pingsWhile, probesWhile, startInProcess, summary, tail, testDatabases, timerLateness, waitFor, type Row, type Running, type Summary,
} from './support.ts';

/**
 * Task engine benchmarks: how late `at` tasks fire (beside plain setTimeout timers for the same due
 * times), how many no-op tasks per second go through (beside the bare SQL floor, batched as the engine
 * batches, and, on PostgreSQL, graphile-worker), and GET /tasks over a long history (beside one SELECT,
 * with /ping meanwhile). Run: npx node bench/tasks.ts [--quick] [--database=sqlite|postgres]
 * [--only=throughput,http,lateness,waiting,lists]
 */

const SUBMIT_WINDOW = 64;
const HTTP_WINDOW = 32;
const FIRE_SECONDS = quick ? 2 : 3;
const RATES = quick ? [100, 500] : [100, 500, 1000];
const WAITING = quick ? 20_000 : 100_000;
const THROUGHPUT = { sqlite: quick ? 2_000 : 20_000, postgres: quick ? 1_000 : 8_000 };
const HTTP_TASKS = quick ? 1_000 : 4_000;
const LISTED = quick ? 10_000 : 50_000;
const LIST_REQUESTS = quick ? 10 : 30;
const PROBE = 'bench-probe';
const LATENESS_GOAL_P99 = 5;
const ROUND_TRIP_EVERY_MS = 10;
const THROUGHPUT_GOAL_SQLITE = 5_000;
// Throughput is measured this many times, each over thousands of tasks.
const RUNS = quick ? 1 : 3;

type Engine = Running['onair']['tasks']['engine'];
const engineOf = (running: Running): Engine => running.onair.tasks.engine;

/** A no-op operation that notes when it was invoked: lateness is measured there, where a broadcast would start. */
function registerProbe(running: Running): Map<string, number> {
  const invoked = new Map<string, number>();
  running.onair.tasks.operations.register({
    type: PROBE, summary: 'Benchmark probe', parameters: Type.Record(Type.String(), Type.Unknown()),
    run: async ({ task }) => {
      invoked.set(task.id, preciseNow());
      return null;
    },
  });
  return invoked;
}

/** Due times spread evenly over FIRE_SECONDS at `rate` per second, starting at `first`. */
function schedule(rate: number, first: number): number[] {
  return Array.from({ length: rate * FIRE_SECONDS }, (_, i) => first + Math.floor((i * 1000) / rate));
}

/**
 * A commit that waits as the claim's does: on PostgreSQL txid_current() takes a transaction id, so its commit is
 * flushed to disk; SQLite commits without an fsync (WAL, synchronous = NORMAL), so a plain SELECT.
 */
function commitProbe(running: Running): Promise<unknown> {
  const { kysely, dialect } = running.onair.database;
  return (dialect === 'postgres' ? sql`SELECT txid_current()` : sql`SELECT 1`).execute(kysely);
}

interface Lateness {
  invoked: Summary;
  timers: Summary;
  /** commitProbe through the engine's handle meanwhile: how fast the database committed. */
  database: Summary;
  overrunMs: number;
}

async function engineLateness(running: Running, invoked: Map<string, number>, rate: number): Promise<Lateness> {
  const engine = engineOf(running);
  const count = rate * FIRE_SECONDS;
  // Enough lead for every submission to land before the first is due; an overrun is reported.
  const first = Date.now() + 1500 + count * (running.onair.database.dialect === 'postgres' ? 1.5 : 0.5);
  const dues = schedule(rate, first);
  const records = await inFlight(dues, SUBMIT_WINDOW, (due) => engine.submit({
    operation: { type: PROBE, parameters: {} },
    condition: { type: 'at', parameters: { datetime: new Date(due).toISOString() } },
  }));
  const overrunMs = Math.max(0, Date.now() - first);
  const timers = timerLateness(dues);
  const ids = records.map((r) => r.task.id);
  const allRun = waitFor(() => ids.every((id) => invoked.has(id)), `${count} probes to run`, 60_000 + FIRE_SECONDS * 1000, 50);
  const database = probesWhile(allRun, ROUND_TRIP_EVERY_MS, () => commitProbe(running));
  await allRun;
  const late = ids.map((id, i) => invoked.get(id)! - dues[i]!);
  return { invoked: summary(late), timers: summary(await timers), database: summary(await database), overrunMs };
}

/** Puts `count` far-future `at` tasks in the table and waits until the engine has moved them to waiting. */
async function fillWaiting(running: Running, count: number): Promise<void> {
  const engine = engineOf(running);
  const base = Date.now() + 86_400_000;
  for (let i = 0; i < count; i += 5_000) {
    const batch: NewTask[] = Array.from({ length: Math.min(5_000, count - i) }, (_, j) => {
      const dueAt = base + (i + j) * 10;
      return {
        id: randomUUID(), operation: { type: 'test', parameters: {} },
        condition: { type: 'at', parameters: { datetime: new Date(dueAt).toISOString() } }, dependencies: {}, dueAt,
        enqueuedAt: Date.now(),
      };
    });
    await engine.store.insert(batch);
  }
  // A due task makes the engine pass, which dequeues the new ones.
  await engine.submit({ operation: { type: 'test', parameters: {} } });
  await waitFor(async () => {
    const counts = await engine.store.countByStatus();
    return (counts.find((c) => c.status === 'waiting')?.count ?? 0) >= count;
  }, `${count} tasks to wait`, 120_000, 200);
}

function latenessRow(database: string, load: string, l: Lateness): Row {
  // A baseline that is itself late says the machine was busy: the ratio still compares, the goal cannot be judged. So
  // does a database slower to commit than the engine's lead over the due time (its disk shared with other work).
  const timersLate = tail(l.timers) > LATENESS_GOAL_P99 ? `setTimeout p99 ${fixed(tail(l.timers))} ms` : undefined;
  const databaseSlow = tail(l.database) > CLAIM_AHEAD_MS ? `a commit p99 ${fixed(tail(l.database))} ms, over the ${CLAIM_AHEAD_MS} ms claim lead` : undefined;
  const overrun = l.overrunMs > 0 ? [`submission overran first due time by ${l.overrunMs} ms`] : [];
  return {
    database, load, ...cells(l.invoked), ...cells(l.timers, 'setTimeout '), 'p99 vs setTimeout': ratio(tail(l.invoked), tail(l.timers)),
    'commit median': l.database.median, 'commit p99': tail(l.database),
    ...judge(`p99 <= ${LATENESS_GOAL_P99} ms`, tail(l.invoked) <= LATENESS_GOAL_P99, timersLate ?? databaseSlow, ...overrun),
  };
}

/** Milliseconds of each of `count` requests in turn. */
async function listTimes(running: Running, path: string, count: number): Promise<number[]> {
  const each: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    const response = await fetch(`${running.url}${path}`);
    if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}`);
    await response.arrayBuffer();
    each.push(performance.now() - start);
  }
  return each;
}

/** The least the whole list costs: the same ids read with one statement through the same Kysely handle. */
async function listFloor(running: Running, count: number): Promise<number[]> {
  const each: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await running.onair.database.kysely.selectFrom('tasks').select(['id', 'status']).execute();
    each.push(performance.now() - start);
  }
  return each;
}

async function cleanAll(running: Running): Promise<void> {
  const answer = await running.request('POST', '/tasks/clean', { strategy: { type: 'all' } });
  if (answer.status !== 200) throw new Error(`POST /tasks/clean answered ${answer.status} ${JSON.stringify(answer.body)}`);
}

/** Resolves once `count` tasks of `operation` have completed, counting from now. */
function completions(running: Running, operation: string, count: number): Promise<void> {
  return new Promise((resolve) => {
    let done = 0;
    const unsubscribe = running.onair.bus.subscribe((event: BusEvent) => {
      const data = event.data as { operation?: string; status?: string };
      if (event.type !== 'task-status-changed' || data.status !== 'completed' || data.operation !== operation) return;
      if (++done === count) {
        unsubscribe();
        resolve();
      }
    });
  });
}

/** No-op tasks submitted through the engine interface: created, run, completed. */
async function engineThroughput(running: Running, count: number): Promise<{ perSecond: number; submitPerSecond: number }> {
  const engine = engineOf(running);
  const allDone = completions(running, 'test', count);
  const start = performance.now();
  await inFlight(Array.from({ length: count }), SUBMIT_WINDOW, () => engine.submit({ operation: { type: 'test', parameters: {} } }));
  const submitted = performance.now();
  await allDone;
  const ms = performance.now() - start;
  return { perSecond: (count * 1000) / ms, submitPerSecond: (count * 1000) / (submitted - start) };
}

/** One statement per event-loop turn for everything asked of it in that turn, as the engine writes (its TickBatcher). */
function perTurn<T>(write: (items: T[]) => Promise<unknown>): (item: T) => Promise<void> {
  const batcher = new TickBatcher<T, void>(async (items) => {
    await write(items);
    return items.map(() => undefined);
  });
  return (item) => batcher.add(item);
}

/**
 * The least SQL the same life needs (insert, claim, finish) through the same Kysely handle, no engine, with the
 * engine's advantages: as many tasks in flight, and each step batched per event-loop turn like the engine's.
 */
async function sqlFloor(running: Running, count: number): Promise<number> {
  const { store } = engineOf(running);
  const db = running.onair.database.kysely;
  const owner = randomUUID();
  const insert = perTurn((tasks: NewTask[]) => store.insert(tasks));
  const claim = perTurn((ids: string[]) => db.updateTable('tasks').set({ status: 'running', started_at: Date.now(), owner, epoch: 1 })
    .where('id', 'in', ids).execute());
  // The engine records each end in the outbox with it: so does the floor.
  const end = perTurn((ids: string[]) => store.finish(ids.map((id) => ({ id, operation: 'floor', owner, epoch: 1, outcome: { completed: Date.now(), result: null } })),
    (trx, written) => running.onair.bus.record(trx, 'task-status-changed', written.map(({ id }) => ({ id, operation: 'floor', status: 'completed' as const })))));
  const start = performance.now();
  await inFlight(Array.from({ length: count }), SUBMIT_WINDOW, async () => {
    const id = randomUUID();
    const now = Date.now();
    await insert({ id, operation: { type: 'floor', parameters: {} }, condition: { type: 'now', parameters: {} }, dependencies: {}, dueAt: now + 86_400_000, enqueuedAt: now });
    await claim(id);
    await end(id);
  });
  return (count * 1000) / (performance.now() - start);
}

/** POST /tasks from an HTTP client in this process, beside GET /ping at the same concurrency. */
async function httpThroughput(running: Running, count: number): Promise<{ perSecond: number; postPerSecond: number; pingPerSecond: number }> {
  const post = async () => {
    const response = await fetch(`${running.url}/tasks`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ operation: { type: 'test', parameters: {} } }),
    });
    await response.arrayBuffer();
    if (response.status !== 201) throw new Error(`POST /tasks answered ${response.status}`);
  };
  const ping = async () => {
    const response = await fetch(`${running.url}/ping`);
    await response.arrayBuffer();
  };
  const pingStart = performance.now();
  await inFlight(Array.from({ length: count }), HTTP_WINDOW, ping);
  const pingPerSecond = (count * 1000) / (performance.now() - pingStart);
  const allDone = completions(running, 'test', count);
  const start = performance.now();
  await inFlight(Array.from({ length: count }), HTTP_WINDOW, post);
  const posted = performance.now();
  await allDone;
  return { perSecond: (count * 1000) / (performance.now() - start), postPerSecond: (count * 1000) / (posted - start), pingPerSecond };
}

const silent = new Logger(() => () => {});

/** graphile-worker doing the same: add `count` jobs of a no-op task one by one while a worker runs them. */
async function graphileThroughput(count: number, preset: GraphileConfig.Preset | undefined): Promise<number> {
  const url = await postgresDatabase.create();
  const pgPool = new pg.Pool({ connectionString: url, max: 10 });
  pgPool.on('error', () => {});
  pgPool.on('connect', (client) => client.on('error', () => {}));
  try {
    const utils = await makeWorkerUtils({ pgPool, logger: silent });
    await utils.migrate();
    let done = 0;
    let finished!: () => void;
    const allDone = new Promise<void>((resolve) => (finished = resolve));
    const runner = await run({
      pgPool, concurrency: 10, noHandleSignals: true, pollInterval: 1000, logger: silent,
      taskList: { noop: async () => {} }, ...(preset ? { preset } : {}),
    });
    runner.events.on('job:complete', () => {
      if (++done === count) finished();
    });
    const start = performance.now();
    await inFlight(Array.from({ length: count }), SUBMIT_WINDOW, () => utils.addJob('noop', {}));
    await allDone;
    const perSecond = (count * 1000) / (performance.now() - start);
    await runner.stop();
    await utils.release();
    return perSecond;
  } finally {
    await pgPool.end();
    await postgresDatabase.drop(url);
  }
}

const GRAPHILE_BATCHED: GraphileConfig.Preset = { worker: { localQueue: { size: 100 }, completeJobBatchDelay: 0 } };

interface Section {
  name: string;
  run(database: 'sqlite' | 'postgres', running: Running, invoked: Map<string, number>): Promise<void>;
}

const latenessRows: Row[] = [];
const listRows: Row[] = [];
const PING_GOAL_MS = 50;
const PING_EVERY_MS = 5;
const IDLE_PINGS_MS = 1000;
const throughputRows: Row[] = [];

const GRAPHILE_SETTINGS = [
  ['graphile-worker 0.18 (concurrency 10)', undefined],
  ['graphile-worker 0.18 (+localQueue 100, batched completion)', GRAPHILE_BATCHED],
] as const;

const sections: Section[] = [
  {
    name: 'throughput',
    async run(database, running) {
      const count = THROUGHPUT[database];
      // Floor and engine in turns, each from a table without finished tasks, so that both meet the same conditions.
      const floors: number[] = [];
      const engines: Array<{ perSecond: number; submitPerSecond: number }> = [];
      for (let i = 0; i < RUNS; i++) {
        floors.push(await sqlFloor(running, count));
        await cleanAll(running);
        engines.push(await engineThroughput(running, count));
        await cleanAll(running);
      }
      const [engine, floor] = [summary(engines.map((e) => e.perSecond)), summary(floors)];
      const row = { database, path: 'engine.submit', tasks: count, ...cells(engine), 'submit/s': summary(engines.map((e) => e.submitPerSecond)).median };
      const floorLow = floor.median < THROUGHPUT_GOAL_SQLITE ? `SQL floor ${fixed(floor.median, 0)}/s` : undefined;
      throughputRows.push({
        ...row, 'baseline is': 'SQL floor (insert, claim, finish; batched per turn)', ...cells(floor, 'baseline '), ratio: ratio(engine.median, floor.median),
        ...(database === 'sqlite' ? judge(`median >= ${THROUGHPUT_GOAL_SQLITE}/s`, engine.median >= THROUGHPUT_GOAL_SQLITE, floorLow) : {}),
      });
      if (database !== 'postgres') return;
      for (const [label, preset] of GRAPHILE_SETTINGS) {
        const graphile: number[] = [];
        for (let i = 0; i < RUNS; i++) graphile.push(await graphileThroughput(count, preset));
        const theirs = summary(graphile);
        throughputRows.push({
          ...row, 'baseline is': label, ...cells(theirs, 'baseline '), ratio: ratio(engine.median, theirs.median),
          ...judge('median ahead', engine.median > theirs.median),
        });
      }
    },
  },
  {
    name: 'http',
    async run(database, running) {
      const runs: Array<{ perSecond: number; postPerSecond: number; pingPerSecond: number }> = [];
      for (let i = 0; i < RUNS; i++) {
        runs.push(await httpThroughput(running, HTTP_TASKS));
        await cleanAll(running);
      }
      const [posts, pings] = [summary(runs.map((r) => r.perSecond)), summary(runs.map((r) => r.pingPerSecond))];
      throughputRows.push({
        database, path: 'POST /tasks', tasks: HTTP_TASKS, ...cells(posts), 'submit/s': summary(runs.map((r) => r.postPerSecond)).median,
        'baseline is': `GET /ping (${HTTP_WINDOW} in flight)`, ...cells(pings, 'baseline '), ratio: ratio(posts.median, pings.median),
      });
    },
  },
  {
    name: 'lateness',
    async run(database, running, invoked) {
      for (const rate of RATES) {
        latenessRows.push(latenessRow(database, `${rate}/s`, await engineLateness(running, invoked, rate)));
      }
    },
  },
  {
    name: 'waiting',
    async run(database, running, invoked) {
      await fillWaiting(running, WAITING);
      latenessRows.push(latenessRow(database, `500/s + ${WAITING} waiting`, await engineLateness(running, invoked, 500)));
    },
  },
  {
    name: 'lists',
    async run(database) {
      // Its own onair: the other sections leave waiting tasks behind that would change the size of the list.
      const running = await startInProcess(testDatabases.find((d) => d.name === database)!);
      try {
        await fillWaiting(running, LISTED);
        const floor = summary(await listFloor(running, LIST_REQUESTS));
        // The same pings with nothing else to do: slow ones then come from the machine, and the goal is not judged.
        const idle = summary(await pingsWhile(running.url, sleep(IDLE_PINGS_MS), PING_EVERY_MS));
        for (const path of ['/tasks', '/tasks?status=waiting&limit=100']) {
          const listing = listTimes(running, path, LIST_REQUESTS);
          const ping = summary(await pingsWhile(running.url, listing, PING_EVERY_MS));
          const each = summary(await listing);
          listRows.push({
            database, path, tasks: LISTED, ...cells(each), 'baseline is': 'SELECT id, status of every task', ...cells(floor, 'baseline '),
            ratio: ratio(each.median, floor.median), '/ping max': ping.max, 'idle /ping max': idle.max,
            ...judge(`/ping <= ${PING_GOAL_MS} ms`, ping.max <= PING_GOAL_MS, idle.max > PING_GOAL_MS ? `idle /ping max ${fixed(idle.max)} ms` : undefined),
          });
        }
      } finally {
        await running.stop();
      }
    },
  },
];

/**
 * One onair per database; the sections run in turn on it, each starting from a table without finished tasks. A
 * section that fails costs its own figures only.
 */
async function benchDatabase(database: 'sqlite' | 'postgres', chosen: Section[]): Promise<void> {
  const running = await startInProcess(testDatabases.find((d) => d.name === database)!);
  try {
    const invoked = registerProbe(running);
    for (const section of chosen) {
      process.stdout.write(`${database}: ${section.name}...\n`);
      await attempt(`${database} ${section.name}`, async () => {
        await cleanAll(running);
        await section.run(database, running, invoked);
      });
    }
  } finally {
    await running.stop();
  }
}

printConditions('bench/tasks.ts');
const onlyDatabase = option('database');
const onlySections = option('only')?.split(',');
const names = testDatabases.map((d) => d.name).filter((n) => onlyDatabase === undefined || n === onlyDatabase);
const chosen = sections.filter((s) => onlySections === undefined || onlySections.includes(s.name));
const began = performance.now();
for (const name of names) await attempt(name, () => benchDatabase(name, chosen));
printTable('Fire lateness of `at` tasks, ms: when the operation was called, minus its due time', latenessRows);
printTable('Throughput of no-op tasks (created, run, completed), in process', throughputRows);
printTable('GET /tasks over a long history: each request in turn, /ping every 5 ms meanwhile', listRows);
process.stdout.write(`\n${fixed((performance.now() - began) / 1000)} s\n`);
finish();
