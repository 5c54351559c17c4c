import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import { runOnair } from '../support/process.ts';

/** Runs the `onair` command as a user would, against `url`, asking for the server's answers as they are. */
const onair = (url: string, ...args: string[]) => runOnair(url, ...args, '--json');

describe('the onair command, tasks', () => {
  let server: Running;
  before(async () => {
    server = await startOnair({ database: testDatabases[0]! });
  });
  after(() => server.stop());

  test('add, list, show, cancel and clean talk to the server and exit 0; errors exit 1 with the detail', async () => {
    const added = await onair(server.url, 'tasks', 'add', 'test', '--params', '{"hello":"cli"}');
    assert.equal(added.code, 0, added.stderr);
    const id = JSON.parse(added.stdout).task.id as string;
    await waitFor(async () => (await server.request('GET', `/tasks/${id}`)).body.status === 'completed', 'the task to run');
    const shown = await onair(server.url, 'tasks', 'show', id, 'completed');
    assert.deepEqual(JSON.parse(shown.stdout).result.parameters, { hello: 'cli' });
    assert.ok(JSON.parse((await onair(server.url, 'tasks', 'list')).stdout).completed.includes(id));

    const later = await onair(server.url, 'tasks', 'add', 'delay', '--params', '{"milliseconds":1}', '--at', '2999-01-01T00:00:00Z');
    const laterId = JSON.parse(later.stdout).task.id as string;
    const dependent = await onair(server.url, 'tasks', 'add', 'test', '--after', `first=${laterId}`);
    assert.deepEqual(JSON.parse(dependent.stdout).task.dependencies, { first: laterId });
    assert.equal((await onair(server.url, 'tasks', 'cancel', laterId)).code, 0);
    const again = await onair(server.url, 'tasks', 'cancel', laterId);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /error 409: .*already finished/);

    const cron = await onair(server.url, 'tasks', 'add', 'test', '--cron', '0 20 * * 5', '--timezone', 'Mars/Olympus');
    assert.equal(cron.code, 1);
    assert.match(cron.stderr, /error 400: condition\.parameters\.timezone/);

    const cleaned = await onair(server.url, 'tasks', 'clean', '--older-than', 'PT0S');
    assert.ok(JSON.parse(cleaned.stdout).removed.includes(id));
  });

  test('usage on a bad command, and a clear message when no server answers', async () => {
    const usage = await onair(server.url, 'tasks', 'frobnicate');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /onair tasks list/);
    const away = await onair('http://127.0.0.1:9', 'tasks', 'list');
    assert.equal(away.code, 1);
    assert.match(away.stderr, /cannot reach onair at http:\/\/127\.0\.0\.1:9/);
  });
});
