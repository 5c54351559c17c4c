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
        await waitFor(async () => (await server.request('GET', '/check')).body.state === 'idle', 'the session to end', 15_000);
        const recording = await server.onair.recordings.archive.find('recordings', event.body.id, start);
        assert.ok(recording, 'the recording is in the archive');
        assert.ok(Math.abs(recording.duration - 3) <= 0.5, `recorded ${recording.duration} s`);
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
