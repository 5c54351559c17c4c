import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { postgresAvailable, postgresDatabase } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import { ffmpegChildren, pushTone } from '../gate/harness.ts';
import { askWhenHeard } from './heard.ts';

const API = '/streammanager/api/2.0';
const ADMIN_TOKEN = 'directory-admin-token-for-tests';
// Reports far apart (each node reports once, at its start, naming no stream): what the lookups of one instance know of
// the other's stream within the deadlines below, they learned from the gate's events through the shared outbox.
const SLOW = { ONAIR_NODE_REPORT_INTERVAL: 'PT60S', ONAIR_NODE_FAULT_AFTER: 'PT120S', ONAIR_DIRECTORY_ADMIN_TOKEN: ADMIN_TOKEN };
const STUDIOS = [
  { ONAIR_NODE_ID: 'studio-a', ONAIR_NODE_ADDRESS: '10.0.0.1', ONAIR_REGION: 'eu-central', ONAIR_GEOZONE: 'europe', ONAIR_SRT_PORT_START: '28540', ONAIR_SRT_PORT_END: '28549' },
  { ONAIR_NODE_ID: 'studio-b', ONAIR_NODE_ADDRESS: '10.0.0.2', ONAIR_REGION: 'us-east', ONAIR_GEOZONE: 'america', ONAIR_SRT_PORT_START: '28550', ONAIR_SRT_PORT_END: '28559' },
];

describe('stream manager lookups over two onair instances on PostgreSQL', { skip: !postgresAvailable && 'PostgreSQL is not reachable' }, () => {
  test('a stream published on one instance is looked up on the other at once; a clear on one clears both; the other hears the end', async () => {
    const databaseUrl = (await postgresDatabase.create())!;
    const instances: Running[] = [];
    let source: ReturnType<typeof pushTone> | undefined;
    try {
      for (const env of STUDIOS) instances.push(await startOnair({ database: postgresDatabase, databaseUrl, env: { ...SLOW, ...env } }));
      const [a, b] = instances as [Running, Running];
      await waitFor(() => a.onair.directory.registry.node('studio-b')?.state === 'INSERVICE', 'studio-a to see studio-b in service', 5000);
      const askB = (path: string) => b.request('GET', `${API}${path}`);
      const show = await a.request('POST', '/shows', { title: 'Two studios' });
      const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
      const event = await a.request('POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
      const reserved = await a.request('POST', '/reserve', { event: event.body.id });
      assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
      const heardOnB = askWhenHeard(b.onair.bus, 'stream-publishing', () => askB('/event/live/main?action=subscribe'));
      source = pushTone(reserved.body.url, { seconds: 60 });

      const subscribed = await heardOnB;
      assert.equal(subscribed.status, 200, JSON.stringify(subscribed.body));
      // Two nodes are both among a tier's best, which are shuffled: the rank shows in the scores explain gives.
      const explained = (await askB(`/event/live/main?action=subscribe&explain=true&accessToken=${ADMIN_TOKEN}`)).body;
      const candidate = (node: string) => explained.candidates.find((c: { node: string }) => c.node === node);
      const [origin, edge] = [candidate('studio-a'), candidate('studio-b')];
      assert.deepEqual([origin.carrying, edge.carrying, edge.score], [true, false, edge.load]);
      assert.ok(origin.score < origin.load && origin.score < edge.score, 'the origin that carries it ranks ahead of an edge that would start a relay');
      assert.equal((await askB('/event/live/main?action=subscribe&region=us-east')).body.serverAddress, '10.0.0.2', 'an edge in the region asked');
      assert.equal((await askB('/event/live/main?action=broadcast&region=us-east')).body.serverAddress, '10.0.0.1', 'a source goes where the stream is on air');
      assert.equal((await askB('/event/live/main/stats')).body.serverAddress, '10.0.0.1');
      assert.deepEqual((await askB('/event/list')).body, [{ name: 'main', scope: '/live', serverAddress: '10.0.0.1', region: 'eu-central' }]);

      const cleared = await a.request('DELETE', `${API}/admin/event?accessToken=${ADMIN_TOKEN}`);
      assert.deepEqual([cleared.status, cleared.body.count], [200, 1]);
      assert.deepEqual((await a.request('GET', `${API}/event/list`)).body, []);
      await waitFor(async () => (await askB('/event/list')).body.length === 0, 'studio-b to forget it too', 5000);

      source.child.kill('SIGTERM');
      await source.exited;
      await waitFor(async () => (await a.request('GET', '/check')).body.state === 'idle', 'the session to end', 15_000);
      // Published again after the clear: known again on the other instance, then forgotten there the moment it ends.
      const again = await a.request('POST', '/reserve', { event: event.body.id });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      const republished = askWhenHeard(b.onair.bus, 'stream-publishing', () => askB('/event/list'));
      const ended = askWhenHeard(b.onair.bus, 'stream-ended', () => askB('/event/live/main?action=subscribe'));
      source = pushTone(again.body.url, { seconds: 2 });
      assert.equal((await republished).body.length, 1, 'studio-b knows the new session');
      assert.equal(await source.exited, 0, source.stderr());
      assert.equal((await ended).status, 404, 'studio-b forgets it the moment it hears the end');
      assert.equal(b.onair.directory.registry.node('studio-a')!.report.streams.length, 0, 'no report of studio-a named it meanwhile');
    } finally {
      if (source?.child.exitCode === null) source.child.kill('SIGKILL');
      for (const running of instances.reverse()) await running.stop();
      await postgresDatabase.drop(databaseUrl);
    }
    assert.deepEqual(ffmpegChildren(), []);
  });
});
