import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startGate, type GateServer } from './harness.ts';

const RUNS = 300;

describe('gate routes under malformed input', () => {
  let server: GateServer;
  before(async () => {
    server = await startGate({ database: testDatabases[0] });
  });
  after(() => server.stop());

  const clear4xx = (answer: { status: number; body: any }, what: string) => {
    assert.ok(answer.status >= 400 && answer.status < 500, `${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
    assert.equal(typeof answer.body.detail, 'string', what);
  };
  const segment = fc.oneof(fc.string().filter((s) => s !== '.' && s !== '..'), fc.constantFrom('main', 'MAIN', '-x', 'a'.repeat(300)));

  test('POST /reserve and /channels/{channel}/reserve: any body is a clear 4xx, never a reservation or a 5xx', async () => {
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({
        instance: fc.oneof(fc.jsonValue(), fc.record({ event: fc.string(), start: fc.string() })),
        event: fc.jsonValue(), format: fc.jsonValue(), record: fc.jsonValue(), metadata: fc.jsonValue(),
      }, { requiredKeys: [] }),
    );
    await fc.assert(fc.asyncProperty(body, fc.boolean(), async (value, bare) => {
      const path = bare ? '/reserve' : '/channels/main/reserve';
      clear4xx(await server.request('POST', path, JSON.stringify(value)), `${path} ${JSON.stringify(value)}`);
    }), { numRuns: RUNS });
    clear4xx(await server.request('POST', '/reserve', '{"instance":'), 'truncated JSON');
    const text = await fetch(`${server.url}/reserve`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    assert.ok(text.status >= 400 && text.status < 500, `text body: ${text.status}`);
  });

  test('POST /channels and PATCH /channels/{channel}: any body is a 201/200 within the port range or a clear 4xx, never a 5xx', async () => {
    assert.equal((await server.request('POST', '/channels', { name: 'fuzzed' })).status, 201);
    const value = fc.oneof(fc.jsonValue(), fc.integer({ min: server.port - 5, max: server.port + 105 }), fc.string({ maxLength: 90 }));
    const body = fc.oneof(fc.jsonValue(), fc.record({ name: fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,8}$/), fc.jsonValue()), port: value, key: value }, { requiredKeys: [] }));
    await fc.assert(fc.asyncProperty(body, fc.boolean(), async (value, create) => {
      const path = create ? '/channels' : '/channels/fuzzed';
      const answer = await server.request(create ? 'POST' : 'PATCH', path, JSON.stringify(value));
      if (answer.status === 201 || answer.status === 200) {
        assert.ok(answer.body.port >= server.port && answer.body.port < server.port + 100, JSON.stringify(answer.body));
      } else {
        clear4xx(answer, `${path} ${JSON.stringify(value)}`);
      }
    }), { numRuns: RUNS });
    const channels = (await server.request('GET', '/channels')).body as Array<{ channel: string; port: number; configured: boolean }>;
    assert.equal(new Set(channels.map((c) => c.port)).size, channels.length, 'never two channels on one port');
    // The next property takes any other channel name for an unknown one.
    for (const { channel } of channels.filter((c) => !c.configured)) await server.request('DELETE', `/channels/${channel}`);
  });

  test('channel, file and query parameters: 400 or 404 with a problem document', async () => {
    // A file named . or .. is no segment a URL can carry (the client resolves /hls/.. to /).
    const file = fc.string().filter((s) => s !== '.' && s !== '..');
    await fc.assert(fc.asyncProperty(segment, fc.constantFrom('check', 'listen', 'sessions', 'hls/index.m3u8', 'sse', 'reserve'), file, async (channel, route, file) => {
      const path = `/channels/${encodeURIComponent(channel)}/${route}`;
      const method = route === 'reserve' ? 'POST' : 'GET';
      if (channel === 'main' && route !== 'hls/index.m3u8') return;
      clear4xx(await server.request(method, path, method === 'POST' ? {} : undefined), path);
      clear4xx(await server.request('GET', `/hls/${encodeURIComponent(file)}`), `/hls/${file}`);
    }), { numRuns: RUNS });
    await fc.assert(fc.asyncProperty(fc.string(), async (limit) => {
      // Only a plain decimal whole number from 1 to 1000 is a valid limit; everything else must be a clear 4xx.
      fc.pre(!(/^\d+$/.test(limit) && Number(limit) >= 1 && Number(limit) <= 1000));
      clear4xx(await server.request('GET', `/channels/main/sessions?limit=${encodeURIComponent(limit)}`), `limit=${limit}`);
    }), { numRuns: RUNS });
    assert.equal((await server.request('GET', '/check')).status, 200, 'still serving');
  });
});
