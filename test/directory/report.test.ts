import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import type { NodeStream } from '../../src/directory/contract.ts';
import { NodeRegistry } from '../../src/directory/registry.ts';
import { NodeStore } from '../../src/directory/store.ts';
import { streamsOf } from '../../src/directory/streams-of.ts';
import type { ChannelInfo, LocalLoad } from '../../src/gate/contract.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor } from '../support/onair.ts';

/** What a node reports: the gate's load of this node, as the stream manager names streams. */

const START = Date.parse('2027-05-01T10:00:00Z');
const instance = { event: '3f2c8a4e-9b1d-4c6e-8f0a-2d5b7e9c1a34', start: '2027-05-01T12:00:00' };
const LOAD: LocalLoad = {
  channels: [
    { channel: 'main', publishing: true, relaying: false, listeners: 7, since: START - 60_000, instance },
    { channel: 'second', publishing: false, relaying: true, listeners: 3, since: START - 5000, instance: null },
    // Listeners of the fallback between shows: no stream.
    { channel: 'third', publishing: false, relaying: false, listeners: 2, since: START, instance: null },
  ],
  bytesIn: 123_456, bytesOut: 654_321,
};

describe('the reports of a node', () => {
  test('streamsOf: a channel on air here is carried as origin, a relayed one as edge; listeners of neither are no stream', () => {
    assert.deepEqual(streamsOf(LOAD, 'radio'), [
      { name: 'main', scope: '/radio', carriedAs: 'origin', publishers: 1, subscribers: 7, startTime: START - 60_000, instance },
      { name: 'second', scope: '/radio', carriedAs: 'edge', publishers: 0, subscribers: 3, startTime: START - 5000, instance: null },
    ]);
  });

  for (const database of testDatabases) {
    test(`on ${database.name}: each report holds the gate's load and is handed to the report hook`, async () => {
      const clock = new ManualClock(START);
      const server = await startOnair({ database, clock, env: { ONAIR_SRT_PORT_START: '28000', ONAIR_SRT_PORT_END: '28099', ONAIR_DIRECTORY_SCOPE: 'radio' } });
      const heard: Array<[{ id: string; region: string }, NodeStream[], number, number]> = [];
      const { onair } = server;
      const registry = new NodeRegistry({
        store: new NodeStore(onair.database), bus: onair.bus, notifier: onair.database.notifier, clock, logger: onair.logger,
        node: { id: 'node-x', region: 'ap-south', roles: ['edge'], publicHost: 'x.example.org' }, settings: server.config.directory,
        gate: { localLoad: () => LOAD, channels: async () => [{ name: 'first', port: 28042 } as ChannelInfo] }, onReport: (...args) => void heard.push(args),
      });
      const reported: unknown[] = [];
      const unsubscribe = onair.bus.subscribe((event) => { if (event.type === 'node-reported' && (event.data as { node: string }).node === 'node-x') reported.push({ lossy: event.id === undefined, ...(event.data as object) }); });
      try {
        await registry.start('http://x.example.org:10800');
        assert.deepEqual(reported, [{ lossy: true, node: 'node-x', region: 'ap-south', publishers: 1, subscribers: 10, streams: 2, at: START }]);
        const node = registry.node('node-x')!;
        assert.deepEqual([node.state, node.url, node.roles], ['INSERVICE', 'http://x.example.org:10800', ['edge']]);
        const { cpuLoad, ...report } = node.report;
        assert.deepEqual(report, { streams: streamsOf(LOAD, 'radio'), publishers: 1, subscribers: 10, bytesIn: 123_456, bytesOut: 654_321, ports: { first: 28042 } });
        assert.ok(cpuLoad >= 0);
        assert.deepEqual(heard, [[{ id: 'node-x', region: 'ap-south' }, streamsOf(LOAD, 'radio'), 2000, START]]);
        await waitFor(() => onair.directory.registry.node('node-x')?.report.subscribers === 10, 'the onair instance to see node-x');
        await waitFor(() => {
          clock.set(START + 2000);
          return heard.length === 2;
        }, 'the next report');
        assert.equal(heard[1]![3], START + 2000);
      } finally {
        unsubscribe();
        await registry.stop();
        await server.stop();
      }
    });
  }
});
