import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/core/config.ts';
import { forwardedFor } from '../../src/core/http/auth.ts';
import { createOnair } from '../../src/onair.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, tempDir, type Running } from '../support/onair.ts';

/**
 * Who may do what: with ONAIR_API_KEY, only what listeners and a public website use is open; without it, changes
 * and operators' reads come from this machine only, and never through a proxy.
 */

const KEY = 'station-key-0123456789';
const database = testDatabases[0]!;
const withKey = { 'x-api-key': KEY };

/** The status of a GET, the body read unless it is an endless stream (SSE, /listen). */
async function statusOf(server: Running, path: string, headers: Record<string, string> = {}): Promise<{ status: number; detail?: string }> {
  const controller = new AbortController();
  const response = await fetch(`${server.url}${path}`, { headers, signal: controller.signal });
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    controller.abort();
    return { status: response.status };
  }
  const text = await response.text();
  const body = text.startsWith('{') ? JSON.parse(text) : {};
  // Seed 001's API (/v1) answers its gateway's 401 body, {"message": "Unauthorized"}; seed 003's, {errorMessage, timestamp}.
  return { status: response.status, detail: path.startsWith('/v1/') && body.message === 'Unauthorized' ? 'X-API-KEY (seed 001)' : body.detail ?? body.errorMessage };
}

/** Every GET path of the OpenAPI document, with made-up parameters (the answer may be a 404: only 401 counts here). */
async function readPaths(server: Running): Promise<string[]> {
  const doc = (await server.request('GET', '/openapi.json', undefined, withKey)).body as { paths: Record<string, Record<string, unknown>> };
  const fill: Record<string, string> = { channel: 'main', file: 'index.m3u8', start: '2026-12-04T20:00:00', status: 'completed', scope: 'live', stream: 'main' };
  return Object.entries(doc.paths).filter(([, methods]) => 'get' in methods)
    .map(([path]) => path.replace(/\{(\w+)\}/g, (_, name: string) => fill[name] ?? randomUUID()))
    .map((path) => (path === '/schedule' ? `${path}?start=2026-12-01T00:00:00&end=2026-12-02T00:00:00` : path));
}

const PUBLIC = ['/ping', '/docs', '/docs/json', '/openapi.json', '/check', '/channels/main/check', '/listen', '/channels/main/listen',
  '/hls/index.m3u8', '/channels/main/hls/index.m3u8', '/schedule?start=2026-12-01T00:00:00&end=2026-12-02T00:00:00', '/schedule.ics',
  `/instances/${randomUUID()}/2026-12-04T20:00:00`, '/shows', `/shows/${randomUUID()}`,
  // Seed 003's lookups: where a source publishes and a listener plays.
  '/streammanager/api/2.0/event/live/main?action=broadcast', '/streammanager/api/2.0/event/live/main/stats', '/streammanager/api/2.0/event/list',
  '/streammanager/api/2.0/event/list/stats',
  // The dashboard: the app itself, and what it asks first (the station's time zone).
  '/', '/ui/', '/ui/schedule', '/station'];

describe('access with ONAIR_API_KEY', () => {
  test('what listeners and a public website use is open; every other read needs the key, named in a 401', async () => {
    const server = await startOnair({ database, env: { ONAIR_API_KEY: KEY } });
    try {
      for (const path of PUBLIC) assert.notEqual((await statusOf(server, path)).status, 401, path);
      const paths = await readPaths(server);
      assert.ok(paths.length > 25, `${paths.length} reads`);
      const isPublic = (path: string) => PUBLIC.some((open) => open.split('?')[0] === path.split('?')[0] || /^\/(instances|shows)\//.test(path));
      const keyed = paths.filter((path) => !isPublic(path));
      for (const path of ['/tasks', '/sse', '/channels', '/channels/main/sessions', '/metrics', '/events', '/automation/broadcasts']) {
        assert.ok(keyed.includes(path), `${path} is walked`);
      }
      // The stream manager's admin routes (seed 003) take the key as their accessToken, in the query.
      const token = (path: string) => path.startsWith('/streammanager/api/2.0/admin/');
      for (const path of keyed) {
        const { status, detail } = await statusOf(server, path);
        assert.equal(status, 401, path);
        assert.match(detail ?? '', token(path) ? /accessToken/ : /X-API-KEY/, path);
      }
      for (const path of paths) {
        const asked = token(path) ? `${path}?accessToken=${KEY}` : path;
        assert.notEqual((await statusOf(server, asked, withKey)).status, 401, `${path} with the key`);
      }
      assert.ok(keyed.some(token), 'the stream manager\'s admin reads are walked');
      assert.equal((await statusOf(server, '/tasks', { 'x-api-key': 'not-the-station-key' })).status, 401);
    } finally {
      await server.stop();
    }
  });

  test('ONAIR_PUBLIC_ROUTES replaces the public set', async () => {
    const server = await startOnair({ database, env: { ONAIR_API_KEY: KEY, ONAIR_PUBLIC_ROUTES: '/ping, /tasks,/channels/:channel/check' } });
    try {
      assert.equal((await statusOf(server, '/tasks')).status, 200);
      assert.equal((await statusOf(server, '/channels/main/check')).status, 200);
      assert.equal((await statusOf(server, '/ping')).status, 204);
      assert.equal((await statusOf(server, '/check')).status, 401, 'no longer in the set');
      assert.equal((await statusOf(server, '/schedule.ics')).status, 401);
      const doc = (await server.request('GET', '/openapi.json', undefined, withKey)).body;
      assert.equal(doc.paths['/tasks'].get.security, undefined, 'the document says /tasks is open');
      assert.deepEqual(doc.paths['/check'].get.security, [{ apiKey: [] }], 'and that /check needs the key');
      // The dashboard's files and /station hold no data of the station: a browser loads the app before it has a key.
      for (const path of ['/', '/ui', '/ui/', '/ui/schedule', '/station']) assert.notEqual((await statusOf(server, path)).status, 401, path);
      const station = (await server.request('GET', '/station')).body;
      assert.equal(station.access.keyRequired, true);
      assert.deepEqual(station.access.publicRoutes.filter((route: string) => !['/', '/ui', '/ui/*', '/station'].includes(route)), ['/channels/:channel/check', '/ping', '/tasks']);
    } finally {
      await server.stop();
    }
  });

  test('a route that is unknown, not a read, or never public in ONAIR_PUBLIC_ROUTES stops the start, naming it', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/ping,/tasks/:nope', /ONAIR_PUBLIC_ROUTES.*\/tasks\/:nope.*no such route/],
      ['/reserve', /ONAIR_PUBLIC_ROUTES.*\/reserve.*not a read/],
      ['/channels/:channel/sessions', /ONAIR_PUBLIC_ROUTES.*\/channels\/:channel\/sessions.*never public/],
      ['/tasks/:status/:id', /ONAIR_PUBLIC_ROUTES.*\/tasks\/:status\/:id.*never public/],
      ['/prerecordings/:event/:start', /never public/],
      ['/channels/:channel/ingest', /never public/],
    ];
    for (const [routes, message] of cases) {
      const dataDir = tempDir();
      const onair = await createOnair(loadConfig({ ONAIR_HTTP_PORT: '0', ONAIR_DATA_DIR: dataDir, ONAIR_API_KEY: KEY, ONAIR_PUBLIC_ROUTES: routes }),
        { logger: pino({ level: 'silent' }) });
      try {
        await assert.rejects(onair.start(), (error: Error) => message.test(error.message), routes);
      } finally {
        await onair.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  });
});

describe('access without ONAIR_API_KEY', () => {
  test('a change from this machine is accepted, one relayed by a proxy is not, even from loopback', async () => {
    const server = await startOnair({ database });
    try {
      const show = { title: 'Relayed' };
      const relays: Array<Record<string, string>> = [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=203.0.113.7;proto=https' }, { 'x-real-ip': '203.0.113.7' }];
      for (const relayed of relays) {
        const refused = await server.request('POST', '/shows', show, relayed);
        assert.equal(refused.status, 403, JSON.stringify(relayed));
        assert.match(refused.body.detail, /proxy/, JSON.stringify(refused.body));
        assert.equal((await server.request('GET', '/channels/main/sessions', undefined, relayed)).status, 403, 'an operator\'s read');
        assert.equal((await server.request('GET', '/tasks', undefined, relayed)).status, 200, 'other reads stay open');
      }
      assert.equal((await server.request('POST', '/shows', show)).status, 201);
      assert.equal((await server.request('GET', '/channels/main/sessions')).status, 200);
    } finally {
      await server.stop();
    }
  });
});

describe('ONAIR_TRUST_PROXY', () => {
  test('a Forwarded header (RFC 7239) reads as the X-Forwarded-For list it stands for', () => {
    assert.equal(forwardedFor('for=192.0.2.60;proto=http;by=203.0.113.43'), '192.0.2.60');
    assert.equal(forwardedFor('For="[2001:db8:cafe::17]:4711", for=198.51.100.17:80;proto=https'), '2001:db8:cafe::17, 198.51.100.17');
    assert.equal(forwardedFor('for=_hidden, proto=https, for="[::1]"'), '_hidden, unknown, ::1');
  });

  /**
   * Starts onair with a debug logger, reads /ping with each set of headers, then tries a change with the first, and
   * answers the message and address of every line that has one.
   */
  async function loggedAddresses(trust: string | undefined, requests: Array<Record<string, string>>): Promise<string[]> {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const server = await startOnair({ database, logger, env: trust === undefined ? {} : { ONAIR_TRUST_PROXY: trust } });
    try {
      for (const headers of requests) await server.request('GET', '/ping', undefined, headers);
      assert.equal((await server.request('POST', '/shows', { title: 'Relayed' }, requests[0])).status, 403);
    } finally {
      await server.stop();
    }
    return lines.map((line) => JSON.parse(line)).filter((line) => line.ip !== undefined).map((line) => `${line.msg} ${line.ip}`);
  }
  const relayed: Array<Record<string, string>> = [
    { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' },
    { forwarded: 'for=192.0.2.60, for="[2001:db8:cafe::17]:4711";proto=https' },
    // A proxy that writes X-Forwarded-For passes the client's own Forwarded on: it names no one.
    { 'x-forwarded-for': '198.51.100.9', forwarded: 'for=10.9.9.9' },
  ];

  test('a trusted proxy\'s forwarded client address is the one logged (X-Forwarded-For and Forwarded)', async () => {
    assert.deepEqual(await loggedAddresses('127.0.0.1/32,::1', relayed),
      ['request 203.0.113.7', 'request 2001:db8:cafe::17', 'request 198.51.100.9', 'access refused 203.0.113.7', 'request 203.0.113.7']);
  });

  test('a reservation through a trusted proxy records the client as who reserved; through another, the peer', async () => {
    for (const [trust, who] of [['127.0.0.1/32', '203.0.113.7'], ['10.0.0.0/8', '127.0.0.1']] as const) {
      const server = await startOnair({ database, env: { ONAIR_API_KEY: KEY, ONAIR_TRUST_PROXY: trust, ONAIR_GATE_RESERVATION_TTL: '1' } });
      try {
        const show = (await server.request('POST', '/shows', { title: 'Relayed' }, withKey)).body.id;
        const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
        const event = (await server.request('POST', '/events', { showId: show, type: 'live', start, duration: 3600, timezone: 'UTC' }, withKey)).body.id;
        const reserved = await server.request('POST', '/reserve', { instance: { event, start } }, { ...withKey, 'x-forwarded-for': '203.0.113.7' });
        assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
        const [session] = (await server.request('GET', '/channels/main/sessions', undefined, withKey)).body;
        assert.equal(session.who, who, trust);
      } finally {
        await server.stop();
      }
    }
  });

  test('an untrusted peer\'s forwarded chain is ignored for the address', async () => {
    const local = ['request 127.0.0.1', 'request 127.0.0.1', 'request 127.0.0.1', 'access refused 127.0.0.1', 'request 127.0.0.1'];
    assert.deepEqual(await loggedAddresses(undefined, relayed), local);
    assert.deepEqual(await loggedAddresses('10.0.0.0/8', relayed), local);
  });
});
