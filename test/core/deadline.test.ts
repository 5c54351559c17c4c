import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { startArchive, type ArchiveServer } from '../recordings/support.ts';
import { testDatabases } from '../support/databases.ts';
import { waitFor } from '../support/onair.ts';

interface Raw {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const open: Socket[] = [];

/** A request whose body is sent by hand, a part at a time; `answer` settles when the server answers and closes. */
async function trickle(url: string, method: string, path: string, headers: Record<string, string>) {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  open.push(socket);
  let text = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk)).on('error', () => {});
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${hostname}\r\n${lines}\r\n`);
  const answer = once(socket, 'close').then((): Raw => {
    const [head = '', ...rest] = text.split('\r\n\r\n');
    const [statusLine = '', ...fields] = head.split('\r\n');
    return {
      status: Number(statusLine.split(' ')[1]),
      headers: Object.fromEntries(fields.map((f) => [f.slice(0, f.indexOf(':')).toLowerCase(), f.slice(f.indexOf(':') + 1).trim()])),
      body: rest.join('\r\n\r\n'),
    };
  });
  return { socket, answered: () => text.length > 0, answer, send: (part: string | Buffer) => socket.write(part) };
}

const MINUTE = 60_000;

for (const database of testDatabases) {
  describe(`request deadlines on ${database.name}`, () => {
    const clock = new ManualClock(Date.parse('2026-06-01T10:00:00Z'));
    let server: ArchiveServer;
    before(async () => {
      server = await startArchive(database, { clock, env: { ONAIR_HTTP_REQUEST_TIMEOUT: 'PT30S', ONAIR_UPLOAD_TIMEOUT: 'PT2H' } });
    });
    after(async () => {
      for (const socket of open.splice(0)) socket.destroy();
      await server.stop();
    });

    /** Moves the clock on by `ms` until the server answers: the deadline is armed once the request is read. */
    const advanceUntilAnswered = (request: { answered: () => boolean }, ms: number) =>
      waitFor(() => {
        clock.advance(ms);
        return request.answered();
      }, 'the server to answer');

    test('a JSON body still arriving at ONAIR_HTTP_REQUEST_TIMEOUT is a 408 problem, and the connection closes', async () => {
      const request = await trickle(server.url, 'POST', '/shows', { 'content-type': 'application/json', 'content-length': '100' });
      const sent = clock.now();
      request.send('{"title":');
      await advanceUntilAnswered(request, 1000);
      assert.ok(clock.now() - sent >= 30_000, `answered ${clock.now() - sent} ms after the request began`);
      const answer = await request.answer;
      assert.equal(answer.status, 408, answer.body);
      assert.equal(answer.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(answer.headers.connection, 'close');
      assert.match(JSON.parse(answer.body).detail, /30 s/);
      assert.equal((await server.request('GET', '/shows')).body.count, 0);
    });

    test('an upload keeps going past the JSON deadline, and is given up at ONAIR_UPLOAD_TIMEOUT: 408, nothing kept', async () => {
      const key = await server.event('live', '2026-12-04T20:00:00');
      const before = server.files();
      const request = await trickle(server.url, 'PUT', `/recordings/${key.event}/${key.start}`, { 'content-type': 'audio/ogg', 'content-length': '1000000' });
      request.send(Buffer.alloc(1000));
      await waitFor(() => server.files().some((f) => f.startsWith('tmp/')), 'the upload to begin');
      for (let minute = 0; minute < 110; minute += 10) {
        clock.advance(10 * MINUTE);
        request.send(Buffer.alloc(1000));
      }
      assert.equal(request.answered(), false, 'not cut before ONAIR_UPLOAD_TIMEOUT');
      await advanceUntilAnswered(request, 10 * MINUTE);
      const answer = await request.answer;
      assert.equal(answer.status, 408, answer.body);
      assert.equal(answer.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.match(JSON.parse(answer.body).detail, /2 h|7200 s/);
      await waitFor(() => server.files().every((f) => !f.startsWith('tmp/')), 'the temporary file to go');
      assert.deepEqual(server.files(), before);
      assert.equal((await server.request('GET', '/ping')).status, 204);
    });
  });
}
