import { Gauge, type Registry } from 'prom-client';
import { NODE_STATES, type NodeSnapshot } from './contract.ts';

/** Gauges per node of the directory, read from the snapshot at each scrape (a removed node disappears). */
export function nodeMetrics(registry: Registry, snapshot: NodeSnapshot, now: () => number): void {
  const labelNames = ['node', 'region'] as const;
  const perNode = (name: string, help: string, value: (node: ReturnType<NodeSnapshot['nodes']>[number]) => number) => new Gauge({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const node of snapshot.nodes()) this.set({ node: node.id, region: node.region }, value(node));
    },
  });
  new Gauge({
    name: 'onair_directory_node_state', help: 'Each node\'s state: 1 for the one it is in, 0 for the others',
    labelNames: [...labelNames, 'state'] as const, registers: [registry],
    collect() {
      this.reset();
      for (const node of snapshot.nodes()) {
        for (const state of NODE_STATES) this.set({ node: node.id, region: node.region, state }, node.state === state ? 1 : 0);
      }
    },
  });
  perNode('onair_directory_node_subscribers', 'Listeners on each node at its last report', (node) => node.report.subscribers);
  perNode('onair_directory_node_publishers', 'Sources on air on each node at its last report', (node) => node.report.publishers);
  perNode('onair_directory_node_capacity', 'Listeners each node takes at most (ONAIR_NODE_CAPACITY)', (node) => node.capacity);
  perNode('onair_directory_node_report_age_seconds', 'Seconds since each node last reported', (node) => Math.max(0, now() - node.reportedAt) / 1000);
}
