import { choose, Pending } from '../../src/directory/choice.ts';
import type { DirectoryNode, NodeSnapshot, NodeStream } from '../../src/directory/contract.ts';

export interface NodeSpec extends Partial<Omit<DirectoryNode, 'report'>> {
  subscribers?: number;
  publishers?: number;
  streams?: NodeStream[];
  /** The SRT port of each channel it serves. */
  ports?: Record<string, number>;
}

/** A node in service of both roles in region `local`, capacity 1000, reported at 0, with what `spec` changes. */
export function directoryNode(id: string, spec: NodeSpec = {}): DirectoryNode {
  const { subscribers = 0, publishers = 0, streams = [], ports = {}, ...rest } = spec;
  return {
    id, address: `${id}.example`, url: `http://${id}.example:8080`, region: 'local', geozone: null, roles: ['origin', 'edge'], capacity: 1000,
    state: 'INSERVICE', drained: false, startedAt: 0, reportedAt: 0, stateChangedAt: 0,
    report: { streams, publishers, subscribers, cpuLoad: 0, bytesIn: 0, bytesOut: 0, ports },
    ...rest,
  };
}

/** Broadcast lookups answered for each of `count` equal nodes, counting pending lookups and no report in between. */
export function spread(lookups: number, count: number, random: () => number): { busiest: number; idlest: number } {
  const nodes = Array.from({ length: count }, (_, i) => directoryNode(`n${i}`, { capacity: 1_000_000 }));
  const pending = new Pending();
  for (let i = 0; i < lookups; i++) {
    const choice = choose({ action: 'broadcast', stream: '/live/demo' }, nodes, undefined, random, (node) => pending.of(node));
    if ('refusal' in choice) throw new Error(choice.refusal.message);
    pending.answered(choice.nodes[0]!);
  }
  const counts = nodes.map((node) => pending.of(node));
  return { busiest: Math.max(...counts), idlest: Math.min(...counts) };
}

/** A NodeSnapshot the test sets by hand: `set` replaces the nodes and tells the listeners, as a report would. */
export class StandInSnapshot implements NodeSnapshot {
  readonly self: string;
  #nodes: DirectoryNode[];
  #listeners: Array<() => void> = [];

  constructor(self: string, nodes: DirectoryNode[] = []) {
    this.self = self;
    this.#nodes = nodes;
  }

  nodes(): readonly DirectoryNode[] {
    return this.#nodes;
  }

  node(id: string): DirectoryNode | undefined {
    return this.#nodes.find((node) => node.id === id);
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** The same nodes as another instance sees them. */
  as(self: string): NodeSnapshot {
    return { self, nodes: () => this.nodes(), node: (id) => this.node(id), onChange: (listener) => this.onChange(listener) };
  }

  set(nodes: DirectoryNode[]): void {
    this.#nodes = nodes;
    for (const listener of this.#listeners) listener();
  }
}
