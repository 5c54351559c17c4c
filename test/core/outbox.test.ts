import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import pg from 'pg';
import { ManualClock } from '../../src/core/clock.ts';
import { postgresAvailable, postgresDatabase, testDatabases, type TestDatabase } from '../support/databases.ts';
import { startOnair, tempDir, waitFor, type Running } from '../support/onair.ts';
import { spawnOnair, type OnairProcess } from '../support/process.ts';
import { sseFrames } from '../support/sse.ts';

interface Frame {
  id: number | undefined;
  event: string;
  data: any;
}

interface Follower {
  frames: Frame[];
  /** Settles once the response headers are in: from then on, every event reaches `frames`. */
  opened: Promise<void>;
  /** Settles when the stream ends, whatever ends it (a crash of the server, `close`). */
  ended: Promise<void>;
  close(): void;
}

/** An SSE client of `path`, resuming after `lastId` when given; it keeps every whole frame. */
function follow(base: string, path: string, lastId?: number): Follower {
  const controller = new AbortController();
  const frames: Frame[] = [];
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const ended = (async () => {
    try {
      const response = await fetch(`${base}${path}`, {
        signal: controller.signal, headers: lastId === undefined ? {} : { 'Last-Event-ID': String(lastId) },
      });
      assert.equal(response.status, 200);
      opened();
      for await (const frame of sseFrames(response.body!)) {
        if (frame.event !== undefined) frames.push({ ...frame, event: frame.event });
      }
    } catch {
      // Cut: by a crash of the server, or by close().
    }
  })();
  return { frames, opened: open, ended, close: () => controller.abort() };
}

const lastIdOf = (frames: Frame[]) => frames.findLast((f) => f.id !== undefined)!.id!;
const record = (server: Running, data: unknown[]) =>
  server.onair.bus.record(server.onair.database.kysely, 'outbox-test' as never, data as never[]);

interface OutboxRow {
  id: number;
  type: string;
  origin: string;
  data: any;
}

/** Every event of the outbox, read from the database itself. */
async function outbox(database: TestDatabase, url: string | undefined, dataDir: string): Promise<OutboxRow[]> {
  const query = 'SELECT id, type, origin, data FROM onair_events ORDER BY id';
  let rows: Array<Record<string, unknown>>;
  if (database.name === 'sqlite') {
    const db = new DatabaseSync(join(dataDir, 'onair.sqlite'), { readOnly: true });
    try {
      rows = db.prepare(query).all();
    } finally {
      db.close();
    }
  } else {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      rows = (await client.query(query)).rows;
    } finally {
      await client.end();
    }
  }
  return rows.map((r) => ({ id: Number(r.id), type: String(r.type), origin: String(r.origin), data: JSON.parse(String(r.data)) }));
}

/**
 * Resumes after `lastId` on `server` and reads until as many events as `expected` arrived, then until a task
 * submitted afterwards is announced: anything sent twice, or out of order, shows among those before it.
 */
async function resumed(server: OnairProcess, lastId: number, expected: OutboxRow[]): Promise<Frame[]> {
  const client = follow(server.url, '/sse?types=task-status-changed', lastId);
  try {
    await client.opened;
    await waitFor(() => client.frames.length >= expected.length, `${expected.length} events after ${lastId} from ${server.url}`, 30_000);
    const marker = await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} }, condition: { type: 'at', parameters: { datetime: '2999-01-01T00:00:00Z' } } });
    await waitFor(() => client.frames.some((f) => f.data.data.id === marker.body.task.id), 'the marker task to be announced');
    // Markers (this one, and those of earlier calls) come after the events expected.
    return client.frames.filter((f) => f.id! <= (expected.at(-1)?.id ?? lastId));
  } finally {
    client.close();
  }
}

const TASKS = 3000;
const FINISHED = ['completed', 'failed', 'cancelled'];

for (const database of testDatabases) {
  describe(`the outbox on ${database.name}`, () => {
    const instances = database.name === 'postgres' ? 'from either of two instances' : 'after the restart';
    test(`kill -9 in a burst of task completions: every completed task has its event, and a client resuming gets each one it missed once, ${instances}`, { timeout: 240_000 }, async () => {
      const url = await database.create();
      const dirs = database.name === 'postgres' ? [tempDir(), tempDir()] : [tempDir()];
      const env = (dir: string) => ({ ONAIR_DATA_DIR: dir, ONAIR_TASKS_LEASE_MS: '2000', ...(url ? { ONAIR_DATABASE_URL: url } : {}) });
      const servers: OnairProcess[] = [];
      try {
        for (const dir of dirs) servers.push(await spawnOnair(env(dir)));
        const before = follow(servers[0]!.url, '/sse?types=task-status-changed');
        await before.opened;
        // One due every two milliseconds from two seconds on: the completions come in a burst of six seconds.
        const first = Date.now() + 2000;
        const accepted: string[] = [];
        for (let i = 0; i < TASKS; i += 50) {
          const answers = await Promise.all(Array.from({ length: 50 }, (_, k) => servers[0]!.request('POST', '/tasks', {
            operation: { type: 'delay', parameters: { milliseconds: 20 } },
            condition: { type: 'at', parameters: { datetime: new Date(first + 2 * (i + k)).toISOString() } },
          })));
          for (const answer of answers) accepted.push(answer.body.task.id);
        }
        let counted = 0;
        let completions = 0;
        const completed = () => {
          for (; counted < before.frames.length; counted++) if (before.frames[counted]!.data.data.status === 'completed') completions++;
          return completions;
        };
        await waitFor(() => completed() >= TASKS / 4, 'a quarter of the tasks to complete', 60_000, 2);
        await servers[0]!.crash();
        await before.ended;
        assert.ok(completed() < TASKS, `killed in the burst (${completed()} completions seen)`);
        const lastId = lastIdOf(before.frames);
        servers[0] = await spawnOnair(env(dirs[0]!));

        const lists = await waitFor(async () => {
          const answer = (await servers[0]!.request('GET', '/tasks')).body as Record<string, string[]>;
          const finished = new Set(FINISHED.flatMap((s) => answer[s]!));
          return accepted.every((id) => finished.has(id)) ? answer : undefined;
        }, 'every task to finish', 120_000, 200);
        const events = (await outbox(database, url, dirs[0]!)).filter((e) => e.type === 'task-status-changed');
        for (const status of ['completed', 'failed'] as const) {
          const announced = events.filter((e) => e.data.status === status).map((e) => e.data.id as string).sort();
          assert.deepEqual(announced, [...lists[status]!].sort(), `each ${status} task has one ${status} event, and only those`);
        }
        assert.ok(lists.failed!.length < TASKS / 10, `${lists.failed!.length} interrupted`);

        const missed = events.filter((e) => e.id > lastId);
        process.stdout.write(`# killed with ${completed()} of ${TASKS} completions seen, ${lists.failed!.length} tasks interrupted; ${missed.length} events to resume\n`);
        for (const server of servers) {
          const frames = await resumed(server, lastId, missed);
          assert.deepEqual(frames.map((f) => f.id), missed.map((e) => e.id), `${server.url} sends every event after ${lastId} once, in order`);
          const seen = [...before.frames, ...frames].filter((f) => f.data.data.status === 'completed').map((f) => f.data.data.id as string);
          assert.deepEqual(seen.sort(), [...lists.completed!].sort(), 'before and after the crash, every completion once');
        }
      } finally {
        for (const server of servers) if (server.child.exitCode === null) await server.stop();
        await database.drop(url);
        for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
      }
    });

    test('Last-Event-ID resumes across a restart: what was missed, then what came after, with ids that go on increasing', async () => {
      const url = await database.create();
      const dataDir = tempDir();
      let server = await startOnair({ database, databaseUrl: url, dataDir });
      try {
        const first = follow(server.url, '/sse?types=outbox-test');
        await first.opened;
        await record(server, [1, 2, 3]);
        await waitFor(() => first.frames.length === 3, 'the first three events');
        first.close();
        const lastId = lastIdOf(first.frames);
        await record(server, [4, 5]);
        await server.stop();
        server = await startOnair({ database, databaseUrl: url, dataDir });
        await record(server, [6]);
        const again = follow(server.url, '/sse?types=outbox-test', lastId);
        await waitFor(() => again.frames.length === 3, 'the events after the last one received');
        again.close();
        assert.deepEqual(again.frames.map((f) => f.data.data), [4, 5, 6]);
        const ids = [...first.frames, ...again.frames].map((f) => f.id!);
        assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
        assert.equal(new Set(ids).size, 6);
      } finally {
        await server.stop();
        await database.drop(url);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    test('the daily clean removes events older than ONAIR_EVENTS_RETENTION; a client resuming from further back is told, then gets what is kept', async () => {
      const clock = new ManualClock(Date.parse('2026-04-30T04:00:00Z'));
      const server = await startOnair({ database, clock, env: { ONAIR_EVENTS_RETENTION: 'PT12H' } });
      const kept = async () => (await outbox(database, server.config.databaseUrl, server.config.dataDir)).filter((e) => e.type === 'outbox-test').map((e) => e.data);
      try {
        await record(server, ['oldest']);
        clock.set(Date.parse('2026-04-30T16:00:00Z'));
        await record(server, ['old']);
        // At 03:30 on May 1, everything from before 15:30 on April 30 goes.
        clock.set(Date.parse('2026-05-01T03:30:00Z'));
        await waitFor(async () => (await kept()).length === 1, 'the oldest event to be removed');
        clock.set(Date.parse('2026-05-01T16:00:00Z'));
        await record(server, ['newer']);
        clock.set(Date.parse('2026-05-02T03:29:59Z'));
        assert.deepEqual(await kept(), ['old', 'newer'], 'nothing before its time');
        const before = await outbox(database, server.config.databaseUrl, server.config.dataDir);
        clock.set(Date.parse('2026-05-02T03:30:00Z'));
        await waitFor(async () => (await kept()).length === 1, 'the old event to be removed');
        assert.deepEqual(await kept(), ['newer']);
        const left = new Set((await outbox(database, server.config.databaseUrl, server.config.dataDir)).map((e) => e.id));
        const cleaned = Math.max(...before.filter((e) => !left.has(e.id)).map((e) => e.id));
        const resumed = follow(server.url, '/sse?types=outbox-test', 0);
        await waitFor(() => resumed.frames.length === 2, 'a word on what was removed, then what is kept');
        resumed.close();
        const [missed, newer] = resumed.frames;
        assert.deepEqual([missed!.id, missed!.event, missed!.data.data.after, missed!.data.data.through], [undefined, 'events-missed', 0, cleaned]);
        assert.equal(newer!.data.data, 'newer');
        const current = follow(server.url, '/sse?types=outbox-test', cleaned);
        await waitFor(() => current.frames.length === 1, 'what is kept');
        current.close();
        assert.equal(current.frames[0]!.event, 'outbox-test', 'no word to a client that missed nothing');
      } finally {
        await server.stop();
      }
    });
  });
}

describe('the outbox shared by two instances on one PostgreSQL database', { skip: !postgresAvailable && 'PostgreSQL not reachable' }, () => {
  test('a client that read part of the events on one instance resumes on the other: each event it missed once, in order', async () => {
    const url = await postgresDatabase.create();
    const one = await startOnair({ database: postgresDatabase, databaseUrl: url });
    const two = await startOnair({ database: postgresDatabase, databaseUrl: url });
    try {
      const client = follow(one.url, '/sse?types=outbox-test');
      await client.opened;
      for (let n = 0; n < 10; n++) await record(n % 2 ? two : one, [n]);
      await waitFor(() => client.frames.length === 10, 'ten events on the first instance');
      client.close();
      const lastId = client.frames[4]!.id!;
      for (let n = 10; n < 20; n++) await record(n % 2 ? one : two, [n]);
      const resumers = [two, one].map((server) => follow(server.url, '/sse?types=outbox-test', lastId));
      for (const resumer of resumers) await waitFor(() => resumer.frames.length >= 15, `the events after ${lastId}`);
      await record(one, ['marker']);
      for (const resumer of resumers) {
        await waitFor(() => resumer.frames.some((f) => f.data.data === 'marker'), 'the marker');
        resumer.close();
        const frames = resumer.frames.slice(0, resumer.frames.findIndex((f) => f.data.data === 'marker'));
        assert.deepEqual(frames.map((f) => f.data.data), Array.from({ length: 15 }, (_, i) => i + 5), 'each missed event once, in order');
        assert.deepEqual(frames.slice(0, 5).map((f) => f.id), client.frames.slice(5).map((f) => f.id), 'the same ids on both');
        assert.equal(new Set(frames.map((f) => f.data.origin)).size, 2, 'each event names the instance it came from');
      }
    } finally {
      await one.stop();
      await two.stop();
      await postgresDatabase.drop(url);
    }
  });

  test('under concurrent writers, ids become visible in increasing order: no reader skips an event committed after a later one', async () => {
    const url = await postgresDatabase.create();
    const writer = await startOnair({ database: postgresDatabase, databaseUrl: url });
    const reader = await startOnair({ database: postgresDatabase, databaseUrl: url });
    try {
      const delivered = new Map<Running, number[]>([[writer, []], [reader, []]]);
      for (const [server, ids] of delivered) {
        server.onair.bus.subscribe((event) => {
          if (event.type === 'outbox-test') ids.push(event.id!);
        });
      }
      const WRITERS = 8;
      const EACH = 25;
      await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; i < EACH; i++) {
          await writer.onair.database.kysely.transaction().execute(async (trx) => {
            await writer.onair.bus.record(trx, 'outbox-test' as never, [{ w, i }] as never[]);
            // The transaction stays open a while after its insert: without the order lock, later ids commit first.
            await new Promise((resolve) => setTimeout(resolve, (w * 7 + i * 3) % 11));
          });
        }
      }));
      const ids = (await outbox(postgresDatabase, url, '')).filter((e) => e.type === 'outbox-test').map((e) => e.id);
      assert.equal(ids.length, WRITERS * EACH);
      for (const [server, seen] of delivered) {
        await waitFor(() => server.onair.bus.delivered >= ids.at(-1)!, 'the last event to be delivered');
        assert.deepEqual(seen, ids, 'every event delivered once, in id order');
      }
    } finally {
      await writer.stop();
      await reader.stop();
      await postgresDatabase.drop(url);
    }
  });
});
