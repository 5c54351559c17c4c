import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startOnair, type Running } from '../support/onair.ts';

/** The operators' /directory routes (problem documents, the API key) and the stream manager's node admin (its accessToken, its errors). */

const KEY = 'station-key-0123456789';
const TOKEN = 'directory-admin-token-0123';
const ENV = {
  ONAIR_NODE_ID: 'node-a', ONAIR_REGION: 'eu-central', ONAIR_NODE_ADDRESS: 'a.example.org', ONAIR_NODE_ROLES: 'origin',
  ONAIR_SRT_PORT_START: '28100', ONAIR_SRT_PORT_END: '28199',
};
const withKey = { 'x-api-key': KEY };
const SM = '/streammanager/api/2.0';

for (const database of testDatabases) {
  describe(`the directory's routes on ${database.name}`, () => {
    let server: Running;
    before(async () => {
      server = await startOnair({ database, env: { ...ENV, ONAIR_API_KEY: KEY, ONAIR_DIRECTORY_ADMIN_TOKEN: TOKEN } });
    });
    after(() => server.stop());

    test('list, filter, show, drain, resume and remove; refusals are problem documents naming the state or the field', async () => {
      const listed = await server.request('GET', '/directory/nodes', undefined, withKey);
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.map((n: { id: string; state: string }) => [n.id, n.state]), [['node-a', 'INSERVICE']]);
      assert.equal((await server.request('GET', '/directory/nodes?region=us-east', undefined, withKey)).body.length, 0);
      assert.equal((await server.request('GET', '/directory/nodes?region=eu-central&state=INSERVICE', undefined, withKey)).body.length, 1);
      const shown = await server.request('GET', '/directory/nodes/node-a', undefined, withKey);
      assert.deepEqual([shown.body.address, shown.body.roles, shown.body.url], ['a.example.org', ['origin'], server.url]);

      const drained = await server.request('POST', '/directory/nodes/node-a/drain', undefined, withKey);
      assert.deepEqual([drained.status, drained.body.state, drained.body.drained], [200, 'SOFT_SUNSET', true]);
      const again = await server.request('POST', '/directory/nodes/node-a/drain', undefined, withKey);
      assert.equal(again.status, 409);
      assert.match(again.headers.get('content-type')!, /problem\+json/);
      assert.match(again.body.detail, /SOFT_SUNSET/);
      assert.equal((await server.request('POST', '/directory/nodes/node-a/resume', undefined, withKey)).body.state, 'INSERVICE');
      assert.match((await server.request('POST', '/directory/nodes/node-a/resume', undefined, withKey)).body.detail, /node-a is INSERVICE/);
      assert.equal((await server.request('POST', '/directory/nodes/nope/drain', undefined, withKey)).status, 404);
      assert.equal((await server.request('DELETE', '/directory/nodes/node-a', undefined, withKey)).status, 409);

      const bad: Array<[string, string, string]> = [
        ['GET', '/directory/nodes/not%20valid!', 'params.id'], ['GET', '/directory/nodes?state=ASLEEP', 'querystring.state'],
        ['GET', '/directory/nodes?region=EU', 'querystring.region'], ['DELETE', '/directory/nodes/node-a?force=maybe', 'querystring.force'],
        ['GET', '/directory/nodes?bogus=1', 'querystring.bogus'],
      ];
      for (const [method, path, field] of bad) {
        const answer = await server.request(method, path, undefined, withKey);
        assert.equal(answer.status, 400, `${method} ${path}`);
        assert.ok(answer.body.errors.some((e: { field: string }) => e.field === field), `${path}: ${JSON.stringify(answer.body)}`);
      }
      for (const [method, path] of [['GET', '/directory/nodes'], ['GET', '/directory/nodes/node-a'], ['POST', '/directory/nodes/node-a/drain']]) {
        const refused = await server.request(method!, path!);
        assert.equal(refused.status, 401, path);
        assert.match(refused.body.detail, /X-API-KEY/);
      }
    });

    test('the stream manager\'s node admin takes ONAIR_DIRECTORY_ADMIN_TOKEN or ONAIR_API_KEY as accessToken, and answers its errors as {errorMessage, timestamp}', async () => {
      const node = await server.request('GET', `${SM}/admin/node/node-a?accessToken=${TOKEN}`);
      assert.equal(node.status, 200);
      assert.deepEqual(node.body, {
        identifier: 'node-a', role: 'origin', availabilityZone: 'eu-central', address: 'a.example.org', state: 'INSERVICE', capacity: 1000, group: null,
      });
      assert.deepEqual((await server.request('GET', `${SM}/admin/node/a.example.org?accessToken=${KEY}`)).body, node.body, 'by address, with the API key');
      const stats = await server.request('GET', `${SM}/admin/node/node-a/stats?accessToken=${TOKEN}`);
      assert.deepEqual(Object.keys(stats.body).sort(), ['bytesIn', 'bytesOut', 'cpuLoad', 'publishers', 'reportedAt', 'streams', 'subscribers']);
      assert.deepEqual(stats.body.streams, []);

      for (const query of ['', '?accessToken=wrong-token', `?accessToken=${TOKEN}x`]) {
        const refused = await server.request('GET', `${SM}/admin/node/node-a${query}`, undefined, withKey);
        assert.equal(refused.status, 401, query);
        assert.match(refused.body.errorMessage, /accessToken/);
        assert.equal(typeof refused.body.timestamp, 'number');
        assert.ok(Math.abs(refused.body.timestamp - Date.now()) < 60_000);
      }
      assert.equal((await server.request('DELETE', `${SM}/admin/node/node-a`, undefined, withKey)).status, 401, 'the API key header is not its token');

      const unknown = await server.request('GET', `${SM}/admin/node/nope?accessToken=${TOKEN}`);
      assert.equal(unknown.status, 404);
      assert.deepEqual(Object.keys(unknown.body).sort(), ['errorMessage', 'timestamp']);
      const bad = await server.request('GET', `${SM}/admin/node/not%20valid!?accessToken=${TOKEN}`);
      assert.equal(bad.status, 400);
      assert.match(bad.body.errorMessage, /params\.host/);
      assert.match((await server.request('DELETE', `${SM}/admin/node/node-a?accessToken=${TOKEN}&force=perhaps`)).body.errorMessage, /querystring\.force/);

      const busy = await server.request('DELETE', `${SM}/admin/node/node-a?accessToken=${TOKEN}`);
      assert.equal(busy.status, 409);
      assert.match(busy.body.errorMessage, /INSERVICE/);
      const removed = await server.request('DELETE', `${SM}/admin/node/node-a?accessToken=${TOKEN}&force=true`);
      assert.deepEqual([removed.status, removed.body.identifier], [200, 'node-a']);
      assert.equal((await server.request('GET', '/directory/nodes/node-a', undefined, withKey)).status, 404);
    });
  });
}

describe('the stream manager\'s node admin without any token set', () => {
  test('follows the operators\' rule: from this machine, never through a proxy', async () => {
    const server = await startOnair({ database: testDatabases[0]!, env: ENV });
    try {
      assert.equal((await server.request('GET', `${SM}/admin/node/node-a`)).status, 200);
      const relayed = await server.request('GET', `${SM}/admin/node/node-a`, undefined, { 'x-forwarded-for': '203.0.113.7' });
      assert.equal(relayed.status, 403);
      assert.match(relayed.body.errorMessage, /ONAIR_DIRECTORY_ADMIN_TOKEN/);
    } finally {
      await server.stop();
    }
  });
});

describe('the directory\'s metrics', () => {
  test('/metrics has each node\'s state, listeners, sources, capacity and report age', async () => {
    const server = await startOnair({ database: testDatabases[0]!, env: ENV });
    try {
      const text = (await server.request('GET', '/metrics')).body as string;
      const labels = 'node="node-a",region="eu-central"';
      assert.match(text, new RegExp(`^onair_directory_node_state\\{${labels},state="INSERVICE"\\} 1$`, 'm'));
      assert.match(text, new RegExp(`^onair_directory_node_state\\{${labels},state="FAULT"\\} 0$`, 'm'));
      assert.match(text, new RegExp(`^onair_directory_node_capacity\\{${labels}\\} 1000$`, 'm'));
      for (const name of ['subscribers', 'publishers']) assert.match(text, new RegExp(`^onair_directory_node_${name}\\{${labels}\\} 0$`, 'm'));
      assert.match(text, new RegExp(`^onair_directory_node_report_age_seconds\\{${labels}\\} [\\d.]+$`, 'm'));
    } finally {
      await server.stop();
    }
  });
});
