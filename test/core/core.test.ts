import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/core/config.ts';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';

describe('configuration', () => {
  test('defaults', () => {
    const config = loadConfig({});
    assert.equal(config.http.port, 10800);
    assert.equal(config.databaseUrl, undefined);
    assert.ok(config.dataDir.endsWith('/data'));
    assert.equal(config.http.requestTimeoutMs, 30_000);
    assert.equal(config.http.sseMaxClients, 500);
    assert.equal(config.recordings.uploadTimeoutMs, 4 * 3_600_000);
    assert.deepEqual(config.srt, { portStart: 10300, portEnd: 10399 });
    assert.deepEqual(loadConfig({ ONAIR_SRT_PORT_START: '20000' }).srt, { portStart: 20000, portEnd: 20099 });
    assert.equal(config.events.retentionMs, 7 * 86_400_000);
    assert.equal(loadConfig({ ONAIR_EVENTS_RETENTION: 'PT36H' }).events.retentionMs, 36 * 3_600_000);
    assert.equal(loadConfig({ ONAIR_EVENTS_RETENTION: 'P2W' }).events.retentionMs, 14 * 86_400_000);
    assert.deepEqual([config.http.publicRoutes, config.http.trustProxy], [undefined, []]);
    const access = loadConfig({ ONAIR_PUBLIC_ROUTES: '/ping, /listen', ONAIR_TRUST_PROXY: '127.0.0.1/32, ::1, fd00::/8, 10.1.2.3' }).http;
    assert.deepEqual([access.publicRoutes, access.trustProxy], [['/ping', '/listen'], ['127.0.0.1/32', '::1', 'fd00::/8', '10.1.2.3']]);
    assert.equal(config.logFormat, 'auto');
    assert.equal(loadConfig({ ONAIR_LOG_FORMAT: 'pretty' }).logFormat, 'pretty');
  });

  test('the gate answers HTTP on the default channel\'s port unless ONAIR_GATE_HTTP_PORT says otherwise', () => {
    assert.equal(loadConfig({}).gate.httpPort, 10300);
    assert.equal(loadConfig({ ONAIR_SRT_PORT_START: '20000' }).gate.httpPort, 20000);
    assert.equal(loadConfig({ ONAIR_CHANNELS: '[{"name":"fm","port":20500},{"name":"web"}]' }).gate.httpPort, 20500);
    assert.equal(loadConfig({ ONAIR_GATE_HTTP_PORT: '11000' }).gate.httpPort, 11000);
    assert.equal(loadConfig({ ONAIR_GATE_HTTP_PORT: '0' }).gate.httpPort, 0);
    assert.equal(loadConfig({ ONAIR_GATE_HTTP_PORT: 'off' }).gate.httpPort, undefined);
    assert.equal(loadConfig({ ONAIR_HTTP_PORT: '10300' }).gate.httpPort, undefined, 'the API\'s port serves the gate already');
  });

  test('a bad value stops onair with a message naming it', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ ONAIR_HTTP_PORT: 'eighty' }, /ONAIR_HTTP_PORT/],
      [{ ONAIR_HTTP_PORT: '70000' }, /ONAIR_HTTP_PORT/],
      [{ ONAIR_DATABASE_URL: 'mysql://x' }, /ONAIR_DATABASE_URL/],
      [{ ONAIR_LOG_LEVEL: 'loud' }, /ONAIR_LOG_LEVEL/],
      [{ ONAIR_LOG_FORMAT: 'colour' }, /ONAIR_LOG_FORMAT must be one of auto, json, pretty, got "colour"/],
      [{ ONAIR_API_KEY: 'short' }, /ONAIR_API_KEY/],
      [{ ONAIR_TASKS_CLEAN_RETENTION: 'a month' }, /ONAIR_TASKS_CLEAN_RETENTION/],
      [{ ONAIR_SSE_MAX_CLIENTS: '0' }, /ONAIR_SSE_MAX_CLIENTS/],
      [{ ONAIR_HTTP_REQUEST_TIMEOUT: '30' }, /ONAIR_HTTP_REQUEST_TIMEOUT/],
      [{ ONAIR_HTTP_REQUEST_TIMEOUT: 'PT0.5S' }, /ONAIR_HTTP_REQUEST_TIMEOUT/],
      [{ ONAIR_UPLOAD_TIMEOUT: 'PT30S', ONAIR_UPLOAD_IDLE_TIMEOUT: 'PT1M' }, /ONAIR_UPLOAD_IDLE_TIMEOUT must not be longer than ONAIR_UPLOAD_TIMEOUT/],
      [{ ONAIR_SRT_PORT_START: '20000', ONAIR_SRT_PORT_END: '19999' }, /ONAIR_SRT_PORT_END must be a whole number from 20000 to 65535/],
      [{ ONAIR_EVENTS_RETENTION: 'a week' }, /ONAIR_EVENTS_RETENTION/],
      [{ ONAIR_EVENTS_RETENTION: 'PT10M' }, /ONAIR_EVENTS_RETENTION/],
      [{ ONAIR_AUTOMATION_WINDOW: 'P1M' }, /^ONAIR_AUTOMATION_WINDOW: "P1M" uses years or months, which have no fixed length/],
      [{ ONAIR_TASKS_CLEAN_RETENTION: 'P1Y' }, /^ONAIR_TASKS_CLEAN_RETENTION: "P1Y" uses years or months/],
      [{ ONAIR_PUBLIC_ROUTES: '/ping,schedule' }, /ONAIR_PUBLIC_ROUTES .* got "schedule"/],
      [{ ONAIR_TRUST_PROXY: '127.0.0.1/32,proxy.local' }, /ONAIR_TRUST_PROXY .* got "proxy.local"/],
      [{ ONAIR_TRUST_PROXY: '10.0.0.0/33' }, /ONAIR_TRUST_PROXY .* got "10.0.0.0\/33"/],
      [{ ONAIR_TRUST_PROXY: '::1/129' }, /ONAIR_TRUST_PROXY/],
      [{ ONAIR_GATE_HTTP_PORT: 'on' }, /ONAIR_GATE_HTTP_PORT must be off or a TCP port from 0 to 65535, got "on"/],
      [{ ONAIR_GATE_HTTP_PORT: '70000' }, /ONAIR_GATE_HTTP_PORT/],
      [{ ONAIR_GATE_HTTP_PORT: '-1' }, /ONAIR_GATE_HTTP_PORT/],
    ];
    for (const [env, message] of cases) assert.throws(() => loadConfig(env), (e: Error) => e instanceof ConfigError && message.test(e.message));
  });

  test('the fallback between shows: silence unless ONAIR_GATE_FALLBACK or the channel says otherwise', () => {
    const silence = { type: 'silence' };
    assert.deepEqual(loadConfig({}).gate.fallback, silence);
    assert.deepEqual(loadConfig({}).gate.channels[0]!.fallback, silence);
    assert.deepEqual(loadConfig({ ONAIR_GATE_FALLBACK: 'none' }).gate.channels[0]!.fallback, { type: 'none' });
    const event = '0b6f3b5e-4c1a-4d8e-9a57-3f2a1c9e7d10';
    const channels = loadConfig({
      ONAIR_GATE_FALLBACK: 'none',
      ONAIR_CHANNELS: JSON.stringify([
        { name: 'main', fallback: { prerecording: { event, start: '2026-12-04T20:00:00' } } },
        { name: 'talk', fallback: { recording: { event, start: '2026-12-04T21:00:00' } } },
        { name: 'quiet', fallback: 'silence' }, { name: 'plain' },
      ]),
    }).gate.channels;
    assert.deepEqual(channels.map((c) => c.fallback), [
      { type: 'archive', kind: 'prerecordings', event, start: '2026-12-04T20:00:00' },
      { type: 'archive', kind: 'recordings', event, start: '2026-12-04T21:00:00' },
      silence, { type: 'none' },
    ]);
    const bad = (fallback: unknown) => ({ ONAIR_CHANNELS: JSON.stringify([{ name: 'main', fallback }]) });
    for (const env of [{ ONAIR_GATE_FALLBACK: 'music' }, bad('music'), bad({ prerecording: { event: 'x', start: '2026-12-04T20:00:00' } }),
      bad({ prerecording: { event, start: 'tonight' } }), bad({ file: '/etc/passwd' }), bad({ recording: { event, start: '2026-12-04T20:00:00' }, prerecording: {} })]) {
      assert.throws(() => loadConfig(env), (e: Error) => e instanceof ConfigError && /ONAIR_GATE_FALLBACK|ONAIR_CHANNELS \[0\]\.fallback must be/.test(e.message), JSON.stringify(env));
    }
  });
});

type Frame = { id: string; event: string; data: any };

/**
 * Reads server-sent events from a path until `count` frames arrived. `connected` settles once the
 * response headers are in: the server subscribes before it sends them.
 */
function subscribe(url: string, count: number, headers: Record<string, string> = {}): { connected: Promise<void>; frames: Promise<Frame[]> } {
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const frames = new Promise<Frame[]>((resolve, reject) => {
    const frames: Frame[] = [];
    const req = httpRequest(url, { headers }, (res) => {
      connected();
      assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':') && l.includes(': '))
            .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));
          if (fields.data) frames.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
          if (frames.length === count) {
            req.destroy();
            resolve(frames);
          }
        }
      });
    });
    req.on('error', (error) => (frames.length === count ? undefined : reject(error)));
    req.end();
  });
  return { connected: ready, frames };
}

async function readEvents(url: string, count: number, headers: Record<string, string> = {}): Promise<Frame[]> {
  return subscribe(url, count, headers).frames;
}

for (const database of testDatabases) {
  describe(`server-sent events on ${database.name}`, () => {
    let server: Running;
    after(() => server.stop());

    test('/sse streams typed events filtered by type, and resumes after Last-Event-ID', async () => {
      server = await startOnair({ database });
      const events = subscribe(`${server.url}/sse?types=task-status-changed`, 2);
      await events.connected;
      const created = await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} } });
      const frames = await events.frames;
      assert.deepEqual(frames.map((f) => f.data.data.status), ['queued', 'running']);
      for (const frame of frames) {
        assert.equal(frame.event, 'task-status-changed');
        assert.equal(frame.data.type, 'task-status-changed');
        assert.equal(frame.data.data.id, created.body.task.id);
        assert.ok(!Number.isNaN(Date.parse(frame.data.createdAt)));
      }
      const resumed = await readEvents(`${server.url}/sse?types=task-status-changed`, 1, { 'Last-Event-ID': frames[0]!.id });
      assert.equal(resumed[0]!.id, frames[1]!.id);
    });
  });
}

describe('events across instances', { skip: !postgresAvailable && 'PostgreSQL not reachable' }, () => {
  test('an event published on one instance reaches SSE clients of another', async () => {
    const url = await postgresDatabase.create();
    const one = await startOnair({ database: postgresDatabase, databaseUrl: url });
    const two = await startOnair({ database: postgresDatabase, databaseUrl: url });
    try {
      const events = subscribe(`${two.url}/sse?types=task-status-changed`, 1);
      await events.connected;
      const created = await one.request('POST', '/tasks', { operation: { type: 'test', parameters: {} }, condition: { type: 'at', parameters: { datetime: '2999-01-01T00:00:00Z' } } });
      const [frame] = await events.frames;
      assert.equal(frame!.data.data.id, created.body.task.id);
      assert.equal(frame!.data.data.status, 'queued');
    } finally {
      await one.stop();
      await two.stop();
      await postgresDatabase.drop(url);
    }
  });
});

describe('security defaults', () => {
  test('with ONAIR_API_KEY, changes and reads need the key (test/core/access.test.ts has the public reads)', async () => {
    const key = 'k'.repeat(32);
    const server = await startOnair({ database: testDatabases[0]!, env: { ONAIR_API_KEY: key } });
    try {
      const body = { operation: { type: 'test', parameters: {} } };
      assert.equal((await server.request('POST', '/tasks', body)).status, 401);
      assert.equal((await server.request('POST', '/tasks', body, { 'x-api-key': 'wrong' })).status, 401);
      assert.equal((await server.request('POST', '/tasks', body, { 'x-api-key': key })).status, 201);
      assert.equal((await server.request('GET', '/tasks')).status, 401);
      assert.equal((await server.request('GET', '/tasks', undefined, { 'x-api-key': key })).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('/metrics exposes task counts, fire lateness and HTTP latency', async () => {
    const server = await startOnair({ database: testDatabases[0]!});
    try {
      await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} } });
      await waitFor(async () => (await server.request('GET', '/tasks')).body.completed.length === 1, 'the task to run');
      const text = (await server.request('GET', '/metrics')).body as string;
      assert.match(text, /onair_tasks\{status="completed"\} 1/);
      assert.match(text, /onair_task_fire_lateness_seconds_count 1/);
      assert.match(text, /onair_http_request_duration_seconds_bucket\{.*route="\/tasks"/);
    } finally {
      await server.stop();
    }
  });
});

describe('query strings', () => {
  test('only plain decimal strings become numbers', async () => {
    const server = await startOnair({ database: testDatabases[0]! });
    try {
      for (const limit of ['true', '1e2', '0x10', '1n', ' 5', '']) {
        const answer = await server.request('GET', `/shows?limit=${encodeURIComponent(limit)}`);
        assert.equal(answer.status, 400, `limit=${limit}`);
        assert.match(answer.body.detail, /querystring\.limit/);
      }
      assert.equal((await server.request('GET', '/shows?limit=5')).body.limit, 5);
    } finally {
      await server.stop();
    }
  });
});
