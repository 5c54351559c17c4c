import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { postgresAvailable, postgresDatabase } from '../support/databases.ts';
import { requestJson, startOnair, waitFor, type Running } from '../support/onair.ts';
import { ffmpegChildren, pushTone } from '../gate/harness.ts';
import { ADMIN_TOKEN, serveLookups, type LookupServer } from './lookups.ts';
import { directoryNode, StandInSnapshot } from './stand-ins.ts';

const API = '/streammanager/api/2.0';
const ENV = { ONAIR_SRT_PORT_START: '28540', ONAIR_SRT_PORT_END: '28549', ONAIR_DIRECTORY_ADMIN_TOKEN: ADMIN_TOKEN };
const NODES = [
  directoryNode('studio-a', { address: '10.0.0.1', region: 'eu-central', geozone: 'europe' }),
  directoryNode('studio-b', { address: '10.0.0.2', region: 'us-east', geozone: 'america' }),
];

describe('stream manager lookups over two instances on PostgreSQL', { skip: !postgresAvailable && 'PostgreSQL is not reachable' }, () => {
  test('a stream published on one instance is looked up on the other at once, and a clear on one clears both', async () => {
    const url = (await postgresDatabase.create())!;
    const instances: Running[] = [];
    const lookups: LookupServer[] = [];
    let source: ReturnType<typeof pushTone> | undefined;
    try {
      for (const id of ['studio-a', 'studio-b']) instances.push(await startOnair({ database: postgresDatabase, databaseUrl: url, env: { ...ENV, ONAIR_NODE_ID: id } }));
      // Reports name no stream: what the lookups know comes from the gate's events, through the shared outbox. No shuffle.
      for (const [i, running] of instances.entries()) {
        lookups.push(await serveLookups({
          snapshot: new StandInSnapshot(['studio-a', 'studio-b'][i]!, NODES), gate: running.onair.gate.gate, bus: running.onair.bus,
          notifier: running.onair.database.notifier, config: running.config, random: () => 0.999,
        }));
      }
      const [a, b] = instances as [Running, Running];
      const askB = (path: string, method = 'GET') => requestJson(lookups[1]!.url, method, `${API}${path}`);
      const show = await a.request('POST', '/shows', { title: 'Two studios' });
      const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
      const event = await a.request('POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
      const reserved = await a.request('POST', '/reserve', { event: event.body.id });
      assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
      source = pushTone(reserved.body.url, { seconds: 60 });

      const subscribed = await waitFor(async () => {
        const answer = await askB('/event/live/main?action=subscribe');
        return answer.status === 200 && answer.body;
      }, 'studio-b to know the stream studio-a publishes', 15_000);
      assert.equal(subscribed.serverAddress, '10.0.0.1', 'the origin that carries it ranks ahead of an edge that would start a relay');
      assert.equal((await askB('/event/live/main?action=subscribe&region=us-east')).body.serverAddress, '10.0.0.2', 'an edge in the region asked');
      assert.equal((await askB('/event/live/main?action=broadcast&region=us-east')).body.serverAddress, '10.0.0.1', 'a source goes where the stream is on air');
      assert.equal((await askB('/event/live/main/stats')).body.serverAddress, '10.0.0.1');

      const cleared = await requestJson(lookups[0]!.url, 'DELETE', `${API}/admin/event?accessToken=${ADMIN_TOKEN}`);
      assert.deepEqual([cleared.status, cleared.body.count], [200, 1]);
      await waitFor(async () => (await askB('/event/list')).body.length === 0, 'studio-b to forget it too', 10_000);

      source.child.kill('SIGTERM');
      await source.exited;
      await waitFor(async () => (await a.request('GET', '/check')).body.state === 'idle', 'the session to end', 15_000);
      // Published again after the clear: known again on the other instance, then forgotten there when it ends.
      const again = await a.request('POST', '/reserve', { event: event.body.id });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      source = pushTone(again.body.url, { seconds: 2 });
      await waitFor(async () => (await askB('/event/list')).body.length === 1, 'studio-b to know the new session', 15_000);
      assert.equal(await source.exited, 0, source.stderr());
      await waitFor(async () => (await askB('/event/live/main?action=subscribe')).status === 404, 'studio-b to hear that it ended', 15_000);
      assert.equal(b.onair.bus.origin, 'studio-b');
    } finally {
      if (source?.child.exitCode === null) source.child.kill('SIGKILL');
      for (const server of lookups) await server.close();
      for (const running of instances.reverse()) await running.stop();
      await postgresDatabase.drop(url);
    }
    assert.deepEqual(ffmpegChildren(), []);
  });
});
