import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { requestJson, startOnair, waitFor, type Running } from '../support/onair.ts';
import { ffmpegChildren, listen, pushTone } from '../gate/harness.ts';
import { askWhenHeard, betweenReports } from './heard.ts';

const API = '/streammanager/api/2.0';
const ADMIN_TOKEN = 'directory-admin-token-for-tests';
const API_KEY = 'onair-api-key-for-the-lookup-tests';
const HERE = { name: 'main', scope: '/live', serverAddress: '127.0.0.1', region: 'eu-central' };

/** One real onair on `database`: its own stream manager routes over its registry, which reports every 0.2 s. */
function startNode(database: (typeof testDatabases)[number], portStart: number, env: Record<string, string> = { ONAIR_DIRECTORY_ADMIN_TOKEN: ADMIN_TOKEN }): Promise<Running> {
  return startOnair({
    database,
    env: { ONAIR_SRT_PORT_START: String(portStart), ONAIR_SRT_PORT_END: String(portStart + 9), ONAIR_REGION: 'eu-central', ONAIR_NODE_REPORT_INTERVAL: 'PT0.2S', ...env },
  });
}

for (const [index, database] of testDatabases.entries()) {
  describe(`stream manager lookups on a real onair on ${database.name}`, () => {
    test('broadcast, subscribe, stats and lists follow a real source; clear forgets until the next report', async () => {
      const portStart = 28500 + index * 10;
      const onair = await startNode(database, portStart);
      const ask = (path: string, method = 'GET') => onair.request(method, `${API}${path}`);
      const self = onair.onair.bus.origin;
      let source: ReturnType<typeof pushTone> | undefined;
      try {
        const notPublishing = await ask('/event/live/main?action=subscribe');
        assert.equal(notPublishing.status, 404);
        assert.deepEqual(Object.keys(notPublishing.body), ['errorMessage', 'timestamp']);
        assert.equal(notPublishing.body.errorMessage, 'Stream /live/main is not publishing');
        assert.deepEqual((await ask('/event/live/main?action=broadcast')).body, { ...HERE, port: portStart, url: `srt://127.0.0.1:${portStart}?pbkeylen=32&linger=3` });
        assert.deepEqual((await ask('/event/list')).body, []);

        const show = await onair.request('POST', '/shows', { title: 'Lookups' });
        const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
        const event = await onair.request('POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
        const reserved = await onair.request('POST', '/reserve', { event: event.body.id });
        assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
        const published = askWhenHeard(onair.onair.bus, 'stream-publishing', () => ask('/event/live/main?action=subscribe'));
        source = pushTone(reserved.body.url, { seconds: 60 });
        const subscribed = await published;
        assert.deepEqual([subscribed.status, subscribed.body], [200, HERE], 'known from the gate\'s event, before any report names it');
        assert.deepEqual((await ask('/event/live/main?action=subscribe&endpoints=3&region=us-east')).body, [HERE], 'the only node, from another region');
        assert.equal((await ask('/event/live/main?action=subscribe&region=us-east&strict=true')).status, 404);

        const listener = listen(`${onair.url}/listen`);
        await listener.firstByte;
        const stats = await waitFor(async () => {
          const answer = (await ask('/event/live/main/stats')).body;
          return answer.currentSubscribers === 1 && answer;
        }, 'the registry\'s report to count the listener', 5000);
        assert.equal(stats.peakSubscribers, 1);
        assert.ok(Math.abs(stats.startTime - Date.now()) < 30_000, `startTime ${stats.startTime}`);
        assert.deepEqual((await ask('/event/list')).body, [HERE]);
        assert.deepEqual((await ask('/event/list/stats')).body, [stats]);
        listener.close();

        assert.equal((await ask('/admin/event?accessToken=wrong-token', 'DELETE')).status, 401);
        const [cleared, list] = await betweenReports(onair, self, async () => [await ask(`/admin/event?accessToken=${ADMIN_TOKEN}`, 'DELETE'), await ask('/event/list')]);
        assert.deepEqual([cleared.status, cleared.body.count], [200, 1]);
        assert.deepEqual(list.body, [], 'forgotten, though still on air');
        await waitFor(async () => (await ask('/event/list')).body.length === 1, 'the next report to bring it back', 5000);
        assert.deepEqual((await ask('/event/list')).body, [HERE]);

        const ended = askWhenHeard(onair.onair.bus, 'stream-ended', async () => ({ ...await ask('/event/live/main?action=subscribe'), list: await ask('/event/list') }));
        source.child.kill('SIGTERM');
        const afterEnd = await ended;
        assert.equal(afterEnd.status, 404, 'forgotten the moment its end is heard');
        assert.deepEqual(afterEnd.list.body, []);
        await source.exited;
      } finally {
        if (source?.child.exitCode === null) source.child.kill('SIGKILL');
        await onair.stop();
      }
      assert.deepEqual(ffmpegChildren(), []);
    });

    test('errors: {errorMessage, timestamp} naming the field; explain needs the token; bad input is always a clear 4xx', async () => {
      const onair = await startNode(database, 28520 + index * 10);
      const ask = (path: string) => onair.request('GET', `${API}${path}`);
      try {
        const refusals: Array<[string, number, RegExp]> = [
          ['/event/live/main?action=play', 400, /querystring\.action must be broadcast or subscribe/],
          ['/event/live/main', 400, /action/],
          ['/event/live/main?action=broadcast&region=eu&geozone=europe', 400, /querystring\.geozone cannot be asked together with region/],
          ['/event/live/main?action=subscribe&transcode=true', 400, /transcode is not supported/],
          ['/event/live/main?action=broadcast&endpoints=11', 400, /endpoints/],
          ['/event/live/Bad%20Name?action=broadcast', 400, /params\.stream/],
          ['/event/other/main?action=broadcast', 404, /Scope \/other has no streams/],
          ['/event/live/nothere?action=broadcast', 404, /nothere/],
          ['/event/live/main?action=broadcast&explain=true', 401, /accessToken is required/],
          ['/event/live/main/stats', 404, /not on air/],
        ];
        for (const [path, status, message] of refusals) {
          const answer = await ask(path);
          assert.equal(answer.status, status, `${path}: ${JSON.stringify(answer.body)}`);
          assert.match(answer.body.errorMessage, message, path);
          assert.equal(typeof answer.body.timestamp, 'number');
        }
        const explained = (await ask(`/event/live/main?action=subscribe&explain=true&accessToken=${ADMIN_TOKEN}`)).body;
        assert.deepEqual([explained.status, explained.errorMessage], [404, 'Stream /live/main is not publishing']);
        const broadcast = (await ask(`/event/live/main?action=broadcast&region=us-east&explain=true&accessToken=${ADMIN_TOKEN}`)).body;
        assert.equal(broadcast.status, 200);
        assert.deepEqual(broadcast.candidates.map((c: { node: string; tier: string }) => [c.node, c.tier]), [[onair.onair.bus.origin, 'other']]);

        const text = fc.string({ unit: 'binary', maxLength: 30 });
        // Each parameter most often well formed, so that the checks after validation are reached too.
        const value = (...good: string[]) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: text });
        const query = fc.record({
          action: value('broadcast', 'subscribe'), region: value('eu-central', 'us-east'), geozone: value('europe', 'eu'),
          strict: value('true', 'false'), endpoints: value('1', '3', '10', '0', '11'), transcode: value('false', 'true'),
          explain: value('false', 'true'), accessToken: value(ADMIN_TOKEN, 'wrong')
        }, { requiredKeys: [] });
        const unknown = fc.dictionary(text, text, { maxKeys: 1 });
        await fc.assert(fc.asyncProperty(fc.oneof(text, fc.constant('main')), query, unknown, async (stream, known, other) => {
          const pairs = { ...other, ...known } as Record<string, string>;
          const answer = await ask(`/event/live/${encodeURIComponent(stream.toWellFormed())}?${new URLSearchParams(pairs)}`);
          assert.ok(answer.status < 500, `${stream} ${JSON.stringify(pairs)}: ${answer.status} ${JSON.stringify(answer.body)}`);
          if (answer.status >= 400) assert.ok(typeof answer.body.errorMessage === 'string' || typeof answer.body.detail === 'string', JSON.stringify(answer.body));
        }), { numRuns: 200 });
      } finally {
        await onair.stop();
      }
    });

    test('with ONAIR_API_KEY and no admin token, ?accessToken=<the API key> alone opens the admin routes and explain', async () => {
      const onair = await startNode(database, 28560 + index * 10, { ONAIR_API_KEY: API_KEY });
      const ask = (path: string, method = 'GET', headers: Record<string, string> = {}) => requestJson(onair.url, method, `${API}${path}`, undefined, headers);
      try {
        assert.equal((await ask('/event/live/main?action=broadcast')).status, 200, 'lookups stay public with a key set');
        assert.equal((await ask('/admin/event', 'DELETE')).status, 401);
        assert.equal((await ask('/admin/event?accessToken=wrong-token', 'DELETE')).status, 401);
        assert.equal((await ask('/admin/event', 'DELETE', { 'x-api-key': API_KEY })).status, 401, 'the stream manager\'s token is its query parameter');
        const cleared = await ask(`/admin/event?accessToken=${API_KEY}`, 'DELETE');
        assert.deepEqual([cleared.status, cleared.body.count], [200, 0]);
        assert.equal((await ask('/event/live/main?action=broadcast&explain=true&accessToken=wrong-token')).status, 401);
        const explained = await ask(`/event/live/main?action=broadcast&explain=true&accessToken=${API_KEY}`);
        assert.deepEqual([explained.status, explained.body.status, explained.body.candidates.length], [200, 200, 1]);
      } finally {
        await onair.stop();
      }
    });
  });
}
