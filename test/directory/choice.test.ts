import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, test } from 'node:test';
import { choose, Pending, type Choice, type Lookup, type Placement } from '../../src/directory/choice.ts';
import { NODE_STATES, type DirectoryNode } from '../../src/directory/contract.ts';
import { directoryNode, spread } from './stand-ins.ts';

const STREAM = '/live/demo';
/** Shuffles nothing (Fisher-Yates swaps an item with itself). */
const first = () => 0.999;
const broadcast = (extra: Partial<Lookup> = {}): Lookup => ({ action: 'broadcast', stream: STREAM, ...extra });
const subscribe = (extra: Partial<Lookup> = {}): Lookup => ({ action: 'subscribe', stream: STREAM, ...extra });
const onAir = (origin: string, ...edges: string[]): Placement => ({ origin, carriers: new Set([origin, ...edges]) });
const chosen = (choice: Choice) => ('nodes' in choice ? choice.nodes.map((n) => n.id) : choice.refusal);
const status = (choice: Choice) => ('refusal' in choice ? choice.refusal.status : 200);
const ruleFor = (choice: Choice, node: string) => choice.explanation.leftOut.find((l) => l.node === node)?.rule;

describe('choice of a node', () => {
  test('broadcast: only origins in service; a stream on air goes to the origin holding it', () => {
    const nodes = [
      directoryNode('edge-only', { roles: ['edge'] }), directoryNode('draining', { state: 'SOFT_SUNSET' }), directoryNode('origin'),
      directoryNode('other-origin', { subscribers: 500 }),
    ];
    assert.deepEqual(chosen(choose(broadcast({ endpoints: 10 }), nodes, undefined, first)), ['origin', 'other-origin']);
    const held = choose(broadcast(), nodes, onAir('other-origin'), first);
    assert.deepEqual(chosen(held), ['other-origin']);
    assert.match(ruleFor(held, 'origin')!, /on air on other-origin/);
    assert.match(ruleFor(held, 'edge-only')!, /role/);
    assert.match(ruleFor(held, 'draining')!, /state: SOFT_SUNSET/);
  });

  test('subscribe: 404 when not publishing; edges or the origin holding it, never an origin without it', () => {
    const nodes = [directoryNode('origin', { roles: ['origin'] }), directoryNode('origin-2', { roles: ['origin'] }), directoryNode('edge', { roles: ['edge'] })];
    assert.deepEqual(chosen(choose(subscribe(), nodes, undefined, first)), { status: 404, message: `Stream ${STREAM} is not publishing` });
    assert.equal(status(choose(subscribe(), nodes, { origin: null, carriers: new Set(['edge']) }, first)), 404);
    const choice = choose(subscribe({ endpoints: 3 }), nodes, onAir('origin'), first);
    assert.deepEqual(new Set(chosen(choice) as string[]), new Set(['origin', 'edge']));
    assert.equal(ruleFor(choice, 'origin-2'), 'role: not carrying the stream and not an edge');
    const gone = [{ ...nodes[0]!, state: 'FAULT' as const }, ...nodes.slice(1)];
    assert.deepEqual(chosen(choose(subscribe(), gone, onAir('origin'), first)), { status: 404, message: `Stream ${STREAM} is not publishing: its origin origin is FAULT` });
    const draining = [{ ...nodes[0]!, state: 'SOFT_SUNSET' as const }, ...nodes.slice(1)];
    assert.deepEqual(chosen(choose(subscribe(), draining, onAir('origin'), first)), ['edge'], 'a draining origin still feeds the edges');
  });

  test('the region asked first, then its geozone, then the others; strict keeps to it or says 404 naming it', () => {
    const nodes = [
      directoryNode('far', { region: 'us-east', geozone: 'america' }), directoryNode('near', { region: 'eu-west', geozone: 'europe', subscribers: 900 }),
      directoryNode('here', { region: 'eu-central', geozone: 'europe', subscribers: 990 }),
    ];
    assert.deepEqual(chosen(choose(broadcast({ region: 'eu-central', endpoints: 3 }), nodes, undefined, first)), ['here', 'near', 'far']);
    assert.deepEqual(chosen(choose(broadcast({ region: 'ap-south', endpoints: 3 }), nodes, undefined, first)), ['far', 'near', 'here'], 'by load');
    assert.deepEqual(chosen(choose(broadcast({ geozone: 'europe', endpoints: 3 }), nodes, undefined, first)), ['near', 'here', 'far']);
    assert.deepEqual(chosen(choose(broadcast({ geozone: 'europe', strict: true, endpoints: 3 }), nodes, undefined, first)), ['near', 'here']);
    const strict = choose(broadcast({ region: 'ap-south', strict: true }), nodes, undefined, first);
    assert.deepEqual(chosen(strict), { status: 404, message: `No node in service in region ap-south can be an origin for ${STREAM}` });
    assert.equal(ruleFor(strict, 'far'), 'region strict: not in ap-south');
    const tiers = choose(broadcast({ region: 'eu-central', endpoints: 3, explain: true }), nodes, undefined, first).explanation.candidates.map((c) => [c.node, c.tier]);
    assert.deepEqual(tiers, [['here', 'region'], ['near', 'geozone'], ['far', 'other']]);
  });

  test('never a node at capacity; 503 when every one is', () => {
    const nodes = [directoryNode('full', { capacity: 10, subscribers: 10 }), directoryNode('almost', { capacity: 10, subscribers: 9 })];
    assert.deepEqual(chosen(choose(broadcast({ endpoints: 2 }), nodes, undefined, first)), ['almost']);
    const pending = (node: DirectoryNode) => (node.id === 'almost' ? 1 : 0);
    const refused = choose(broadcast(), nodes, undefined, first, pending);
    assert.equal(status(refused), 503);
    assert.equal(ruleFor(refused, 'almost'), 'capacity: 10 of 10 listeners');
    assert.equal(status(choose(broadcast(), [], undefined, first)), 503);
  });

  test('only nodes within 0.05 of the best load are shuffled: a busy node of a small tier is never picked first', () => {
    const nodes = [directoryNode('idle', { capacity: 25 }), directoryNode('busy', { capacity: 25, subscribers: 20 })];
    for (const random of [() => 0, () => 0.5, () => 0.999]) assert.deepEqual(chosen(choose(broadcast(), nodes, undefined, random)), ['idle']);
    const close = [directoryNode('a', { capacity: 100 }), directoryNode('b', { capacity: 100, subscribers: 4 })];
    assert.deepEqual(new Set([() => 0, () => 0.999].map((random) => (chosen(choose(broadcast(), close, undefined, random)) as string[])[0])), new Set(['a', 'b']));
  });

  test('capacity counts listeners: a node with its source on air and no listener takes one', () => {
    const nodes = [directoryNode('origin', { capacity: 1, publishers: 1, roles: ['origin'] })];
    assert.deepEqual(chosen(choose(subscribe(), nodes, onAir('origin'), first)), ['origin']);
    assert.equal(status(choose(subscribe(), [directoryNode('origin', { capacity: 1, subscribers: 1, publishers: 1 })], onAir('origin'), first)), 503);
  });

  test('a node carrying the stream ranks ahead of a relay to start when their loads are within 0.05', () => {
    const nodes = (carrierLoad: number) => [
      directoryNode('edge-a', { roles: ['edge'], subscribers: 400 }), directoryNode('edge-b', { roles: ['edge'], subscribers: 400 }),
      directoryNode('carrier', { roles: ['edge'], subscribers: carrierLoad }), directoryNode('origin', { roles: ['origin'], subscribers: 990 }),
    ];
    const order = (carrierLoad: number) => choose(subscribe({ endpoints: 4, explain: true }), nodes(carrierLoad), onAir('origin', 'carrier'), first)
      .explanation.candidates.map((c) => c.node);
    assert.equal(order(440)[0] === 'carrier' || order(440)[1] === 'carrier', true);
    assert.deepEqual(order(440).slice(0, 2).sort(), ['carrier', 'edge-a']);
    assert.deepEqual(order(460).slice(0, 2).sort(), ['edge-a', 'edge-b']);
  });

  test('the best of a tier are shuffled with the random source; pending lookups count until the next report', () => {
    const nodes = [directoryNode('a'), directoryNode('b'), directoryNode('c', { subscribers: 100 })];
    assert.deepEqual(chosen(choose(broadcast(), nodes, undefined, () => 0)), ['b']);
    assert.deepEqual(chosen(choose(broadcast(), nodes, undefined, () => 0.99)), ['a']);
    const pending = new Pending();
    const a = nodes[0]!;
    pending.answered(a);
    pending.answered(a);
    assert.equal(pending.of(a), 2);
    assert.equal(pending.of({ ...a, reportedAt: a.reportedAt + 2000 }), 0, 'a new report shows them');
  });

  test('property: any nodes and lookup give valid nodes or a 404/503, never out of state, role, capacity or a strict region', () => {
    const node = fc.record({
      state: fc.oneof({ weight: 4, arbitrary: fc.constant('INSERVICE' as const) }, fc.constantFrom(...NODE_STATES)), region: fc.constantFrom('eu', 'us', 'ap'), geozone: fc.constantFrom('z1', 'z2', null),
      roles: fc.constantFrom<Array<'origin' | 'edge'>>(['origin'], ['edge'], ['origin', 'edge']), capacity: fc.integer({ min: 1, max: 50 }),
      subscribers: fc.nat(40), publishers: fc.nat(3),
    });
    const lookup = fc.record({
      action: fc.constantFrom<Lookup['action']>('broadcast', 'subscribe'), region: fc.option(fc.constantFrom('eu', 'us', 'ap', 'xx'), { nil: undefined }),
      strict: fc.boolean(), endpoints: fc.integer({ min: 1, max: 10 }),
    });
    fc.assert(fc.property(fc.array(node, { maxLength: 20 }), lookup, fc.nat(20), fc.array(fc.nat(20)), fc.double({ min: 0, max: 0.999, noNaN: true }),
      (specs, asked, origin, edges, r) => {
        const nodes = specs.map((spec, i) => directoryNode(`n${i}`, spec));
        const placement = origin < nodes.length ? onAir(`n${origin}`, ...edges.filter((e) => e < nodes.length).map((e) => `n${e}`)) : undefined;
        const request: Lookup = { stream: STREAM, ...asked };
        const choice = choose(request, nodes, placement, () => r);
        if ('refusal' in choice) {
          assert.ok([404, 503].includes(choice.refusal.status));
          return;
        }
        assert.ok(choice.nodes.length >= 1 && choice.nodes.length <= asked.endpoints);
        const explained = choose({ ...request, explain: true }, nodes, placement, () => r);
        assert.deepEqual('nodes' in explained && explained.nodes, choice.nodes, 'ranking only the best gives what ranking all gives');
        assert.equal(new Set(choice.nodes).size, choice.nodes.length);
        for (const chosenNode of choice.nodes) {
          assert.equal(chosenNode.state, 'INSERVICE');
          assert.ok(chosenNode.report.subscribers < chosenNode.capacity, 'the capacity is in listeners');
          if (asked.action === 'broadcast') assert.ok(chosenNode.roles.includes('origin'));
          else assert.ok(chosenNode.roles.includes('edge') || placement!.carriers.has(chosenNode.id));
          if (asked.action === 'broadcast' && placement) assert.equal(chosenNode.id, placement.origin);
          if (asked.strict && asked.region !== undefined) assert.equal(chosenNode.region, asked.region);
        }
        if (asked.region !== undefined && nodes.some((n) => n.region === asked.region && choice.explanation.candidates.some((c) => c.node === n.id))) {
          assert.equal(choice.nodes[0]!.region, asked.region, 'a candidate in the region asked comes first');
        }
      }), { numRuns: 200 });
  });

  test('10,000 lookups over 5 equal nodes spread evenly: busiest/idlest <= 1.1', () => {
    const { busiest, idlest } = spread(10_000, 5, Math.random);
    assert.ok(busiest / idlest <= 1.1, `${busiest}/${idlest}`);
  });
});

