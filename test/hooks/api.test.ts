import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startOnair, type Answer, type Running } from '../support/onair.ts';
import { freeUdpPort } from '../gate/harness.ts';
import { appsSetting, Backend } from './backend.ts';

const KEY = 'the-station-key-0123456789';
const withKey = { 'x-api-key': KEY };
const RUNS = 200;

describe('the hooks\' routes', () => {
  let server: Running;
  before(async () => {
    server = await startOnair({
      database: testDatabases[0]!,
      env: {
        ONAIR_API_KEY: KEY,
        ONAIR_HOOK_APPS: appsSetting(
          { name: 'station', url: 'https://hooks:s3cret@backend.example/rest/my_api?token=abc', methods: ['connect'] },
          { name: 'tv', appKey: 'tv', url: 'http://10.0.0.5/api', restClientConfig: { playStream: { restPolicy: 'DISABLE' } } },
        ),
      },
    });
  });
  after(() => server.stop());

  const clear4xx = (answer: Answer, what: string) => {
    assert.ok(answer.status >= 400 && answer.status < 500, `${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
    assert.equal(typeof answer.body.detail, 'string', what);
  };

  test('GET /hooks/apps: the apps for operators, their URLs without user, password or query', async () => {
    assert.equal((await server.request('GET', '/hooks/apps')).status, 401);
    const { status, body } = await server.request('GET', '/hooks/apps', undefined, withKey);
    assert.equal(status, 200);
    assert.deepEqual(body.apps.map((app: { name: string; url: string }) => [app.name, app.url]),
      [['station', 'https://backend.example/rest/my_api'], ['tv', 'http://10.0.0.5/api']]);
    assert.doesNotMatch(JSON.stringify(body), /s3cret|abc/);
    assert.deepEqual(body.apps[0].methods, ['connect']);
    assert.equal(body.apps[1].restClientConfig.playStream.restPolicy, 'DISABLED');
    assert.equal(body.apps[1].methods.length, 6, 'every method when none is listed');
    clear4xx(await server.request('GET', '/hooks/apps?all=1', undefined, withKey), 'an unknown query parameter');
  });

  test('POST /rest-api/stream/find and terminate need the key; no stream matches: 404', async () => {
    for (const path of ['/rest-api/stream/find', '/rest-api/stream/terminate']) {
      assert.equal((await server.request('POST', path, { name: 'main' })).status, 401, path);
      const none = await server.request('POST', path, { name: 'main' }, withKey);
      assert.equal(none.status, 404, path);
      assert.match(none.body.detail, /No stream matches/);
    }
    assert.equal((await server.request('POST', '/rest-api/stream/find', {}, withKey)).status, 404, 'an empty filter finds every stream');
    const everything = await server.request('POST', '/rest-api/stream/terminate', {}, withKey);
    assert.equal(everything.status, 400, 'an empty filter never terminates every stream');
    assert.match(everything.body.detail, /^body: name at least one of mediaSessionId, name/);
  });

  test('any body to find and terminate is a 404 or a clear 4xx naming the field, never a 5xx', async () => {
    const value = fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom('main', 'PUBLISHING', 'NEW', true, crypto.randomUUID()));
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({ mediaSessionId: value, name: value, published: value, status: value, appKey: value, other: value }, { requiredKeys: [] }),
    );
    await fc.assert(fc.asyncProperty(body, fc.boolean(), async (filter, find) => {
      const path = find ? '/rest-api/stream/find' : '/rest-api/stream/terminate';
      const answer = await server.request('POST', path, JSON.stringify(filter), withKey);
      if (answer.status !== 404) clear4xx(answer, `${path} ${JSON.stringify(filter)}`);
      if (answer.status === 400 && answer.body.errors) assert.ok(answer.body.errors.every((e: { field?: string }) => typeof e.field === 'string'), JSON.stringify(answer.body));
    }), { numRuns: RUNS });
    const field = await server.request('POST', '/rest-api/stream/find', { status: 'LIVE' }, withKey);
    assert.equal(field.status, 400);
    assert.match(JSON.stringify(field.body), /status/);
    clear4xx(await server.request('POST', '/rest-api/stream/find', '{"name":', withKey), 'truncated JSON');
  });

  test('GET /hooks/deliveries: every call to a backend, newest first, for operators; paged and filtered', async () => {
    const backend = await Backend.start();
    backend.answer('connect', (_body, n) => (n === 1 ? { status: 403, body: { reason: 'not on the rota' } } : {}));
    const own = await startOnair({
      database: testDatabases[0]!,
      env: {
        ONAIR_API_KEY: KEY, ONAIR_SRT_PORT_START: String(await freeUdpPort()),
        ONAIR_HOOK_APPS: appsSetting({ name: 'rota', url: backend.url, methods: ['connect'] }),
      },
    });
    try {
      assert.equal((await own.request('POST', '/channels', { name: 'studio' }, withKey)).status, 201);
      await assert.rejects(own.onair.gate.gate.activate('studio'), /not on the rota/);
      await own.onair.gate.gate.activate('studio');
      assert.equal((await own.request('GET', '/hooks/deliveries')).status, 401);
      const all = await own.request('GET', '/hooks/deliveries?app=rota', undefined, withKey);
      assert.equal(all.status, 200);
      assert.deepEqual(all.body.deliveries.map((d: { subscriber: string; type: string; status: number }) => [d.subscriber, d.type, d.status]),
        [['rota', 'connect', 200], ['rota', 'connect', 403]]);
      assert.match(all.body.deliveries[1].excerpt, /not on the rota/);
      const failed = await own.request('GET', '/hooks/deliveries?failed=true&limit=1', undefined, withKey);
      assert.deepEqual(failed.body.deliveries.map((d: { status: number }) => d.status), [403]);
      const page = await own.request('GET', '/hooks/deliveries?limit=1', undefined, withKey);
      const next = await own.request('GET', `/hooks/deliveries?limit=1&before=${page.body.next}`, undefined, withKey);
      assert.deepEqual(next.body.deliveries.map((d: { id: string }) => d.id), [all.body.deliveries[1].id]);
      assert.deepEqual((await own.request('GET', '/hooks/deliveries?app=nobody', undefined, withKey)).body.deliveries, []);
      clear4xx(await own.request('GET', '/hooks/deliveries?limit=0', undefined, withKey), 'limit 0');
    } finally {
      await own.stop();
      await backend.close();
    }
  });
});
