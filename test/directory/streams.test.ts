import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { localNotifier } from '../../src/core/db/notifier.ts';
import type { BusEvent } from '../../src/core/events/bus.ts';
import type { NodeStream } from '../../src/directory/contract.ts';
import { StreamsOnAir } from '../../src/directory/streams.ts';
import { directoryNode, StandInSnapshot } from './stand-ins.ts';

const T0 = Date.parse('2026-12-06T12:00:00Z');

function carried(name: string, carriedAs: NodeStream['carriedAs'], subscribers: number, startTime = T0): NodeStream {
  return { name, scope: '/live', carriedAs, publishers: carriedAs === 'origin' ? 1 : 0, subscribers, startTime, instance: null };
}

/** Two instances' tables over one snapshot and one notifier, with a bus the test speaks on. */
function setUp() {
  const clock = new ManualClock(T0);
  const snapshot = new StandInSnapshot('a');
  const handlers: Array<(event: BusEvent) => void> = [];
  const bus = { subscribe: (handler: (event: BusEvent) => void) => (handlers.push(handler), () => {}) };
  const notifier = localNotifier();
  const make = (self: string) => {
    const streams = new StreamsOnAir({ snapshot: snapshot.as(self), bus, notifier, clock, scope: 'live' });
    streams.start();
    return streams;
  };
  let id = 0;
  const tell = (type: string, origin: string, channel: string, session: string) => {
    for (const handler of handlers) handler({ id: ++id, type, origin, createdAt: new Date(clock.now()).toISOString(), data: { channel, session } });
  };
  const report = (id: string, reportedAt: number, streams: NodeStream[]) => directoryNode(id, { reportedAt, streams });
  return { clock, snapshot, make, tell, report };
}

describe('streams on air', () => {
  test('the nodes\' reports: the origin, every carrier and its listeners summed, the source\'s start time', () => {
    const { snapshot, make, report } = setUp();
    const streams = make('a');
    snapshot.set([report('a', 1, [carried('demo', 'origin', 2)]), report('b', 1, [carried('demo', 'edge', 5, T0 + 9000), carried('solo', 'edge', 1)])]);
    const demo = streams.get('/live', 'demo')!;
    assert.deepEqual({ origin: demo.origin, startTime: demo.startTime, current: demo.currentSubscribers, carriers: [...demo.carriers] },
      { origin: 'a', startTime: T0, current: 7, carriers: [['a', 2], ['b', 5]] });
    const placement = streams.placement('/live', 'demo')!;
    assert.deepEqual([placement.origin, placement.carriers.has('b'), placement.carriers.has('c')], ['a', true, false]);
    assert.equal(streams.get('/live', 'solo')!.origin, null, 'a relay alone names no origin');
    assert.equal(streams.get('/other', 'demo'), undefined);
    assert.deepEqual(streams.list().map((s) => s.name), ['demo', 'solo']);
  });

  test('a stream whose end was never heard (its origin killed) is forgotten: its origin down, or two of its reports without it', () => {
    const { snapshot, make, tell, report } = setUp();
    const streams = make('a');
    snapshot.set([report('a', 1, []), report('b', 1, [])]);
    tell('stream-publishing', 'b', 'demo', 's1');
    snapshot.set([report('a', 2, []), report('b', 2, [])]);
    assert.equal(streams.get('/live', 'demo')?.origin, 'b', 'one report may have been made before the source went on air');
    snapshot.set([report('a', 3, []), report('b', 3, [])]);
    assert.equal(streams.get('/live', 'demo'), undefined, 'the second report without it refutes it');
    tell('stream-publishing', 'b', 'other', 's2');
    assert.equal(streams.get('/live', 'other')?.origin, 'b');
    snapshot.set([report('a', 4, []), directoryNode('b', { reportedAt: 3, state: 'FAULT', streams: [carried('other', 'origin', 3)] })]);
    assert.equal(streams.get('/live', 'other'), undefined, 'a node in FAULT carries nothing any more');
    assert.deepEqual(streams.list(), []);
  });

  test('a stream is known when it publishes and forgotten when it ends, before any report says so', () => {
    const { clock, snapshot, make, tell, report } = setUp();
    const streams = make('a');
    snapshot.set([report('a', 1, []), report('b', 1, [])]);
    clock.advance(1000);
    tell('stream-publishing', 'b', 'demo', 's1');
    assert.deepEqual([streams.get('/live', 'demo')?.origin, streams.get('/live', 'demo')?.startTime], ['b', T0 + 1000]);
    clock.advance(5000);
    tell('stream-publishing', 'b', 'demo', 's1');
    assert.equal(streams.get('/live', 'demo')!.startTime, T0 + 1000, 'a reconnection of the same session keeps its start');
    snapshot.set([report('a', 2, []), report('b', 2, [carried('demo', 'origin', 4, T0 + 1000)])]);
    assert.equal(streams.get('/live', 'demo')!.currentSubscribers, 4);
    tell('stream-ended', 'b', 'demo', 's1');
    assert.equal(streams.get('/live', 'demo'), undefined, 'gone though b\'s last report shows it');
    snapshot.set([report('a', 3, []), report('b', 2, [carried('demo', 'origin', 4, T0 + 1000)])]);
    assert.equal(streams.get('/live', 'demo'), undefined, 'still gone when another node reports');
    snapshot.set([report('a', 3, []), report('b', 3, [])]);
    assert.deepEqual(streams.list(), []);
    tell('stream-publishing', 'a', 'demo', 's2');
    tell('stream-failed', 'a', 'demo', 's2');
    assert.deepEqual(streams.list(), []);
  });

  test('the peak of listeners over every node, and when this instance saw it', async () => {
    const { clock, snapshot, make, report } = setUp();
    const streams = make('a');
    // Each report on a turn of the event loop of its own, as NOTIFYs come: the table follows them after the turn.
    const at = async (reportedAt: number, a: number, b: number) => {
      clock.advance(1000);
      snapshot.set([report('a', reportedAt, [carried('demo', 'origin', a)]), report('b', reportedAt, [carried('demo', 'edge', b)])]);
      await new Promise(setImmediate);
    };
    await at(1, 1, 2);
    await at(2, 3, 4);
    const peakAt = clock.now();
    await at(3, 1, 0);
    assert.deepEqual(streams.get('/live', 'demo')!.currentSubscribers, 1);
    assert.deepEqual([streams.get('/live', 'demo')!.peakSubscribers, streams.get('/live', 'demo')!.peakAt], [7, peakAt]);
  });

  test('clear: every instance forgets every stream, until the nodes report them again; answers how many', async () => {
    const { snapshot, make, tell, report } = setUp();
    const [here, there] = [make('a'), make('b')];
    snapshot.set([report('a', 1, [carried('demo', 'origin', 2), carried('news', 'origin', 0)])]);
    tell('stream-publishing', 'a', 'talk', 's1');
    assert.equal(there.list().length, 3);
    assert.equal(await here.clear(), 3);
    assert.deepEqual([here.list(), there.list()], [[], []]);
    snapshot.set([report('a', 2, [carried('demo', 'origin', 2)])]);
    assert.deepEqual([here.list().map((s) => s.name), there.list().map((s) => s.name)], [['demo'], ['demo']]);
    assert.equal(await here.clear(), 1);
  });
});
