import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { Audience } from '../../src/directory/audience.ts';
import type { NodeStream } from '../../src/directory/contract.ts';
import { streamsOf } from '../../src/directory/streams-of.ts';
import type { InstanceRef } from '../../src/gate/contract.ts';
import { testDatabases, type TestDatabase } from '../support/databases.ts';
import { startOnair, tempDir, waitFor, type Running } from '../support/onair.ts';
import { ffmpegChildren, listen, pushTone } from '../gate/harness.ts';

const PORTS = { ONAIR_SRT_PORT_START: '29500', ONAIR_SRT_PORT_END: '29999' };
const T0 = Date.UTC(2026, 11, 4, 20, 0);
const MINUTE = 60_000;
const X: InstanceRef = { event: '3f2c8a4e-9b1d-4c6e-8f0a-2d5b7e9c1a34', start: '2026-12-04T20:00:00' };
const Y: InstanceRef = { event: '7d9e1b2c-4a5f-4e6d-9c8b-1a2b3c4d5e6f', start: '2026-12-04T21:00:00' };
const EU = { id: 'node-eu', region: 'eu-central' };
const US = { id: 'node-us', region: 'us-east' };
// Two reports a minute: each listener of a report counts half a minute.
const INTERVAL = 30_000;

const stream = (name: string, instance: InstanceRef | null, subscribers: number): NodeStream => ({
  name, scope: '/live', carriedAs: 'origin', publishers: 1, subscribers, startTime: T0, instance,
});

/** onair, and its directory's audience. */
async function startWithAudience(options: Parameters<typeof startOnair>[0]): Promise<{ server: Running; audience: Audience }> {
  const server = await startOnair({ ...options, env: { ...PORTS, ...options.env } });
  return { server, audience: server.onair.directory.audience };
}

/** X heard on two nodes in two regions over minutes 0, 1 and 3; Y on one node over minute 1, on two channels at once. */
async function airX(audience: Audience): Promise<void> {
  await audience.record(EU, [stream('a', X, 3)], INTERVAL, T0 + 10_000);
  await audience.record(EU, [stream('a', X, 5), stream('idle', null, 7), stream('empty', Y, 0)], INTERVAL, T0 + 40_000);
  await audience.record(US, [stream('a', X, 4)], INTERVAL, T0 + 30_000);
  await audience.record(EU, [stream('a', X, 2), stream('b', Y, 1), stream('c', Y, 1)], INTERVAL, T0 + 70_000);
  await audience.record(US, [stream('a', X, 10)], INTERVAL, T0 + 80_000);
  await audience.record(EU, [stream('a', X, 1)], INTERVAL, T0 + 3 * MINUTE + 5_000);
}

const X_WHOLE = {
  event: X.event, start: X.start, peakListeners: 12, peakAt: T0 + MINUTE, averageListeners: 4.2, listenerMinutes: 12.5,
  regions: { 'eu-central': 5.5, 'us-east': 7 }, firstHeardAt: T0, lastHeardAt: T0 + 3 * MINUTE,
};
const Y_WHOLE = {
  event: Y.event, start: Y.start, peakListeners: 2, peakAt: T0 + MINUTE, averageListeners: 1, listenerMinutes: 1,
  regions: { 'eu-central': 1 }, firstHeardAt: T0 + MINUTE, lastHeardAt: T0 + MINUTE,
};

for (const database of testDatabases) {
  describe(`audience on ${database.name}`, () => {
    test('the peak adds up the nodes of a minute; listener-minutes, average and regions count every report', async () => {
      const { server, audience } = await startWithAudience({ database });
      try {
        await airX(audience);
        assert.deepEqual(await audience.between({}), [X_WHOLE, Y_WHOLE]);
        assert.deepEqual(await audience.between({ event: Y.event }), [Y_WHOLE]);
        // Minute 0 alone: 5 on one node and 4 on the other at once.
        assert.deepEqual(await audience.between({ end: T0 + MINUTE }), [{
          ...X_WHOLE, peakListeners: 9, peakAt: T0, averageListeners: 6, listenerMinutes: 6, regions: { 'eu-central': 4, 'us-east': 2 }, lastHeardAt: T0,
        }]);
        // A bound within a minute takes that minute.
        const later = await audience.between({ start: T0 + MINUTE + 1_000 });
        assert.deepEqual(later.map((a) => [a.event, a.listenerMinutes, a.firstHeardAt, a.averageListeners]), [[X.event, 6.5, T0 + MINUTE, 3.3], [Y.event, 1, T0 + MINUTE, 1]]);
        assert.deepEqual(await audience.between({ start: T0 + 4 * MINUTE }), []);
      } finally {
        await server.stop();
      }
    });

    test('GET /directory/audience answers the numbers, and a 400 naming the field for bad input', async () => {
      const key = 'operator-key-0123456789';
      const clock = new ManualClock(T0 + 10 * MINUTE);
      const { server, audience } = await startWithAudience({ database, clock, env: { ONAIR_API_KEY: key } });
      try {
        await airX(audience);
        const get = (query: string) => server.request('GET', `/directory/audience${query}`, undefined, { 'x-api-key': key });
        assert.deepEqual((await get('')).body, { audiences: [X_WHOLE, Y_WHOLE] }, 'the day before now');
        clock.set(T0 + 25 * 60 * MINUTE);
        assert.deepEqual((await get('')).body, { audiences: [] }, 'more than a day ago');
        assert.deepEqual((await get('?start=2026-12-04T20:01:00Z')).body.audiences.map((a: { listenerMinutes: number }) => a.listenerMinutes), [6.5, 1], 'a day from start');
        assert.deepEqual((await get('?end=2026-12-04T20:01:00')).body.audiences.map((a: { peakListeners: number }) => a.peakListeners), [9], 'a naive end is UTC');
        assert.deepEqual((await get(`?event=${X.event}`)).body, { audiences: [X_WHOLE] }, 'every instance of an event');
        assert.equal((await get(`?event=${X.event}&start=2026-01-01T00:00:00Z`)).status, 200, 'an event over any window');
        const ofY = await get(`?event=${Y.event}&start=2026-12-04T21:00:00%2B01:00&end=2026-12-04T20:02:00Z`);
        assert.equal(ofY.status, 200, JSON.stringify(ofY.body));
        assert.deepEqual(ofY.body, { audiences: [Y_WHOLE] });
        assert.equal((await server.request('GET', '/directory/audience')).status, 401, 'operators only');
        const documented = (await server.request('GET', '/openapi.json')).body.paths['/directory/audience'].get;
        assert.deepEqual(documented.parameters.map((p: { name: string }) => p.name), ['event', 'start', 'end']);
        const bad: Array<[string, string]> = [
          ['?event=x', 'querystring.event'], ['?start=yesterday', 'querystring.start'], ['?end=2026-02-30T00:00:00Z', 'querystring.end'],
          ['?start=2026-12-04T20:00:00Z&end=2026-12-04T20:00:00Z', 'querystring.end'], ['?region=eu', 'querystring.region'],
          [`?start=${'9'.repeat(41)}`, 'querystring.start'], ['?start=2026-11-27T20:00:00Z&end=2026-12-04T20:00:01Z', 'querystring.end'],
        ];
        for (const [query, field] of bad) {
          const answer = await get(query);
          assert.equal(answer.status, 400, `${query}: ${JSON.stringify(answer.body)}`);
          assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), [field], query);
        }
        const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 45 }), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()));
        await fc.assert(fc.asyncProperty(fc.record({ event: fc.oneof(fc.uuid(), text), start: text, end: text }, { requiredKeys: [] }), async (query) => {
          const answer = await get(`?${new URLSearchParams(query)}`);
          assert.ok(answer.status === 200 || (answer.status === 400 && typeof answer.body.detail === 'string'), `${JSON.stringify(query)}: ${answer.status} ${JSON.stringify(answer.body)}`);
        }), { numRuns: 200 });
      } finally {
        await server.stop();
      }
    });

    test('the numbers survive a restart on the same database and data dir', async () => {
      const databaseUrl = await database.create();
      const dataDir = tempDir();
      try {
        const first = await startWithAudience({ database, databaseUrl, dataDir });
        try {
          await airX(first.audience);
        } finally {
          await first.server.stop();
        }
        const again = await startWithAudience({ database, databaseUrl, dataDir });
        try {
          assert.deepEqual((await again.server.request('GET', '/directory/audience?start=2026-12-04T20:00:00Z')).body, { audiences: [X_WHOLE, Y_WHOLE] });
        } finally {
          await again.server.stop();
        }
      } finally {
        await database.drop(databaseUrl);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    test('a listener of a programme instance on air, reported from the gate\'s load, is counted', async () => {
      await listenedShow(database);
      assert.deepEqual(ffmpegChildren(), []);
    });
  });
}

/** A real source on the default channel, reserved for a live instance, and a real HTTP listener: the reports count it. */
async function listenedShow(database: TestDatabase): Promise<void> {
  const { server } = await startWithAudience({ database, env: { ONAIR_NODE_REPORT_INTERVAL: 'PT0.2S' } });
  try {
    const show = await server.request('POST', '/shows', { title: 'Audience test' });
    const start = new Date(Date.now() - 5 * MINUTE).toISOString().slice(0, 19);
    const event = await server.request('POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
    assert.equal(event.status, 201, JSON.stringify(event.body));
    const reserved = await server.request('POST', '/channels/main/reserve', { instance: { event: event.body.id, start } });
    assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
    const source = pushTone(reserved.body.url, { seconds: 4 });
    const gate = server.onair.gate.gate;
    await waitFor(() => gate.localLoad().channels.some((c) => c.publishing), 'the source on air');
    const listener = listen(`${server.url}/channels/main/listen`);
    await listener.firstByte;
    const streams = streamsOf(gate.localLoad(), server.config.directory.scope);
    assert.deepEqual(streams.map((s) => [s.name, s.scope, s.carriedAs, s.subscribers, s.instance]),
      [['main', '/live', 'origin', 1, { event: event.body.id, start }]]);
    // The node's own reports count the listener.
    const heard = await waitFor(async () => {
      const [one] = (await server.request('GET', `/directory/audience?event=${event.body.id}`)).body.audiences;
      return one?.listenerMinutes > 0 ? one : undefined;
    }, 'the listener counted by a report', 5000, 50);
    listener.close();
    assert.equal(await source.exited, 0, source.stderr());
    assert.deepEqual([heard.start, heard.peakListeners, heard.regions.local > 0], [start, 1, true]);
  } finally {
    await server.stop();
  }
}
