import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Type } from 'typebox';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import type { Onair } from '../../src/onair.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';

/** Registers an operation that answers the node it ran on. */
function registerWhere(onair: Onair): void {
  onair.tasks.service.register({
    type: 'where', summary: 'answers the node that ran it', parameters: Type.Object({}),
    run: async () => onair.tasks.engine.id,
  });
}

const pinned = (node?: string) => ({ operation: { type: 'where', parameters: {} }, ...(node === undefined ? {} : { node }) });

async function finished(server: Running, id: string): Promise<{ status: string; result: unknown }> {
  const answer = await waitFor(async () => {
    const got = await server.request('GET', `/tasks/${id}`);
    return ['completed', 'failed'].includes(got.body.status) ? got : undefined;
  }, `task ${id} to finish`);
  const view = await server.request('GET', `/tasks/${answer.body.status}/${id}`);
  return { status: answer.body.status, result: view.body.result };
}

for (const database of testDatabases) {
  describe(`task affinity on ${database.name}`, () => {
    let server: Running;
    before(async () => {
      server = await startOnair({ database, env: { ONAIR_NODE_ID: 'studio-a' }, prepare: registerWhere });
    });
    after(() => server.stop());

    test('a task pinned to this node runs here; one pinned to a node that is not running waits, naming it', async () => {
      const here = await server.request('POST', '/tasks', pinned('studio-a'));
      assert.equal(here.status, 201);
      assert.equal(here.body.task.node, 'studio-a');
      assert.deepEqual(await finished(server, here.body.task.id), { status: 'completed', result: 'studio-a' });

      const away = await server.request('POST', '/tasks', pinned('studio-b'));
      assert.equal(away.status, 201);
      // Passes of the engine run for later tasks; the pinned one is still left where it is.
      const later = await server.request('POST', '/tasks', pinned());
      await finished(server, later.body.task.id);
      const waiting = await server.request('GET', `/tasks/waiting/${away.body.task.id}`);
      assert.equal(waiting.status, 200, 'the pinned task waits');
      assert.equal(waiting.body.task.node, 'studio-b');
      const listed = await server.request('GET', '/tasks?status=waiting');
      assert.ok(listed.body.waiting.includes(away.body.task.id));
    });

    test('a node is named as ONAIR_NODE_ID is written: anything else is a 400 naming node', async () => {
      for (const node of ['', 'a b', '-lead', 'x'.repeat(65), 7]) {
        const answer = await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} }, node });
        assert.equal(answer.status, 400, JSON.stringify(node));
        assert.match(answer.body.detail, /node/);
      }
    });
  });
}

describe('task affinity across two nodes sharing PostgreSQL', { skip: !postgresAvailable }, () => {
  let url: string | undefined;
  let a: Running;
  let b: Running | undefined;
  before(async () => {
    url = await postgresDatabase.create();
    a = await startOnair({ database: postgresDatabase, databaseUrl: url, env: { ONAIR_NODE_ID: 'node-a' }, prepare: registerWhere });
  });
  after(async () => {
    await b?.stop();
    await a.stop();
    await postgresDatabase.drop(url);
  });

  test('tasks pinned to node B, submitted through A, wait while B is down and all run on B once it is up', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await a.request('POST', '/tasks', pinned('node-b'))).body.task.id);
    const free = await a.request('POST', '/tasks', pinned());
    assert.deepEqual(await finished(a, free.body.task.id), { status: 'completed', result: 'node-a' });
    const before = await a.request('GET', '/tasks?status=queued,waiting&limit=1000');
    assert.deepEqual([...before.body.queued, ...before.body.waiting].sort(), [...ids].sort(), 'node A leaves them all');

    b = await startOnair({ database: postgresDatabase, databaseUrl: url, env: { ONAIR_NODE_ID: 'node-b' }, prepare: registerWhere });
    for (const id of ids) assert.deepEqual(await finished(a, id), { status: 'completed', result: 'node-b' });
  });
});
