import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { testDatabases } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { archiveFiles, media, startArchive, upload, type ArchiveServer } from './support.ts';

const dir = tempDir('onair-recordings-media-');
let ogg: string;
let mp4: string;
let text: string;

before(async () => {
  ogg = await media(dir, 'tone.ogg', '-f', 'lavfi', '-i', 'sine=d=3', '-c:a', 'libopus');
  mp4 = await media(dir, 'clip.mp4', '-f', 'lavfi', '-i', 'testsrc=d=1:s=64x64', '-f', 'lavfi', '-i', 'sine=d=1', '-c:v', 'libx264', '-c:a', 'aac', '-shortest');
  text = join(dir, 'notes.txt');
  writeFileSync(text, 'these are not the droids you are looking for\n'.repeat(100));
});
after(() => rmSync(dir, { recursive: true, force: true }));

for (const database of testDatabases) {
  describe(`Recordings archive API on ${database.name}`, () => {
    let server: ArchiveServer;
    before(async () => {
      server = await startArchive(database);
    });
    after(() => server.stop());

    const live = (start = '2026-12-04T20:00:00', extra?: Record<string, unknown>) => server.event('live', start, extra);
    const path = (key: { event: string; start: string }, kind = 'recordings') => `/${kind}/${key.event}/${key.start}`;

    test('PUT answers 201 with the probed metadata, then 200 when it replaces the file', async () => {
      const key = await live('2026-12-04T20:00:00', { timezone: 'Europe/Warsaw' });
      const created = await upload(server.url, path(key), ogg);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.event, key.event);
      assert.equal(created.body.start, key.start);
      assert.equal(created.body.startsAt, '2026-12-04T19:00:00.000Z');
      assert.equal(created.body.size, readFileSync(ogg).length);
      assert.equal(created.body.format, 'ogg');
      assert.equal(created.body.contentType, 'audio/ogg');
      assert.ok(Math.abs(created.body.duration - 3) < 0.1, String(created.body.duration));
      const replaced = await upload(server.url, path(key), mp4, 'video/mp4');
      assert.equal(replaced.status, 200);
      assert.equal(replaced.body.contentType, 'video/mp4');
      assert.notEqual(replaced.body.etag, created.body.etag);
      const got = await fetch(`${server.url}${path(key)}`);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), readFileSync(mp4));
      assert.equal(server.files().filter((f) => f.startsWith('recordings/')).length, 1, 'the replaced file is gone');
    });

    test('GET and HEAD answer the file with its headers; If-None-Match answers 304', async () => {
      const key = await live();
      const stored = (await upload(server.url, path(key), ogg)).body;
      const bytes = readFileSync(ogg);
      for (const method of ['GET', 'HEAD']) {
        const answer = await fetch(`${server.url}${path(key)}`, { method });
        assert.equal(answer.status, 200);
        assert.equal(answer.headers.get('content-type'), 'audio/ogg');
        assert.equal(answer.headers.get('content-length'), String(bytes.length));
        assert.equal(answer.headers.get('etag'), stored.etag);
        assert.equal(answer.headers.get('accept-ranges'), 'bytes');
        assert.equal(answer.headers.get('last-modified'), new Date(stored.createdAt).toUTCString());
        const body = Buffer.from(await answer.arrayBuffer());
        assert.deepEqual(body, method === 'GET' ? bytes : Buffer.alloc(0));
      }
      const cached = await fetch(`${server.url}${path(key)}`, { headers: { 'if-none-match': stored.etag } });
      assert.equal(cached.status, 304);
      assert.equal((await fetch(`${server.url}${path(key)}`, { headers: { 'if-none-match': '"other"' } })).status, 200);
    });

    test('Range requests answer exactly the bytes asked for; unsatisfiable ones 416', async () => {
      const key = await live();
      await upload(server.url, path(key), ogg);
      const bytes = readFileSync(ogg);
      const size = bytes.length;
      const cases: Array<[string, number, number]> = [
        ['bytes=0-0', 0, 0], ['bytes=0-99', 0, 99], ['bytes=100-199', 100, 199], [`bytes=${size - 10}-`, size - 10, size - 1],
        ['bytes=-500', size - 500, size - 1], [`bytes=-${size * 2}`, 0, size - 1], [`bytes=10-${size * 3}`, 10, size - 1],
        ['bytes=1000-', 1000, size - 1],
      ];
      for (const [range, first, last] of cases) {
        const answer = await fetch(`${server.url}${path(key)}`, { headers: { range } });
        assert.equal(answer.status, 206, range);
        assert.equal(answer.headers.get('content-range'), `bytes ${first}-${last}/${size}`, range);
        assert.equal(answer.headers.get('content-length'), String(last - first + 1), range);
        assert.deepEqual(Buffer.from(await answer.arrayBuffer()), bytes.subarray(first, last + 1), range);
      }
      for (const range of [`bytes=${size}-`, `bytes=${size + 5}-${size + 10}`, 'bytes=-0']) {
        const answer = await fetch(`${server.url}${path(key)}`, { headers: { range } });
        assert.equal(answer.status, 416, range);
        assert.equal(answer.headers.get('content-range'), `bytes */${size}`);
        assert.match(((await answer.json()) as { detail: string }).detail, /range/);
      }
      for (const range of ['bytes=0-1,5-6', 'bytes=5-2', 'items=0-1', 'bytes=abc']) {
        const answer = await fetch(`${server.url}${path(key)}`, { headers: { range } });
        assert.equal(answer.status, 200, range);
        assert.equal(Buffer.from(await answer.arrayBuffer()).length, size, range);
      }
      const head = await fetch(`${server.url}${path(key)}`, { method: 'HEAD', headers: { range: 'bytes=0-9' } });
      assert.equal(head.status, 206);
      assert.equal(head.headers.get('content-length'), '10');
    });

    test('If-Range: the same ETag honours the range, another one answers the whole file', async () => {
      const key = await live();
      const { etag } = (await upload(server.url, path(key), ogg)).body;
      const honoured = await fetch(`${server.url}${path(key)}`, { headers: { range: 'bytes=0-9', 'if-range': etag } });
      assert.equal(honoured.status, 206);
      await honoured.arrayBuffer();
      const stale = await fetch(`${server.url}${path(key)}`, { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } });
      assert.equal(stale.status, 200);
      assert.equal(Buffer.from(await stale.arrayBuffer()).length, readFileSync(ogg).length);
    });

    test('PUT for an instance the programme does not have: 404, body unread, nothing stored', async () => {
      const before = server.files();
      const key = await live();
      const unknown = await upload(server.url, `/recordings/${key.event}/2026-12-05T20:00:00`, ogg);
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.detail, /no instance/);
      const noEvent = await upload(server.url, `/recordings/${crypto.randomUUID()}/2026-12-04T20:00:00`, ogg);
      assert.equal(noEvent.status, 404);
      assert.deepEqual(server.files(), before);
    });

    test('recordings are for live events, prerecordings for prerecorded ones: a mismatch answers 400 naming the event', async () => {
      const prerecorded = await server.event('prerecorded', '2026-12-06T08:00:00');
      const replay = await server.event('replay', '2026-12-06T09:00:00');
      for (const [key, kind] of [[prerecorded, 'recordings'], [replay, 'recordings'], [await live(), 'prerecordings'], [replay, 'prerecordings']] as const) {
        const answer = await upload(server.url, path(key, kind), ogg);
        assert.equal(answer.status, 400, `${kind} ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.errors[0].field, 'event');
        assert.match(answer.body.detail, /(live|prerecorded) events only/);
      }
      const ok = await upload(server.url, path(prerecorded, 'prerecordings'), ogg);
      assert.equal(ok.status, 201);
      assert.equal((await fetch(`${server.url}${path(prerecorded, 'recordings')}`)).status, 404, 'kinds are apart');
    });

    test('a file that is not audio or video: 400 and nothing stored; an empty body: 400', async () => {
      const key = await live();
      const before = server.files();
      const answer = await upload(server.url, path(key), text, 'application/octet-stream');
      assert.equal(answer.status, 400);
      assert.equal(answer.body.errors[0].field, 'body');
      assert.match(answer.body.detail, /not an audio or video file/);
      const image = await media(dir, 'still.png', '-f', 'lavfi', '-i', 'testsrc=s=32x32', '-frames:v', '1');
      assert.equal((await upload(server.url, path(key), image, 'image/png')).status, 400);
      const empty = await server.request('PUT', path(key), '', { 'content-type': 'audio/ogg' });
      assert.equal(empty.status, 400);
      assert.match(empty.body.detail, /body/);
      const none = await fetch(`${server.url}${path(key)}`, { method: 'PUT' });
      assert.equal(none.status, 400);
      assert.deepEqual(server.files(), before);
      assert.equal((await fetch(`${server.url}${path(key)}`)).status, 404);
    });

    test('bad keys answer 400 naming the field', async () => {
      const cases: Array<[string, string, RegExp]> = [
        ['PUT', '/recordings/abc/2026-12-04', /params\.start/],
        ['GET', '/recordings/abc/2026-13-04T20:00:00', /params\.start/],
        ['GET', '/recordings/abc/2026-02-30T20:00:00', /params\.start/],
        ['DELETE', '/prerecordings/a%20b/2026-12-04T20:00:00', /params\.event/],
        ['GET', '/recordings/abc?limit=0', /querystring\.limit/],
        ['GET', '/recordings/abc?offset=-1', /querystring\.offset/],
        ['GET', '/recordings/abc?after=yesterday', /querystring\.after/],
        ['GET', '/recordings/abc?before=2026-02-30T00:00:00', /querystring\.before/],
        ['GET', '/recordings/abc?colour=red', /querystring\.colour/],
      ];
      for (const [method, url, field] of cases) {
        const answer = await server.request(method, url, method === 'PUT' ? 'x' : undefined, { 'content-type': 'audio/ogg' });
        assert.equal(answer.status, 400, `${method} ${url}`);
        assert.match(answer.body.detail, field, `${method} ${url}: ${answer.body.detail}`);
      }
    });

    test('DELETE answers 204 and removes file and row; then 404', async () => {
      const key = await live();
      await upload(server.url, path(key), ogg);
      const deleted = await server.request('DELETE', path(key));
      assert.equal(deleted.status, 204);
      assert.equal((await fetch(`${server.url}${path(key)}`)).status, 404);
      assert.equal((await fetch(`${server.url}${path(key)}`, { method: 'HEAD' })).status, 404);
      assert.equal((await server.request('DELETE', path(key))).status, 404);
      assert.ok(!server.files().some((f) => f.startsWith('recordings/') && f.includes(key.event)));
      assert.deepEqual(await server.recordings.archive.find('recordings', key.event, key.start), []);
    });

    test('the list pages by instance start with after (inclusive), before (exclusive), limit and offset', async () => {
      const key = await live('2026-12-01T20:00:00', { recurrence: { rule: 'FREQ=WEEKLY;COUNT=4' } });
      const starts = ['2026-12-01T20:00:00', '2026-12-08T20:00:00', '2026-12-15T20:00:00', '2026-12-22T20:00:00'];
      for (const start of [...starts].reverse()) assert.equal((await upload(server.url, path({ event: key.event, start }), ogg)).status, 201);
      const all = await server.request('GET', `/recordings/${key.event}`);
      assert.equal(all.status, 200);
      assert.equal(all.body.count, 4);
      assert.equal(all.body.limit, 50);
      assert.equal(all.body.offset, 0);
      assert.deepEqual(all.body.recordings.map((r: { start: string }) => r.start), starts);
      assert.deepEqual(Object.keys(all.body.recordings[0]).sort(),
        ['contentType', 'createdAt', 'duration', 'etag', 'event', 'format', 'part', 'size', 'start', 'startsAt']);
      const page = await server.request('GET', `/recordings/${key.event}?limit=2&offset=1`);
      assert.equal(page.body.count, 4);
      assert.deepEqual(page.body.recordings.map((r: { start: string }) => r.start), starts.slice(1, 3));
      const window = await server.request('GET', `/recordings/${key.event}?after=2026-12-08T20:00:00&before=2026-12-22T20:00:00`);
      assert.deepEqual(window.body.recordings.map((r: { start: string }) => r.start), starts.slice(1, 3));
      const instants = await server.request('GET', `/recordings/${key.event}?after=2026-12-08T21:00:00%2B01:00&before=2026-12-15T20:00:01Z`);
      assert.deepEqual(instants.body.recordings.map((r: { start: string }) => r.start), starts.slice(1, 3));
      const beyond = await server.request('GET', `/recordings/${key.event}?offset=10`);
      assert.deepEqual([beyond.body.count, beyond.body.recordings.length], [4, 0]);
      const none = await server.request('GET', `/prerecordings/${key.event}`);
      assert.deepEqual(none.body, { count: 0, limit: 50, offset: 0, prerecordings: [] });
    });

    test('an upload cut mid-way leaves no file, no row and no temporary file', async () => {
      const key = await live();
      const before = server.files();
      const bytes = readFileSync(mp4);
      const { port } = new URL(server.url);
      await new Promise<void>((resolve) => {
        const req = httpRequest({
          host: '127.0.0.1', port, method: 'PUT', path: path(key),
          headers: { 'content-type': 'video/mp4', 'content-length': String(bytes.length * 10) },
        });
        req.on('error', () => resolve());
        req.write(bytes.subarray(0, bytes.length / 2), () => {
          waitFor(() => server.files().some((f) => f.startsWith('tmp/')), 'the temporary file').then(() => {
            req.destroy();
            resolve();
          }, resolve);
        });
      });
      await waitFor(() => server.files().every((f) => !f.startsWith('tmp/')), 'the temporary file to go');
      assert.deepEqual(server.files(), before);
      assert.equal((await fetch(`${server.url}${path(key)}`)).status, 404);
      assert.deepEqual(await server.recordings.archive.find('recordings', key.event, key.start), []);
    });

    test('concurrent PUTs of one key: the last complete one wins whole', async () => {
      const key = await live();
      const answers = await Promise.all([upload(server.url, path(key), ogg), upload(server.url, path(key), mp4, 'video/mp4'), upload(server.url, path(key), ogg)]);
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 201]);
      const got = await fetch(`${server.url}${path(key)}`);
      const body = Buffer.from(await got.arrayBuffer());
      const parts = await server.recordings.archive.find('recordings', key.event, key.start);
      assert.equal(parts.length, 1, 'an upload replaces whatever the key held');
      const [stored] = parts;
      const expected = stored!.format === 'ogg' ? readFileSync(ogg) : readFileSync(mp4);
      assert.deepEqual(body, expected);
      assert.equal(got.headers.get('content-length'), String(expected.length));
      assert.equal(server.files().filter((f) => f.includes(stored!.path.split('/').at(-1)!)).length, 1);
      assert.equal(server.files().filter((f) => f.startsWith('tmp/')).length, 0);
    });

    test('the archive interface: adopt moves a staged file in as the next part, find and latest answer the parts in order', async () => {
      const { archive } = server.recordings;
      const first = await live('2026-11-01T20:00:00', { recurrence: { rule: 'FREQ=WEEKLY;COUNT=2' } });
      const other = await live('2026-11-05T20:00:00');
      const staged = join(archive.stagingDir, 'take.ogg');
      const stage = (from: string) => writeFileSync(staged, readFileSync(from));
      stage(ogg);
      const adopted = await archive.adopt('recordings', first.event, first.start, staged);
      assert.equal(adopted.format, 'ogg');
      assert.equal(adopted.part, 1);
      assert.equal(adopted.startsAt, Date.parse('2026-11-01T20:00:00Z'));
      assert.deepEqual(readFileSync(adopted.path), readFileSync(ogg));
      assert.throws(() => readFileSync(staged), /ENOENT/);
      // The same instance again (a source that came back): a second part, the first one kept.
      stage(mp4);
      const again = await archive.adopt('recordings', first.event, first.start, staged);
      assert.equal(again.part, 2);
      assert.deepEqual((await archive.find('recordings', first.event, first.start)).map((f) => [f.part, f.path]), [[1, adopted.path], [2, again.path]]);
      assert.deepEqual(readFileSync(adopted.path), readFileSync(ogg));
      stage(ogg);
      await archive.adopt('recordings', first.event, '2026-11-08T20:00:00', staged);
      stage(ogg);
      await archive.adopt('recordings', other.event, other.start, staged);
      const events = [first.event, other.event];
      const t = (s: string) => Date.parse(`${s}Z`);
      const keys = (files: Array<{ event: string; start: string; part: number }>) => files.map((f) => [f.event, f.start, f.part]);
      assert.deepEqual(keys(await archive.latest('recordings', events, t('2026-10-01T00:00:00'), t('2026-12-01T00:00:00'))), [[first.event, '2026-11-08T20:00:00', 1]]);
      assert.deepEqual(keys(await archive.latest('recordings', events, t('2026-10-01T00:00:00'), t('2026-11-08T20:00:00'))), [[other.event, other.start, 1]]);
      assert.deepEqual(keys(await archive.latest('recordings', [first.event], t('2026-10-01T00:00:00'), t('2026-11-02T00:00:00'))), [[first.event, first.start, 1], [first.event, first.start, 2]]);
      assert.deepEqual(await archive.latest('recordings', [first.event], t('2026-11-02T00:00:00'), t('2026-11-08T20:00:00')), []);
      assert.deepEqual(await archive.latest('prerecordings', events, 0, t('2030-01-01T00:00:00')), []);
      assert.deepEqual(await archive.latest('recordings', [], 0, t('2030-01-01T00:00:00')), []);
      writeFileSync(staged, 'not media');
      await assert.rejects(archive.adopt('recordings', other.event, other.start, staged), /not an audio or video file/);
      await assert.rejects(archive.adopt('recordings', other.event, '2026-11-06T20:00:00', staged), /no instance/);
      assert.equal(readFileSync(staged, 'utf8'), 'not media', 'a rejected file stays with its producer');
    });

    test('an instance in parts: listed with their numbers, each downloadable (?part=N, the first by default), deleted one by one or all; a PUT replaces them all', async () => {
      const { archive } = server.recordings;
      const key = await live('2026-11-20T20:00:00');
      const onDisk = () => server.files().filter((f) => f.startsWith('recordings/')).length;
      const before = onDisk();
      const staged = join(archive.stagingDir, 'part.bin');
      for (const file of [ogg, mp4, ogg]) {
        writeFileSync(staged, readFileSync(file));
        await archive.adopt('recordings', key.event, key.start, staged);
      }
      const listed = (await server.request('GET', `/recordings/${key.event}`)).body;
      assert.equal(listed.count, 3);
      assert.deepEqual(listed.recordings.map((r: { start: string; part: number; format: string }) => [r.start, r.part, r.format.split(',')[0]]),
        [[key.start, 1, 'ogg'], [key.start, 2, 'mov'], [key.start, 3, 'ogg']]);
      const body = async (query = '') => {
        const answer = await fetch(`${server.url}${path(key)}${query}`);
        return { status: answer.status, bytes: Buffer.from(await answer.arrayBuffer()), etag: answer.headers.get('etag') };
      };
      assert.deepEqual((await body()).bytes, readFileSync(ogg), 'part 1 by default, as a seed client expects');
      assert.deepEqual((await body('?part=2')).bytes, readFileSync(mp4));
      assert.equal((await body('?part=2')).etag, listed.recordings[1].etag);
      const ranged = await fetch(`${server.url}${path(key)}?part=2`, { headers: { range: 'bytes=0-9' } });
      assert.equal(ranged.status, 206);
      assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), readFileSync(mp4).subarray(0, 10));
      assert.equal((await body('?part=4')).status, 404);
      const bad = await server.request('GET', `${path(key)}?part=0`);
      assert.equal(bad.status, 400);
      assert.match(bad.body.detail, /querystring\.part/);
      assert.equal(onDisk() - before, 3);
      assert.equal((await server.request('DELETE', `${path(key)}?part=1`)).status, 204);
      assert.equal(onDisk() - before, 2);
      assert.deepEqual((await archive.find('recordings', key.event, key.start)).map((f) => f.part), [2, 3]);
      assert.deepEqual((await body()).bytes, readFileSync(mp4), 'the first part left is the default');
      const replaced = await upload(server.url, path(key), ogg);
      assert.equal(replaced.status, 200);
      assert.equal(replaced.body.part, 1);
      assert.deepEqual((await archive.find('recordings', key.event, key.start)).map((f) => f.part), [1]);
      assert.equal(onDisk() - before, 1, 'the files of the parts it replaced are gone');
      assert.equal((await server.request('DELETE', path(key))).status, 204);
      assert.deepEqual(await archive.find('recordings', key.event, key.start), []);
      assert.equal(onDisk(), before);
    });

    test('OpenAPI documents every archive route', async () => {
      const spec = (await server.request('GET', '/openapi.json')).body;
      for (const kind of ['recordings', 'prerecordings']) {
        assert.deepEqual(Object.keys(spec.paths[`/${kind}/{event}/{start}`]).sort(), ['delete', 'get', 'head', 'put']);
        assert.ok(spec.paths[`/${kind}/{event}`].get);
      }
    });
  });
}

/** A PUT that declares `declared` bytes and sends `parts` one every `everyMs`, then keeps the connection open; answers the response and its body. */
function putSlowly(url: string, path: string, declared: number, parts: Buffer[], everyMs: number): Promise<{ response: IncomingMessage; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path, headers: { 'content-type': 'audio/ogg', 'content-length': String(declared) } });
    req.on('error', reject).on('response', (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ response, body }));
    });
    const send = (index: number) => {
      if (index < parts.length) req.write(parts[index], () => setTimeout(() => send(index + 1), everyMs));
    };
    send(0);
  });
}

for (const database of testDatabases) {
  describe(`Recordings archive upload idle timeout on ${database.name}`, () => {
    let server: ArchiveServer;
    before(async () => {
      server = await startArchive(database, { env: { ONAIR_UPLOAD_IDLE_TIMEOUT: 'PT0.5S' } });
    });
    after(() => server.stop());

    test('a stalled upload is given up: 408, no temporary file, nothing stored', { timeout: 30_000 }, async () => {
      const key = await server.event('live', '2026-12-04T20:00:00');
      const bytes = readFileSync(ogg);
      const before = server.files();
      const started = Date.now();
      const { response, body } = await putSlowly(server.url, `/recordings/${key.event}/${key.start}`, bytes.length * 2, [bytes], 0);
      assert.equal(response.statusCode, 408, body);
      assert.ok(Date.now() - started >= 450, 'not before the idle timeout');
      assert.match(JSON.parse(body).detail, /nothing arrived for 500 ms/);
      await waitFor(() => server.files().every((f) => !f.startsWith('tmp/')), 'the temporary file to go');
      assert.deepEqual(server.files(), before);
      assert.equal((await fetch(`${server.url}/recordings/${key.event}/${key.start}`)).status, 404);
      assert.equal((await server.request('GET', '/ping')).status, 204);
    });

    test('a slow upload that keeps sending is not cut', async () => {
      const key = await server.event('live', '2026-12-05T20:00:00');
      const bytes = readFileSync(ogg);
      const parts = [0, 1, 2, 3, 4].map((i) => bytes.subarray(Math.floor((i * bytes.length) / 5), Math.floor(((i + 1) * bytes.length) / 5)));
      const { response, body } = await putSlowly(server.url, `/recordings/${key.event}/${key.start}`, bytes.length, parts, 250);
      assert.equal(response.statusCode, 201, body);
      assert.deepEqual(Buffer.from(await (await fetch(`${server.url}/recordings/${key.event}/${key.start}`)).arrayBuffer()), bytes);
    });
  });
}

describe('Recordings archive start-up', () => {
  test('removes temporary files and files no row refers to, keeps the archive', async () => {
    const database = testDatabases[0];
    const dataDir = tempDir('onair-recordings-restart-');
    const databaseUrl = await database.create();
    const first = await startArchive(database, { dataDir, databaseUrl });
    const key = await first.event('live', '2026-12-04T20:00:00');
    await upload(first.url, `/recordings/${key.event}/${key.start}`, ogg);
    await first.stop();
    const kept = archiveFiles(dataDir);
    const node = first.onair.tasks.engine.id;
    const archive = join(dataDir, 'archive');
    writeFileSync(join(archive, 'tmp', node, 'cut.part'), 'half');
    writeFileSync(join(archive, 'recordings', node, 'orphan.ogg'), 'orphan');
    // The layout of one node alone, from before.
    writeFileSync(join(archive, 'tmp', 'cut.part'), 'half');
    writeFileSync(join(archive, 'recordings', 'orphan.ogg'), 'orphan');
    // Another node sharing the archive: its upload under way and its file about to be recorded are its own.
    const others = ['tmp/studio-b/upload.part', 'recordings/studio-b/just-installed.ogg'];
    for (const file of others) {
      mkdirSync(join(archive, dirname(file)), { recursive: true });
      writeFileSync(join(archive, file), 'theirs');
    }
    const second = await startArchive(database, { dataDir, databaseUrl });
    try {
      assert.deepEqual(second.files(), [...kept, ...others].sort());
      assert.equal(kept.length, 1);
      assert.match(kept[0]!, new RegExp(`^recordings/${node}/[0-9a-f-]{36}\\.ogg$`));
    } finally {
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('removes staged files untouched for more than a day, keeps younger ones (recordings under way)', async () => {
    const database = testDatabases[0];
    const dataDir = tempDir('onair-recordings-staging-');
    const databaseUrl = await database.create();
    const now = Date.parse('2030-06-01T12:00:00Z');
    const hour = 60 * 60 * 1000;
    const first = await startArchive(database, { dataDir, databaseUrl });
    const staging = first.recordings.archive.stagingDir;
    await first.stop();
    for (const [name, age] of [['stale.ogg', 25], ['recording.ogg', 23], ['fresh.ts', 0]] as const) {
      writeFileSync(join(staging, name), 'staged');
      utimesSync(join(staging, name), new Date(now - age * hour), new Date(now - age * hour));
    }
    const second = await startArchive(database, { dataDir, databaseUrl, clock: new ManualClock(now) });
    try {
      assert.deepEqual(readdirSync(staging).sort(), ['fresh.ts', 'recording.ogg']);
    } finally {
      await second.stop();
      await database.drop(databaseUrl);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
