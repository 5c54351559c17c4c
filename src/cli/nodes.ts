import { parseArgs } from 'node:util';
import { OnairClient } from './client.ts';
import type { Output } from './output.ts';

export const NODES_USAGE = `onair nodes list [--region R] [--state S]
                                       the nodes of the directory, their state and load
onair nodes show ID                    a node and its last report
onair nodes drain ID                   no new clients on the node (SOFT_SUNSET); those there stay
onair nodes resume ID                  put a drained node back in service (INSERVICE)
onair nodes remove ID [--force]        remove a node in FAULT or STOPPED (--force: in any state)`;

interface Node {
  id: string; state: string; region: string; address: string; roles: string[]; capacity: number; reportedAt: number;
  report: { publishers: number; subscribers: number; cpuLoad: number };
}

/** One row per node: what an operator looks for. */
const rows = (nodes: Node[]) => (nodes.length === 0 ? 'no nodes' : nodes.map((node) => ({
  id: node.id, state: node.state, region: node.region, address: node.address, roles: node.roles.join(','),
  listeners: `${node.report.subscribers}/${node.capacity}`, sources: String(node.report.publishers), 'cpu load': node.report.cpuLoad.toFixed(2),
  reported: new Date(node.reportedAt).toISOString(),
})));

/** `onair nodes ...` */
export async function nodesCommand(args: string[], out: Output, client = new OnairClient()): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { region: { type: 'string' }, state: { type: 'string' }, force: { type: 'boolean' } },
  });
  const [verb, id] = positionals;
  const path = (suffix = '') => `/directory/nodes/${encodeURIComponent(id!)}${suffix}`;
  const said = (done: string) => (node: Node) => `node ${node.id} ${done}: ${node.state}`;
  switch (verb) {
    case 'list': {
      const query = new URLSearchParams();
      if (values.region) query.set('region', values.region);
      if (values.state) query.set('state', values.state);
      return out.print(await client.request('GET', `/directory/nodes${query.size > 0 ? `?${query}` : ''}`), rows);
    }
    case 'show':
      if (!id) break;
      return out.print(await client.request('GET', path()));
    case 'drain':
    case 'resume':
      if (!id) break;
      return out.print(await client.request('POST', path(`/${verb}`)), said(verb === 'drain' ? 'drained' : 'resumed'));
    case 'remove':
      if (!id) break;
      return out.print(await client.request('DELETE', path(values.force ? '?force=true' : '')), () => `node ${id} removed`);
  }
  process.stderr.write(`${NODES_USAGE}\n`);
  return 2;
}
