import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor } from '../support/onair.ts';
import { analyse, ffmpegChildren, freeUdpPort, listen, pushTone } from './harness.ts';

for (const database of testDatabases) {
  describe(`gate inside onair on ${database.name}`, () => {
    test('an event made through POST /shows and /events goes live, is heard over HTTP and lands in the archive', async () => {
      const server = await startOnair({ database, env: { ONAIR_SRT_PORT_START: String(await freeUdpPort()) } });
      try {
        const show = await server.request('POST', '/shows', { title: 'Gate test' });
        assert.equal(show.status, 201, JSON.stringify(show.body));
        const start = new Date(Date.now() - 5 * 60_000).toISOString().slice(0, 19);
        const event = await server.request('POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
        assert.equal(event.status, 201, JSON.stringify(event.body));
        const reserved = await server.request('POST', '/reserve', { event: event.body.id, record: true });
        assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
        const listener = listen(`${server.url}/listen`);
        const source = pushTone(reserved.body.url, { seconds: 3, frequency: 440 });
        assert.equal(await source.exited, 0, source.stderr());
        const heard = await analyse((await listener.done).bytes);
        assert.ok(Math.abs(heard.seconds - 3) < 0.3 && Math.abs(heard.frequency - 440) < 10, JSON.stringify(heard));
        const idle = () => waitFor(async () => (await server.request('GET', '/check')).body.state === 'idle', 'the session to end', 15_000);
        await idle();
        // The encoder drops and comes back, now sending MPEG-TS: a second session of the same instance, a second part.
        const again = await server.request('POST', '/reserve', { event: event.body.id, record: true, format: 'mpegts' });
        assert.equal(again.status, 201, JSON.stringify(again.body));
        const back = pushTone(again.body.url, { seconds: 2, format: 'mpegts' });
        assert.equal(await back.exited, 0, back.stderr());
        await idle();
        const listed = (await server.request('GET', `/recordings/${event.body.id}`)).body;
        assert.deepEqual(listed.recordings.map((r: { start: string; part: number; format: string }) => [r.start, r.part, r.format]),
          [[start, 1, 'ogg'], [start, 2, 'mpegts']], 'nothing recorded is lost');
        const [first, second] = listed.recordings;
        assert.ok(Math.abs(first.duration - 3) <= 0.5, `part 1: ${first.duration} s`);
        // All of it: the relay keeps what it read while probing (MPEG-TS: up to a second).
        assert.ok(Math.abs(second.duration - 2) <= 0.3, `part 2: ${second.duration} s`);
        const download = async (query: string) => {
          const answer = await fetch(`${server.url}/recordings/${event.body.id}/${start}${query}`);
          return { type: answer.headers.get('content-type'), heard: await analyse(Buffer.from(await answer.arrayBuffer())) };
        };
        const one = await download('');
        assert.equal(one.type, 'audio/ogg');
        assert.ok(Math.abs(one.heard.frequency - 440) < 10, 'part 1 by default');
        assert.equal((await download('?part=2')).type, 'video/mp2t');
        assert.deepEqual((await server.onair.recordings.archive.find('recordings', event.body.id, start)).map((f) => f.part), [1, 2]);
        const prerecorded = await server.request('POST', '/events', { showId: show.body.id, type: 'prerecorded', start, duration: 600, timezone: 'UTC' });
        const refused = await server.request('POST', '/reserve', { instance: { event: prerecorded.body.id, start }, record: true });
        assert.equal(refused.status, 400);
      } finally {
        await server.stop();
      }
      assert.deepEqual(ffmpegChildren(), []);
    });

    test('bad ids, starts and metadata reach neither the programme nor ffmpeg: always a clear 400', async () => {
      const server = await startOnair({ database, env: { ONAIR_SRT_PORT_START: String(await freeUdpPort()) } });
      try {
        const text = fc.string({ unit: 'binary', maxLength: 40 });
        const body = fc.record({
          event: fc.oneof(fc.uuid(), text),
          instance: fc.record({ event: fc.oneof(fc.uuid(), text), start: fc.oneof(fc.constant('2026-13-45T99:99'), text) }),
          metadata: fc.dictionary(fc.constantFrom('title', 'artist'), text),
        }, { requiredKeys: [] });
        await fc.assert(fc.asyncProperty(body, async (value) => {
          const answer = await server.request('POST', '/reserve', value);
          assert.equal(answer.status, 400, `${JSON.stringify(value)}: ${answer.status} ${JSON.stringify(answer.body)}`);
          assert.equal(typeof answer.body.detail, 'string');
        }), { numRuns: 200 });
        assert.equal((await server.request('GET', '/check')).body.state, 'idle');
      } finally {
        await server.stop();
      }
    });
  });
}
