import type { DirectoryNode, NodeSnapshot } from '../../src/directory/contract.ts';

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
