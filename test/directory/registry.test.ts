import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { NotFound } from '../../src/core/errors.ts';
import type { NodeChanged } from '../../src/directory/contract.ts';
import { EMPTY_REPORT, NodeStore } from '../../src/directory/store.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, tempDir, waitFor, type Running } from '../support/onair.ts';

/**
 * The node registry on one instance, its time moved by hand: registration, reports, FAULT after the timeout and back,
 * drain and resume as compare-and-set, STOPPED at a graceful stop, and node-changed for every state change.
 */

const ENV = {
  ONAIR_NODE_ID: 'node-a', ONAIR_REGION: 'eu-central', ONAIR_GEOZONE: 'europe', ONAIR_NODE_ADDRESS: 'a.example.org', ONAIR_NODE_CAPACITY: '500',
  ONAIR_NODE_REPORT_INTERVAL: 'PT2S', ONAIR_NODE_FAULT_AFTER: 'PT10S', ONAIR_SRT_PORT_START: '28000', ONAIR_SRT_PORT_END: '28099',
};
const START = Date.parse('2027-05-01T10:00:00Z');

/** An onair whose node-changed events are kept from its first one on. */
async function start(database: (typeof testDatabases)[number]) {
  const clock = new ManualClock(START);
  const changes: NodeChanged[] = [];
  const server = await startOnair({
    database, clock, env: ENV,
    prepare: (onair) => onair.bus.subscribe((event) => event.type === 'node-changed' && changes.push(event.data as NodeChanged)),
  });
  return { server, clock, changes, registry: server.onair.directory.registry, store: new NodeStore(server.onair.database) };
}

const transitions = (changes: NodeChanged[], node: string) => changes.filter((c) => c.node === node).map((c) => `${c.previous}>${c.state}`);

/** Moves time one report interval on and waits for the report it brings (firing the alarm of a tick that ended meanwhile). */
async function nextReport(server: Running, clock: ManualClock): Promise<void> {
  const before = server.onair.directory.registry.node('node-a')!.reportedAt;
  clock.advance(2000);
  await waitFor(() => {
    clock.set(clock.now());
    return server.onair.directory.registry.node('node-a')!.reportedAt > before;
  }, 'the next report');
}

for (const database of testDatabases) {
  describe(`the node registry on ${database.name}`, () => {
    test('a node registers STARTED, is INSERVICE after its first report, reports every interval and is STOPPED once stopped', async () => {
      const { server, clock, changes, registry } = await start(database);
      try {
        const node = registry.node('node-a')!;
        assert.deepEqual({ ...node, report: undefined }, {
          id: 'node-a', address: 'a.example.org', url: server.url, region: 'eu-central', geozone: 'europe', roles: ['origin', 'edge'], capacity: 500,
          state: 'INSERVICE', drained: false, startedAt: START, reportedAt: START, stateChangedAt: START, report: undefined,
        });
        assert.deepEqual(node.report.streams, []);
        await waitFor(() => changes.length === 2, 'two node-changed');
        assert.deepEqual(changes, [
          { node: 'node-a', region: 'eu-central', previous: null, state: 'STARTED', at: START },
          { node: 'node-a', region: 'eu-central', previous: 'STARTED', state: 'INSERVICE', at: START },
        ]);
        await nextReport(server, clock);
        await nextReport(server, clock);
        assert.equal(registry.node('node-a')!.state, 'INSERVICE');
        assert.equal(changes.length, 2, 'a report that changes no state records nothing');
        await server.onair.directory.stop();
        assert.equal(registry.node('node-a')!.state, 'STOPPED');
        await waitFor(() => changes.length === 3, 'the node-changed of the stop');
        assert.deepEqual(changes[2], { node: 'node-a', region: 'eu-central', previous: 'INSERVICE', state: 'STOPPED', at: START + 4000 });
      } finally {
        await server.stop();
      }
    });

    test('a silent node counts as FAULT at once, is put in FAULT by the next sweep, and is back in service when it reports', async () => {
      const { server, clock, changes, registry, store } = await start(database);
      try {
        await store.register({ ...registry.node('node-a')!, id: 'node-b', region: 'us-east', reportedAt: START, report: EMPTY_REPORT }, async () => {});
        await nextReport(server, clock);
        assert.equal(registry.node('node-b')!.state, 'INSERVICE');
        clock.set(START + 10_001);
        assert.equal(registry.node('node-b')!.state, 'FAULT', 'overdue: FAULT in the snapshot before any sweep');
        assert.equal(registry.nodes().find((n) => n.id === 'node-b')!.state, 'FAULT');
        assert.equal(registry.node('node-a')!.state, 'INSERVICE', 'this node reported at the tick of its interval');
        await nextReport(server, clock);
        await waitFor(() => transitions(changes, 'node-b').includes('INSERVICE>FAULT'), 'node-b put in FAULT by the sweep');
        assert.equal((await store.all()).find((n) => n.id === 'node-b')!.state, 'FAULT');

        // Another instance's sweep found this node silent: its next report puts it back.
        await store.change('node-a', () => ({ state: 'FAULT' }), async () => {});
        await nextReport(server, clock);
        assert.equal(registry.node('node-a')!.state, 'INSERVICE');
        await server.onair.directory.registry.drain('node-a');
        await store.change('node-a', () => ({ state: 'FAULT' }), async () => {});
        await nextReport(server, clock);
        assert.equal(registry.node('node-a')!.state, 'SOFT_SUNSET', 'a drained node comes back drained');
        await waitFor(() => transitions(changes, 'node-a').at(-1) === 'FAULT>SOFT_SUNSET', 'the return recorded');
        assert.deepEqual(transitions(changes, 'node-a'), ['null>STARTED', 'STARTED>INSERVICE', 'FAULT>INSERVICE', 'INSERVICE>SOFT_SUNSET', 'FAULT>SOFT_SUNSET']);
      } finally {
        await server.stop();
      }
    });

    test('a drained node restarted is still drained: back in SOFT_SUNSET after its first report', async () => {
      const dataDir = tempDir();
      const databaseUrl = await database.create();
      const run = () => startOnair({ database, databaseUrl, dataDir, env: ENV });
      try {
        const first = await run();
        await first.onair.directory.registry.drain('node-a');
        await first.stop();
        const second = await run();
        try {
          const node = second.onair.directory.registry.node('node-a')!;
          assert.deepEqual([node.state, node.drained], ['SOFT_SUNSET', true]);
        } finally {
          await second.stop();
        }
      } finally {
        await database.drop(databaseUrl);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    test('drain and resume are compare-and-set on the state: a second one is a Conflict naming the state; remove needs FAULT, STOPPED or force', async () => {
      const { server, changes, registry, store } = await start(database);
      try {
        assert.equal((await registry.drain('node-a')).state, 'SOFT_SUNSET');
        assert.equal(registry.node('node-a')!.drained, true);
        await assert.rejects(registry.drain('node-a'), /node-a is SOFT_SUNSET/);
        assert.equal((await registry.resume('node-a')).state, 'INSERVICE');
        await assert.rejects(registry.resume('node-a'), /node-a is INSERVICE/);
        await assert.rejects(registry.drain('nope'), (error) => error instanceof NotFound);
        await assert.rejects(registry.remove('node-a', false), /node-a is INSERVICE/);
        await store.register({ ...registry.node('node-a')!, id: 'node-c', state: 'STOPPED' }, async () => {});
        await registry.remove('node-c', false);
        assert.equal(registry.node('node-c'), undefined);
        await registry.remove('node-a', true);
        assert.equal(registry.node('node-a'), undefined);
        await waitFor(() => transitions(changes, 'node-a').at(-1) === 'INSERVICE>null', 'the removal recorded');
        assert.deepEqual(transitions(changes, 'node-a'), ['null>STARTED', 'STARTED>INSERVICE', 'INSERVICE>SOFT_SUNSET', 'SOFT_SUNSET>INSERVICE', 'INSERVICE>null']);
      } finally {
        await server.stop();
      }
    });
  });
}
