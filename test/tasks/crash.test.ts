import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { spawnOnair, type OnairProcess } from '../support/process.ts';

const TOTAL = 3000;
const FINISHED = ['completed', 'failed', 'cancelled'];

function probeTask(i: number) {
  const soon = new Date(Date.now() + (i % 4) * 300).toISOString();
  return {
    operation: { type: 'probe', parameters: { milliseconds: i % 10 === 0 ? 1500 : 2 } },
    condition: i % 2 ? { type: 'now', parameters: {} } : { type: 'at', parameters: { datetime: soon } },
    dependencies: {},
  };
}

/** Submits tasks 25 at a time; answers the ids accepted (201). Requests cut by a crash are not accepted. */
async function submit(server: OnairProcess, from: number, to: number, accepted: string[], crashAfter?: () => Promise<void>): Promise<void> {
  let crashed = false;
  for (let i = from; i < to && !crashed; i += 25) {
    const batch = Array.from({ length: Math.min(25, to - i) }, (_, k) => probeTask(i + k));
    const answers = await Promise.allSettled(batch.map((body) => server.request('POST', '/tasks', body)));
    for (const answer of answers) {
      if (answer.status === 'fulfilled' && answer.value.status === 201) accepted.push(answer.value.body.task.id);
      else crashed = true;
    }
    if (crashAfter && accepted.length >= (to - from) / 2) {
      await crashAfter();
      crashed = true;
    }
  }
}

/** Runs per task id, from the probe file. */
function runs(file: string): Map<string, string[]> {
  const counts = new Map<string, string[]>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch { /* nothing ran yet */ }
  for (const line of text.split('\n').filter(Boolean)) {
    const [id, pid] = line.split(' ') as [string, string];
    counts.set(id, [...(counts.get(id) ?? []), pid]);
  }
  return counts;
}

async function allFinished(server: OnairProcess, ids: string[]) {
  const lists = (await server.request('GET', '/tasks')).body as Record<string, string[]>;
  const finished = new Set(FINISHED.flatMap((s) => lists[s]!));
  return ids.every((id) => finished.has(id)) ? lists : undefined;
}

function checkExactlyOnce(lists: Record<string, string[]>, accepted: string[], probe: Map<string, string[]>) {
  for (const id of lists.completed!) assert.equal(probe.get(id)?.length, 1, `completed task ${id} ran ${probe.get(id)?.length ?? 0} times`);
  for (const [id, pids] of probe) assert.equal(pids.length, 1, `task ${id} ran ${pids.length} times`);
  const known = new Set(Object.values(lists).flat());
  const lost = accepted.filter((id) => !known.has(id));
  assert.deepEqual(lost, [], 'accepted tasks lost');
}

for (const database of testDatabases) {
  describe(`crash recovery on ${database.name}`, () => {
    test(`kill -9 during a workload of ${TOTAL} tasks: none lost, none run twice`, { timeout: 240_000 }, async () => {
      const dataDir = tempDir();
      const url = await database.create();
      const probe = join(dataDir, 'probe.log');
      const env = {
        ONAIR_DATA_DIR: dataDir, ONAIR_TASKS_PROBE_FILE: probe, ONAIR_TASKS_LEASE_MS: '2000',
        ...(url ? { ONAIR_DATABASE_URL: url } : {}),
      };
      const accepted: string[] = [];
      let server = await spawnOnair(env);
      try {
        await submit(server, 0, TOTAL, accepted, () => server.crash());
        assert.ok(accepted.length >= TOTAL / 2 && accepted.length < TOTAL, `crashed mid-way (${accepted.length} accepted)`);
        const crashedPid = server.child.pid;
        server = await spawnOnair(env);
        await submit(server, accepted.length, TOTAL, accepted);
        const lists = await waitFor(() => allFinished(server, accepted), 'every accepted task to finish', 120_000, 200);
        const probeRuns = runs(probe);
        checkExactlyOnce(lists, accepted, probeRuns);
        const interrupted = lists.failed!;
        for (const id of interrupted) {
          const failed = await server.request('GET', `/tasks/failed/${id}`);
          assert.equal(failed.body.error, 'Operation probe was interrupted.');
          assert.ok((probeRuns.get(id) ?? []).every((pid) => pid === String(crashedPid)), `interrupted task ${id} ran only before the crash`);
        }
        assert.equal(lists.completed!.length + lists.failed!.length, accepted.length);
        assert.ok(lists.completed!.length > accepted.length / 2, `${lists.completed!.length} completed`);
        assert.equal(lists.sleeping!.length + lists.queued!.length + lists.waiting!.length + lists.running!.length, 0);
      } finally {
        if (server.child.exitCode === null) await server.stop();
        await database.drop(url);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    test('SIGTERM puts pending tasks to sleep and the next start wakes them', { timeout: 60_000 }, async () => {
      const dataDir = tempDir();
      const url = await database.create();
      const env = { ONAIR_DATA_DIR: dataDir, ...(url ? { ONAIR_DATABASE_URL: url } : {}) };
      let server = await spawnOnair(env);
      try {
        const due = new Date(Date.now() + 4000).toISOString();
        const later = await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} }, condition: { type: 'at', parameters: { datetime: due } }, dependencies: {} });
        const running = await server.request('POST', '/tasks', { operation: { type: 'delay', parameters: { milliseconds: 60_000 } }, condition: { type: 'now', parameters: {} }, dependencies: {} });
        await waitFor(async () => (await server.request('GET', `/tasks/${running.body.task.id}`)).body.status === 'running', 'delay to run');
        assert.equal(await server.stop(), 0);
        server = await spawnOnair(env);
        const interrupted = await server.request('GET', `/tasks/failed/${running.body.task.id}`);
        assert.equal(interrupted.body.error, 'Operation delay was interrupted.');
        const woken = await server.request('GET', `/tasks/${later.body.task.id}`);
        assert.notEqual(woken.body.status, 'sleeping');
        const done = await waitFor(async () => {
          const answer = await server.request('GET', `/tasks/completed/${later.body.task.id}`);
          return answer.status === 200 ? answer : undefined;
        }, 'the woken task to run at its time', 20_000);
        assert.ok(done.body.slept, 'it went to sleep on the way');
        assert.ok(Date.parse(done.body.started) >= Date.parse(due));
      } finally {
        if (server.child.exitCode === null) await server.stop();
        await database.drop(url);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}

describe('several instances on one PostgreSQL database', { skip: !postgresAvailable && 'PostgreSQL not reachable' }, () => {
  test('three instances share the work, one is killed mid-run: each task runs once, its tasks are taken over', { timeout: 180_000 }, async () => {
    const url = (await postgresDatabase.create())!;
    const dirs = [tempDir(), tempDir(), tempDir()];
    const probe = join(dirs[0]!, 'probe.log');
    const servers: OnairProcess[] = [];
    try {
      for (const dir of dirs) {
        servers.push(await spawnOnair({ ONAIR_DATA_DIR: dir, ONAIR_DATABASE_URL: url, ONAIR_TASKS_PROBE_FILE: probe, ONAIR_TASKS_LEASE_MS: '2000' }));
      }
      const [a, victim, c] = servers as [OnairProcess, OnairProcess, OnairProcess];
      const accepted: string[] = [];
      const start = Date.now() + 1500;
      for (let i = 0; i < 1500; i += 50) {
        const answers = await Promise.all(Array.from({ length: 50 }, (_, k) => servers[(i + k) % 3]!.request('POST', '/tasks', {
          operation: { type: 'probe', parameters: { milliseconds: (i + k) % 20 === 0 ? 3000 : 20 } },
          condition: { type: 'at', parameters: { datetime: new Date(start + (i + k) * 2).toISOString() } },
          dependencies: {},
        })));
        for (const answer of answers) {
          assert.equal(answer.status, 201);
          accepted.push(answer.body.task.id);
        }
      }
      await waitFor(() => [...runs(probe).values()].filter((pids) => pids[0] === String(victim.child.pid)).length > 20,
        'the victim to be running tasks', 30_000, 20);
      await victim.crash();
      const lists = await waitFor(() => allFinished(a, accepted), 'every task to finish', 120_000, 200);
      const probeRuns = runs(probe);
      checkExactlyOnce(lists, accepted, probeRuns);
      const pids = new Set([...probeRuns.values()].map((p) => p[0]));
      assert.equal(pids.size, 3, 'all three instances ran tasks');
      const victims = [...probeRuns].filter(([, p]) => p[0] === String(victim.child.pid)).map(([id]) => id);
      const takenOver = victims.filter((id) => lists.failed!.includes(id));
      assert.ok(takenOver.length > 0, 'the victim was running tasks when killed');
      for (const id of takenOver) {
        assert.equal((await c.request('GET', `/tasks/failed/${id}`)).body.error, 'Operation probe was interrupted.');
      }
      assert.equal(lists.completed!.length + lists.failed!.length, accepted.length);
    } finally {
      for (const server of servers) if (server.child.exitCode === null) await server.stop();
      await postgresDatabase.drop(url);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });
});
