import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect, createServer } from 'node:net';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/core/config.ts';
import { testDatabases } from '../support/databases.ts';
import { requestJson, startOnair, waitFor, type Answer, type Running } from '../support/onair.ts';
import { freePort } from '../support/process.ts';

const [sqlite] = testDatabases;
const KEY = 'a-key-of-sixteen-or-more';

/** onair whose default channel takes a port free for TCP; ONAIR_GATE_HTTP_PORT unset, so the gate answers on it. */
async function startWithGatePort(env: Record<string, string> = {}) {
  const port = await freePort();
  const server = await startOnair({ database: sqlite!, env: { ONAIR_SRT_PORT_START: String(port), ONAIR_GATE_HTTP_PORT: '', ...env } });
  const gate = `http://127.0.0.1:${port}`;
  return { server, port, gate, onGate: (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer> => requestJson(gate, method, path, body, headers) };
}

/** A live event on air now, made through the API's port; answers the body /reserve takes. */
async function liveNow(server: Running, headers: Record<string, string> = {}): Promise<{ event: string }> {
  const show = await server.request('POST', '/shows', { title: 'Gate port' }, headers);
  const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
  const event = await server.request('POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' }, headers);
  assert.equal(event.status, 201, JSON.stringify(event.body));
  return { event: event.body.id };
}

describe('the gate answers HTTP on the default channel\'s port (seed 002\'s clients)', () => {
  test('its routes answer there as on the API\'s port, the same validation and rules; other routes are a 404', async () => {
    const { server, onGate } = await startWithGatePort();
    try {
      const check = await onGate('GET', '/check');
      assert.equal(check.status, 200, JSON.stringify(check.body));
      assert.deepEqual(Object.keys(check.body).sort(), Object.keys((await server.request('GET', '/check')).body).sort());
      assert.equal(check.body.state, 'idle');
      assert.equal((await onGate('HEAD', '/ping')).status, 204);
      assert.equal((await onGate('GET', '/channels/main/check')).body.channel, 'main');

      const body = await liveNow(server);
      const bad = await onGate('POST', '/reserve', { ...body, format: 'mp3' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.detail, /body\.format/);
      const reserved = await onGate('POST', '/reserve', body);
      assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
      assert.equal((await server.request('GET', '/check')).body.state, 'reserved', 'one gate behind both ports');
      assert.equal((await onGate('POST', '/reserve', body)).status, 409);

      const tasks = await onGate('GET', '/tasks');
      assert.equal(tasks.status, 404);
      assert.equal(tasks.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.match(tasks.body.detail, /No route GET \/tasks on this port: it serves the gate's routes; every route is on the API's port \(ONAIR_HTTP_PORT\)/);
      assert.equal((await onGate('POST', '/tasks', { operation: { type: 'test' }, condition: { type: 'now' } })).status, 404);
      assert.equal((await onGate('GET', '/openapi.json')).status, 404);
      const documented = (await server.request('GET', '/openapi.json')).body.paths;
      assert.ok(documented['/check'] && documented['/reserve'], 'the routes are documented once, on the API');
    } finally {
      await server.stop();
    }
  });

  test('with ONAIR_API_KEY, a change on the gate\'s port needs the key as on the API\'s', async () => {
    const { server, onGate } = await startWithGatePort({ ONAIR_API_KEY: KEY });
    try {
      const body = await liveNow(server, { 'x-api-key': KEY });
      assert.equal((await onGate('POST', '/reserve', body)).status, 401);
      assert.equal((await onGate('POST', '/reserve', body, { 'x-api-key': KEY })).status, 201);
    } finally {
      await server.stop();
    }
  });

  test('a port taken already stops onair at start, naming the setting', async () => {
    const port = await freePort();
    const taken = createServer().listen(port, '127.0.0.1');
    await once(taken, 'listening');
    try {
      await assert.rejects(startOnair({ database: sqlite!, env: { ONAIR_SRT_PORT_START: String(port), ONAIR_GATE_HTTP_PORT: '' } }),
        (error: Error) => error instanceof ConfigError && /^ONAIR_GATE_HTTP_PORT: TCP port \d+ of 127\.0\.0\.1 is taken already/.test(error.message));
    } finally {
      taken.close();
    }
  });

  test('off: nothing listens there', async () => {
    const port = await freePort();
    const server = await startOnair({ database: sqlite!, env: { ONAIR_SRT_PORT_START: String(port), ONAIR_GATE_HTTP_PORT: 'off' } });
    try {
      await assert.rejects(fetch(`http://127.0.0.1:${port}/ping`), /fetch failed/);
    } finally {
      await server.stop();
    }
  });

  test('a request under way there when onair stops is answered, and its connection does not hold the stop', async () => {
    const { server, port, gate } = await startWithGatePort();
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk) => (answer += chunk));
    socket.write('HEAD /ping HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await waitFor(() => answer.startsWith('HTTP/1.1 204 '), 'the connection to be taken');
    answer = '';
    const body = JSON.stringify({ format: 'mp3' });
    socket.write(`POST /reserve HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
    // Another request answered after it: the server has read the first one's headers by then.
    assert.equal((await requestJson(gate, 'HEAD', '/ping')).status, 204);
    const started = Date.now();
    const stopped = server.stop();
    // The gate's port no longer takes connections: its close has begun, with this request still reading its body.
    await waitFor(() => fetch(`${gate}/ping`).then(() => false, () => true), 'the gate\'s port to close', 5000);
    socket.write(body.slice(5));
    await stopped;
    assert.ok(Date.now() - started < 2000, `stopped in ${Date.now() - started} ms`);
    assert.match(answer, /^HTTP\/1\.1 400 /);
    socket.destroy();
  });

  test('stopping onair closes it, an event stream open there too', async () => {
    const { server, gate, onGate } = await startWithGatePort();
    const stream = httpRequest(`${gate}/sse`);
    stream.end();
    const [response] = await once(stream, 'response');
    assert.equal(response.headers['content-type'], 'text/event-stream; charset=utf-8');
    response.resume();
    assert.equal((await onGate('HEAD', '/ping')).status, 204, 'a kept-alive connection as well');
    const ended = once(response, 'close');
    const started = Date.now();
    await server.stop();
    await ended;
    assert.ok(Date.now() - started < 2000, `stopped in ${Date.now() - started} ms`);
    await assert.rejects(fetch(`${gate}/ping`), /fetch failed/);
  });
});
