import type { Core } from '../core/area.ts';
import type { App } from '../core/http/server.ts';
import type { Gate } from '../gate/contract.ts';
import { nodeMetrics } from './metrics.ts';
import { registerNodeRoutes } from './node-routes.ts';
import { NodeRegistry } from './registry.ts';
import { Audience } from './audience.ts';
import { registerAudienceRoutes } from './audience-routes.ts';
import { registerLookupRoutes } from './lookup-routes.ts';
import { StreamsOnAir } from './streams.ts';
import { NodeStore } from './store.ts';
import type { NodeAdmin, NodeSnapshot } from './contract.ts';

export { directoryMigrations } from './migrations.ts';

export interface DirectoryDeps extends Core {
  gate: Gate;
}

/** The directory (seed 003): this node in the shared registry of nodes, their admin, and the stream manager's node admin. */
export function createDirectory(deps: DirectoryDeps) {
  const audience = new Audience(deps.database);
  const registry = new NodeRegistry({
    store: new NodeStore(deps.database), bus: deps.bus, notifier: deps.database.notifier, clock: deps.clock,
    logger: deps.logger.child({ area: 'directory' }), node: deps.node, settings: deps.config.directory, gate: deps.gate,
    // Each node counts its own listeners once, at its own report.
    onReport: (node, streams, intervalMs, at) => audience.record(node, streams, intervalMs, at),
  });
  const streams = new StreamsOnAir({ snapshot: registry, bus: deps.bus, notifier: deps.database.notifier, clock: deps.clock, scope: deps.config.directory.scope });
  nodeMetrics(deps.metrics.registry, registry, () => deps.clock.now());
  if (deps.node.roles.includes('edge')) deps.gate.relayFrom({ origin: (channel, node) => originUrl(registry, channel, node) });
  return {
    registry,
    /** Each programme instance's listeners over every node. */
    audience,
    /** What lookups read: every node, from memory. */
    snapshot: registry as NodeSnapshot,
    admin: registry as NodeAdmin,
    /** The /directory routes and the stream manager's (/streammanager/api/2.0) node admin, in a scope of their own. */
    routes: async (app: App) => {
      registerNodeRoutes(app, { registry, clock: deps.clock, tokens: [deps.config.directory.adminToken, deps.config.apiKey] });
      registerAudienceRoutes(app, audience, deps.clock);
      registerLookupRoutes(app, {
        snapshot: registry, streams, clock: deps.clock, random: Math.random, directory: deps.config.directory, apiKey: deps.config.apiKey,
      });
    },
    /** Once the API listens: registers this node (its URL is ONAIR_NODE_URL, else `listenUrl`) and reports. */
    start: (listenUrl: string) => {
      streams.start();
      return registry.start(listenUrl);
    },
    stop: () => {
      streams.stop();
      return registry.stop();
    },
  };
}

export type Directory = ReturnType<typeof createDirectory>;

/** Where an edge pulls a channel: the live stream of the origin that holds its session, while that origin is up. */
function originUrl(snapshot: NodeSnapshot, channel: string, id: string): string | undefined {
  const origin = snapshot.node(id);
  if (!origin || id === snapshot.self || !origin.roles.includes('origin') || origin.state === 'FAULT' || origin.state === 'STOPPED') return undefined;
  return `${origin.url}/channels/${encodeURIComponent(channel)}/listen`;
}
