import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, afterEach, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import { sseFrames } from '../support/sse.ts';

/** An SSE client that sends its request and never reads: what the server writes piles up in front of it. */
async function stalledClient(url: string, path: string, headers: Record<string, string> = {}): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  socket.pause();
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\n${lines}\r\n`);
  return socket;
}

/** Reads frames of `path` until `count` arrived. */
async function readFrames(url: string, path: string, count: number, headers: Record<string, string> = {}, onOpen = () => {}): Promise<Array<{ id: number; data: any }>> {
  const response = await fetch(`${url}${path}`, { headers });
  assert.equal(response.status, 200);
  onOpen();
  const frames: Array<{ id: number; data: any }> = [];
  for await (const { id, data } of sseFrames(response.body!)) {
    if (id !== undefined) frames.push({ id, data: data.data });
    if (frames.length === count) return frames;
  }
  throw new Error(`the stream ended after ${frames.length} of ${count} frames`);
}

const database = testDatabases[0]!;

describe('server-sent events under pressure', () => {
  let server: Running | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await server?.stop();
    server = undefined;
  });
  after(() => server?.stop());

  const metric = async (name: string) => {
    const text = (await server!.request('GET', '/metrics')).body as string;
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1]);
  };
  /** Records test events (a type of their own) in one transaction. */
  const record = (data: unknown[]) => server!.onair.bus.record(server!.onair.database.kysely, 'sse-test' as never, data as never[]);
  /** Records events of `bytes` each, a hundred at a time, until `done` holds. */
  const recordUntil = async (bytes: number, done: () => Promise<boolean>, what: string) => {
    const pad = 'x'.repeat(bytes);
    await waitFor(async () => {
      await record(Array.from({ length: 100 }, () => ({ pad })));
      return done();
    }, what, 30_000, 1);
  };
  const closed = async (socket: Socket) => {
    socket.resume();
    if (!socket.destroyed) await once(socket, 'close');
  };

  test('a client that stops reading is dropped once far behind, and the drop is counted', async () => {
    server = await startOnair({ database });
    const socket = await stalledClient(server.url, '/sse');
    sockets.push(socket);
    await waitFor(async () => (await metric('onair_sse_clients')) === 1, 'the client to be connected');
    await recordUntil(4096, async () => (await metric('onair_sse_clients_dropped_total')) === 1, 'the stalled client to be dropped');
    await closed(socket);
    assert.equal(await metric('onair_sse_clients'), 0);
  });

  test('a client replaying more history than it reads is dropped, and the server keeps serving', async () => {
    server = await startOnair({ database });
    const pad = 'x'.repeat(2048);
    for (let i = 0; i < 10; i++) await record(Array.from({ length: 1000 }, () => ({ pad })));
    const socket = await stalledClient(server.url, '/sse', { 'Last-Event-ID': '0' });
    sockets.push(socket);
    await waitFor(async () => (await metric('onair_sse_clients_dropped_total')) === 1, 'the replaying client to be dropped');
    await closed(socket);
    assert.equal((await server.request('GET', '/ping')).status, 204);
  });

  test('a replay comes in order, followed by the events recorded meanwhile, none lost or repeated', async () => {
    server = await startOnair({ database });
    for (let n = 0; n < 1000; n += 100) await record(Array.from({ length: 100 }, (_, i) => ({ n: n + i })));
    const frames = await readFrames(server.url, '/sse?types=sse-test', 1010, { 'Last-Event-ID': '0' }, () => {
      for (let n = 1000; n < 1010; n++) void record([{ n }]);
    });
    assert.deepEqual(frames.map((f) => f.data.n), Array.from({ length: 1010 }, (_, n) => n));
    assert.ok(frames.every((f, i) => i === 0 || f.id > frames[i - 1]!.id), 'ids increase');
  });

  test('a client that reads is never dropped by a long replay: the replay goes at its pace', async () => {
    server = await startOnair({ database });
    const pad = 'x'.repeat(2048);
    for (let i = 0; i < 5; i++) await record(Array.from({ length: 1000 }, (_, n) => ({ n: i * 1000 + n, pad })));
    const frames = await readFrames(server.url, '/sse?types=sse-test', 5000, { 'Last-Event-ID': '0' });
    assert.deepEqual(frames.map((f) => f.data.n), Array.from({ length: 5000 }, (_, n) => n));
    assert.equal(await metric('onair_sse_clients_dropped_total'), 0);
  });

  test('a lossy event comes without an id, so that it never moves Last-Event-ID; every event names its origin', async () => {
    server = await startOnair({ database });
    const response = await fetch(`${server.url}/sse?types=sse-test,sse-lossy`);
    const text = (async () => {
      let all = '';
      for await (const chunk of response.body!) {
        all += Buffer.from(chunk).toString();
        if (all.includes('"durable"')) return all;
      }
      return all;
    })();
    server.onair.bus.publish('sse-lossy' as never, { lossy: true } as never);
    await record(['durable']);
    const blocks = (await text).split('\n\n').filter((b) => b.includes('data: '));
    assert.equal(blocks.length, 2);
    assert.doesNotMatch(blocks[0]!, /^id: /m);
    assert.match(blocks[0]!, /^event: sse-lossy$/m);
    assert.match(blocks[1]!, /^id: \d+$/m);
    for (const block of blocks) assert.equal(JSON.parse(/^data: (.*)$/m.exec(block)![1]!).origin, server.onair.bus.origin);
  });

  test('past ONAIR_SSE_MAX_CLIENTS streams (over every SSE path), a 503 problem; refusals are counted', async () => {
    server = await startOnair({ database, env: { ONAIR_SSE_MAX_CLIENTS: '2' } });
    for (const path of ['/sse', '/channels/main/sse']) sockets.push(await stalledClient(server.url, path));
    await waitFor(async () => (await metric('onair_sse_clients')) === 2, 'two clients to be connected');
    const refused = await server.request('GET', '/sse');
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.match(refused.body.detail, /ONAIR_SSE_MAX_CLIENTS/);
    assert.equal(await metric('onair_sse_clients_refused_total'), 1);
    sockets.shift()!.destroy();
    await waitFor(async () => (await metric('onair_sse_clients')) === 1, 'the closed client to be gone');
    const frames = readFrames(server.url, '/sse?types=sse-test', 1, {}, () => void record([{ n: 1 }]));
    assert.equal((await frames)[0]!.data.n, 1);
  });
});
