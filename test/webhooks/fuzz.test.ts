import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startOnair, type Answer, type Running } from '../support/onair.ts';
import { startReceiver, type Receiver } from './receiver.ts';

const RUNS = 200;

describe('webhook routes under malformed input', () => {
  let server: Running;
  let receiver: Receiver;
  let id: string;
  before(async () => {
    receiver = await startReceiver();
    server = await startOnair({ database: testDatabases[0]!, env: { ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.0/8' } });
    id = (await server.request('POST', '/webhooks', { url: receiver.url, types: ['*'] })).body.id;
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  const clear4xx = (answer: Answer, what: string) => {
    assert.ok(answer.status >= 400 && answer.status < 500, `${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
    assert.equal(typeof answer.body.detail, 'string', what);
  };
  const field = fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom('ftp://x', 'http://', '*', 'task-status-changed', 'http://127.0.0.1:9/hook'));
  const body = fc.oneof(fc.jsonValue(), fc.record({
    url: fc.oneof(field, fc.webUrl()), types: fc.oneof(field, fc.array(fc.oneof(fc.string(), fc.constantFrom('*', 'task-progress', 'Bad')))),
    description: field, enabled: field, since: fc.oneof(field, fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString()))),
  }, { requiredKeys: [] }));

  test('POST /webhooks, PATCH /webhooks/{id} and POST /webhooks/{id}/recover: any body is a success or a clear 4xx, never a 5xx', async () => {
    await fc.assert(fc.asyncProperty(body, fc.constantFrom('POST /webhooks', 'PATCH', 'POST recover'), async (value, route) => {
      const [method, path] = route === 'PATCH' ? ['PATCH', `/webhooks/${id}`] : route === 'POST recover' ? ['POST', `/webhooks/${id}/recover`] : ['POST', '/webhooks'];
      const answer = await server.request(method, path, JSON.stringify(value));
      if (answer.status < 300) {
        assert.ok([200, 201, 202].includes(answer.status), `${route} ${JSON.stringify(value)}: ${answer.status}`);
        if (route === 'PATCH') await server.request('PATCH', `/webhooks/${id}`, { url: receiver.url, types: ['*'], enabled: true });
        if (answer.status === 201) assert.equal((await server.request('DELETE', `/webhooks/${answer.body.id}`)).status, 204);
      } else {
        clear4xx(answer, `${route} ${JSON.stringify(value)}`);
      }
    }), { numRuns: RUNS });
    clear4xx(await server.request('POST', '/webhooks', '{"url":'), 'truncated JSON');
  });

  test('ids, delivery ids and query parameters: 400 or 404 with a problem document', async () => {
    const segment = fc.oneof(fc.string({ minLength: 1 }).filter((s) => s !== '.' && s !== '..'), fc.uuid(), fc.constantFrom('a'.repeat(300), 'msg_1'));
    const routes = ['GET ', 'PATCH ', 'DELETE ', 'POST /secret/rotate', 'POST /test', 'GET /deliveries', 'POST /deliveries/D/retry', 'POST /recover'];
    await fc.assert(fc.asyncProperty(segment, segment, fc.constantFrom(...routes), async (webhook, delivery, route) => {
      const [method, rest] = route.split(' ') as [string, string];
      const path = `/webhooks/${encodeURIComponent(webhook)}${rest.replace('D', encodeURIComponent(delivery))}`;
      clear4xx(await server.request(method, path, method === 'POST' || method === 'PATCH' ? { since: '2026-01-01T00:00:00Z', enabled: true } : undefined), `${method} ${path}`);
    }), { numRuns: RUNS });
    await fc.assert(fc.asyncProperty(fc.constantFrom('limit', 'before', 'failed', 'message', 'other'), fc.string(), async (name, value) => {
      fc.pre(!(name === 'limit' && /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 1000));
      // What TypeBox reads as a boolean (true, 0, TRUE...) is one.
      fc.pre(!(name === 'failed' && typeof Value.Convert(Type.Boolean(), value) === 'boolean'));
      fc.pre(!(name === 'before' && /^[A-Za-z0-9_-]{1,100}$/.test(value)));
      fc.pre(!(name === 'message' && /^msg_[A-Za-z0-9]{1,64}$/.test(value)));
      const path = `/webhooks/${id}/deliveries?${name}=${encodeURIComponent(value)}`;
      clear4xx(await server.request('GET', path), path);
    }), { numRuns: RUNS });
    assert.equal((await server.request('GET', `/webhooks/${id}`)).status, 200, 'still serving');
  });
});
