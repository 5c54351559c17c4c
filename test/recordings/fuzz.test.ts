import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { testDatabases } from '../support/databases.ts';
import { tempDir } from '../support/onair.ts';
import { media, startArchive, upload, type ArchiveServer } from './support.ts';

const kind = fc.constantFrom('recordings', 'prerecordings');
const segment = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('2026-12-04T20:00:00', '2026-12-04T20:00', '2026-02-30T20:00:00', '9999-99-99T99:99:99', '..', '%', ''),
);
const bytes = fc.uint8Array({ maxLength: 4096 });
const header = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCZabcz=bytes'.split('')), maxLength: 40 });
const contentType = fc.oneof(fc.constantFrom('audio/ogg', 'video/mp4', 'application/octet-stream', 'application/json', 'text/plain', 'multipart/form-data; boundary=x'), header);

async function send(url: string, method: string, path: string, headers: Record<string, string>, body?: Uint8Array) {
  const response = await fetch(`${url}${path}`, { method, headers, body: body as RequestInit['body'] });
  const payload = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, payload };
}

const clientError = (status: number, what: string) => assert.ok(status >= 400 && status < 500, `${what}: ${status}`);
/** `.` and `..` (also written %2E) are no segment a URL can carry: clients resolve them (/recordings/../ is /). */
const isDotSegment = (text: string) => /^(\.|%2e){1,2}$/i.test(text);

for (const database of testDatabases) {
  describe(`Recordings archive under bad input on ${database.name}`, () => {
    let server: ArchiveServer;
    let ogg: Buffer;
    let key: { event: string; start: string };
    let filesBefore: string[];

    before(async () => {
      server = await startArchive(database);
      const dir = tempDir('onair-recordings-fuzz-');
      const file = await media(dir, 'tone.ogg', '-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'libopus');
      ogg = readFileSync(file);
      key = await server.event('live', '2026-12-04T20:00:00');
      assert.equal((await upload(server.url, `/recordings/${key.event}/${key.start}`, file)).status, 201);
      rmSync(dir, { recursive: true, force: true });
      filesBefore = server.files();
    });
    after(() => server.stop());

    test('PUT with any key, type and bytes: only 4xx', async () => {
      await fc.assert(fc.asyncProperty(kind, segment, segment, contentType, bytes, async (k, event, start, type, body) => {
        fc.pre(!isDotSegment(event) && !isDotSegment(start));
        const path = `/${k}/${encodeURIComponent(event)}/${encodeURIComponent(start)}`;
        clientError((await send(server.url, 'PUT', path, { 'content-type': type }, body)).status, path);
      }), { numRuns: 300 });
    });

    test('PUT of bytes that are not media to an existing instance: 400, nothing stored', async () => {
      await fc.assert(fc.asyncProperty(contentType, bytes, async (type, body) => {
        const answer = await send(server.url, 'PUT', `/recordings/${key.event}/${key.start}`, { 'content-type': type }, body);
        assert.equal(answer.status, 400, answer.payload.toString());
      }), { numRuns: 40 });
      assert.deepEqual((await send(server.url, 'GET', `/recordings/${key.event}/${key.start}`, {})).payload, ogg);
    });

    test('GET, HEAD and DELETE with any key: only 4xx', async () => {
      await fc.assert(fc.asyncProperty(fc.constantFrom('GET', 'HEAD', 'DELETE'), kind, segment, segment, async (method, k, event, start) => {
        fc.pre(!(event === key.event && start === key.start));
        fc.pre(!isDotSegment(event) && !isDotSegment(start));
        const path = `/${k}/${encodeURIComponent(event)}/${encodeURIComponent(start)}`;
        clientError((await send(server.url, method, path, {})).status, `${method} ${path}`);
      }), { numRuns: 500 });
    });

    test('GET with any Range, If-Range and If-None-Match: 200, 206 with exactly those bytes, 304 or 416', async () => {
      const range = fc.oneof(header, fc.tuple(fc.nat(ogg.length * 2), fc.nat(ogg.length * 2)).map(([a, b]) => `bytes=${a}-${b}`),
        fc.nat(ogg.length * 2).map((n) => `bytes=-${n}`), fc.nat(ogg.length * 2).map((n) => `bytes=${n}-`));
      await fc.assert(fc.asyncProperty(range, fc.option(header), fc.option(header), async (r, ifRange, ifNoneMatch) => {
        const headers: Record<string, string> = { range: r };
        if (ifRange !== null) headers['if-range'] = ifRange;
        if (ifNoneMatch !== null) headers['if-none-match'] = ifNoneMatch;
        const answer = await send(server.url, 'GET', `/recordings/${key.event}/${key.start}`, headers);
        assert.ok([200, 206, 304, 416].includes(answer.status), `${JSON.stringify(headers)}: ${answer.status}`);
        if (answer.status === 200) assert.deepEqual(answer.payload, ogg);
        if (answer.status === 206) {
          const [, first, last] = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(answer.headers.get('content-range')!)!.map(Number);
          assert.deepEqual(answer.payload, ogg.subarray(first, last + 1));
        }
      }), { numRuns: 500 });
    });

    test('list with any query: 200 or 400', async () => {
      const name = fc.constantFrom('after', 'before', 'limit', 'offset', 'other');
      await fc.assert(fc.asyncProperty(kind, segment, fc.array(fc.tuple(name, fc.oneof(header, fc.integer().map(String))), { maxLength: 4 }), async (k, event, pairs) => {
        const query = new URLSearchParams(pairs).toString();
        const answer = await send(server.url, 'GET', `/${k}/${encodeURIComponent(event)}?${query}`, {});
        assert.ok(answer.status === 200 || (answer.status >= 400 && answer.status < 500), `${event}?${query}: ${answer.status}`);
      }), { numRuns: 500 });
    });

    test('afterwards: nothing half-written or replaced on disk, and the server still serves', async () => {
      assert.deepEqual(server.files(), filesBefore);
      assert.equal((await server.request('GET', '/ping')).status, 204);
    });
  });
}
