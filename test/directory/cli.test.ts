import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NodeStore } from '../../src/directory/store.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, type Running } from '../support/onair.ts';
import { runOnair, type Ran } from '../support/process.ts';

const ENV = { ONAIR_NODE_ID: 'node-a', ONAIR_REGION: 'eu-central', ONAIR_NODE_ADDRESS: 'a.example.org', ONAIR_SRT_PORT_START: '28400', ONAIR_SRT_PORT_END: '28499' };

const ok = (ran: Ran): string => {
  assert.equal(ran.code, 0, ran.stderr);
  return ran.stdout;
};

/** The cells of the table row that starts with `first`. */
const row = (stdout: string, first: string) => stdout.split('\n').map((line) => line.trim().split(/\s{2,}/)).find((cells) => cells[0] === first);

describe('onair nodes, against a running onair', () => {
  let server: Running;
  let onair: (...args: string[]) => Promise<Ran>;
  before(async () => {
    server = await startOnair({ database: testDatabases[0]!, env: ENV });
    onair = (...args) => runOnair(server.url, ...args);
  });
  after(() => server.stop());

  test('list, show, drain, resume and remove; refusals in one line, exit 1; a wrong verb prints the usage, exit 2', async () => {
    const listed = ok(await onair('nodes', 'list'));
    assert.deepEqual(row(listed, 'node-a')?.slice(0, 6), ['node-a', 'INSERVICE', 'eu-central', 'a.example.org', 'origin,edge', '0/1000'], listed);
    assert.match(listed, /^ID +STATE +REGION +ADDRESS +ROLES +LISTENERS +SOURCES +CPU LOAD +REPORTED$/m);
    assert.equal(ok(await onair('nodes', 'list', '--region', 'us-east')), 'no nodes\n');
    assert.match(ok(await onair('nodes', 'show', 'node-a')), /^state: +INSERVICE$/m);
    assert.equal(ok(await onair('nodes', 'drain', 'node-a')), 'node node-a drained: SOFT_SUNSET\n');
    assert.ok(row(ok(await onair('nodes', 'list', '--state', 'SOFT_SUNSET')), 'node-a'));

    const refused = await onair('nodes', 'drain', 'node-a');
    assert.deepEqual([refused.code, refused.stdout], [1, '']);
    assert.match(refused.stderr, /^error 409: Node node-a is SOFT_SUNSET: .*\n$/);
    assert.equal(ok(await onair('nodes', 'resume', 'node-a')), 'node node-a resumed: INSERVICE\n');
    assert.match((await onair('nodes', 'remove', 'node-a')).stderr, /^error 409: Node node-a is INSERVICE/);
    assert.match((await onair('nodes', 'show', 'nope')).stderr, /^error 404: /);
    assert.match((await onair('nodes', 'list', '--state', 'ASLEEP')).stderr, /^error 400: querystring\.state/);

    const store = new NodeStore(server.onair.database);
    await store.register({ ...server.onair.directory.registry.node('node-a')!, id: 'node-z', state: 'STOPPED' }, async () => {});
    assert.equal(ok(await onair('nodes', 'remove', 'node-z')), 'node node-z removed\n');
    assert.equal(ok(await onair('nodes', 'remove', 'node-a', '--force')), 'node node-a removed\n');

    const usage = await onair('nodes', 'frobnicate');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^onair nodes list/);
  });
});
