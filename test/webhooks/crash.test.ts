import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { spawnOnair, type OnairProcess } from '../support/process.ts';
import { signedWith, startReceiver, type Receiver } from './receiver.ts';

const TASKS = 2000;

/** What a receiver that deduplicates by webhook-id keeps: one body per webhook-id, and how many times each came. */
function deduplicate(receiver: Receiver, secret: string) {
  const verifier = new Webhook(secret);
  const bodies = new Map<string, string>();
  const times = new Map<string, number>();
  for (const received of receiver.received) {
    verifier.verify(received.body, signedWith(received));
    const id = String(received.headers['webhook-id']);
    const before = bodies.get(id);
    assert.ok(before === undefined || before === received.body, `${id} always carries the same event`);
    bodies.set(id, received.body);
    times.set(id, (times.get(id) ?? 0) + 1);
  }
  return { bodies, times };
}

/** The webhook-ids of each task's completion. */
function completions(bodies: Map<string, string>): Map<string, string[]> {
  const byTask = new Map<string, string[]>();
  for (const [id, body] of bodies) {
    const { data } = JSON.parse(body) as { data: { id: string; status: string } };
    if (data.status === 'completed') byTask.set(data.id, [...byTask.get(data.id) ?? [], id]);
  }
  return byTask;
}

/** `count` tasks due one every `everyMs` from 2 s on, submitted to `server`: their completions come in a burst. */
async function burst(server: OnairProcess, count: number, everyMs = 2): Promise<string[]> {
  const first = Date.now() + 2000;
  const accepted: string[] = [];
  for (let i = 0; i < count; i += 50) {
    const answers = await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, k) => server.request('POST', '/tasks', {
      operation: { type: 'delay', parameters: { milliseconds: 20 } },
      condition: { type: 'at', parameters: { datetime: new Date(first + everyMs * (i + k)).toISOString() } },
    })));
    for (const answer of answers) accepted.push(answer.body.task.id);
  }
  return accepted;
}

async function completed(server: OnairProcess, accepted: string[]): Promise<string[]> {
  return waitFor(async () => {
    const lists = (await server.request('GET', '/tasks')).body as Record<string, string[]>;
    const finished = new Set(['completed', 'failed', 'cancelled'].flatMap((s) => lists[s]!));
    const mine = new Set(lists.completed);
    return accepted.every((id) => finished.has(id)) ? accepted.filter((id) => mine.has(id)) : undefined;
  }, 'every task to finish', 120_000, 200);
}

for (const database of testDatabases) {
  describe(`webhooks through a crash on ${database.name}`, () => {
    test(`kill -9 of onair serve in a burst of ${TASKS} task completions: every completed task's event is delivered, under one webhook-id`, { timeout: 300_000 }, async () => {
      const url = await database.create();
      const dir = tempDir();
      const receiver = await startReceiver();
      const env = { ONAIR_DATA_DIR: dir, ONAIR_TASKS_LEASE_MS: '2000', ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.0/8', ...(url ? { ONAIR_DATABASE_URL: url } : {}) };
      let server = await spawnOnair(env);
      try {
        const created = await server.request('POST', '/webhooks', { url: receiver.url, types: ['task-status-changed'] });
        assert.equal(created.status, 201);
        // Over ten seconds, so that the kill comes well within it.
        const accepted = await burst(server, TASKS, 5);
        const delivered = () => receiver.received.filter((r) => r.message.data?.status === 'completed').length;
        await waitFor(() => delivered() >= TASKS / 10, 'a tenth of the completions to be delivered', 120_000, 2);
        await server.crash();
        const before = delivered();
        assert.ok(before < TASKS, `killed in the burst (${before} completions delivered)`);
        server = await spawnOnair(env);

        const done = await completed(server, accepted);
        assert.ok(done.length > TASKS * 0.9, `${done.length} of ${TASKS} completed`);
        const byTask = await waitFor(() => {
          const found = completions(deduplicate(receiver, created.body.secret).bodies);
          return done.every((id) => found.has(id)) ? found : undefined;
        }, 'every completion to be delivered', 180_000, 500);
        for (const id of done) assert.equal(byTask.get(id)!.length, 1, `task ${id}'s completion has one webhook-id`);
        const { times } = deduplicate(receiver, created.body.secret);
        const again = [...times.values()].filter((n) => n > 1).length;
        process.stdout.write(`# killed with ${before} of ${TASKS} completions delivered; ${receiver.received.length} requests for ${times.size} messages, ${again} delivered more than once\n`);
      } catch (error) {
        process.stdout.write(`${server.output().slice(-5000)}\n`);
        if (process.env.KEEP) {
          process.stdout.write(`kept ${dir}\n`);
          await new Promise((r) => setTimeout(r, 1e9));
        }
        throw error;
      } finally {
        if (server.child.exitCode === null) await server.stop();
        await receiver.close();
        await database.drop(url);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe('webhooks on two instances', { skip: !postgresAvailable && 'PostgreSQL is not reachable' }, () => {
  test('two instances on PostgreSQL make each attempt once: every event is dispatched by one of them and each message sent once', { timeout: 240_000 }, async () => {
    const url = await postgresDatabase.create();
    const dirs = [tempDir(), tempDir()];
    const receiver = await startReceiver();
    const servers: OnairProcess[] = [];
    try {
      for (const dir of dirs) {
        servers.push(await spawnOnair({ ONAIR_DATA_DIR: dir, ONAIR_DATABASE_URL: url!, ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.0/8' }));
      }
      const created = await servers[1]!.request('POST', '/webhooks', { url: receiver.url, types: ['task-status-changed'] });
      const accepted = [...await burst(servers[0]!, 500), ...await burst(servers[1]!, 500)];
      const done = await completed(servers[0]!, accepted);
      const { times, bodies } = await waitFor(() => {
        const found = deduplicate(receiver, created.body.secret);
        const byTask = completions(found.bodies);
        return done.every((id) => byTask.has(id)) ? found : undefined;
      }, 'every completion to be delivered', 120_000, 200);
      const events = [...bodies.values()].map((b) => JSON.parse(b).data).map((d: { id: string; status: string }) => `${d.id} ${d.status}`);
      assert.equal(new Set(events).size, events.length, 'each event has one message');
      assert.deepEqual([...times.entries()].filter(([, n]) => n > 1), [], 'each message was sent once');
      assert.equal(events.length, accepted.length * 3, 'queued, running and completed of every task');
    } finally {
      for (const server of servers) if (server.child.exitCode === null) await server.stop();
      await receiver.close();
      await postgresDatabase.drop(url);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });
});
