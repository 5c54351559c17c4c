import { pino } from 'pino';
import { systemClock, type Clock } from '../../src/core/clock.ts';
import { loadConfig, type Config } from '../../src/core/config.ts';
import { localNotifier, type Notifier } from '../../src/core/db/notifier.ts';
import type { BusEvent, EventBus } from '../../src/core/events/bus.ts';
import { createHttpServer, type App } from '../../src/core/http/server.ts';
import { createMetrics } from '../../src/core/metrics.ts';
import type { DirectoryNode, NodeSnapshot } from '../../src/directory/contract.ts';
import { registerLookupRoutes } from '../../src/directory/lookup-routes.ts';
import { StreamsOnAir } from '../../src/directory/streams.ts';
import type { Gate } from '../../src/gate/contract.ts';

export interface LookupServer {
  app: App;
  url: string;
  streams: StreamsOnAir;
  close(): Promise<void>;
}

/**
 * The stream manager's lookup routes alone on the core's HTTP server, over the snapshot, bus and gate given: until the
 * directory is wired into onair (createDirectory), the tests and the bench reach them this way.
 */
export async function serveLookups(options: {
  snapshot: NodeSnapshot; gate: Pick<Gate, 'channel'>; bus?: Pick<EventBus, 'subscribe'>; notifier?: Notifier; clock?: Clock;
  config?: Config; random?: () => number;
}): Promise<LookupServer> {
  const clock = options.clock ?? systemClock;
  const config = options.config ?? loadConfig({ ONAIR_DIRECTORY_ADMIN_TOKEN: ADMIN_TOKEN });
  const bus = options.bus ?? { subscribe: (_handler: (event: BusEvent) => void) => () => {} };
  const streams = new StreamsOnAir({ snapshot: options.snapshot, bus, notifier: options.notifier ?? localNotifier(), clock, scope: config.directory.scope });
  streams.start();
  const app = await createHttpServer({ clock, logger: pino({ level: 'silent' }), metrics: createMetrics(), apiKey: config.apiKey, http: config.http, version: 'test' });
  registerLookupRoutes(app, { snapshot: options.snapshot, streams, gate: options.gate, clock, random: options.random ?? Math.random, directory: config.directory, apiKey: config.apiKey });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app, url, streams,
    async close() {
      streams.stop();
      await app.close();
    },
  };
}

export const ADMIN_TOKEN = 'directory-admin-token-for-tests';

/**
 * This node's reports, made from what its gate carries now (Gate.localLoad) whenever `report` is called: a stand-in
 * for the NodeRegistry, one node in region eu-central.
 */
export class LocalReports implements NodeSnapshot {
  readonly self: string;
  #gate: Pick<Gate, 'localLoad'>;
  #node: DirectoryNode;
  #listeners: Array<() => void> = [];

  constructor(self: string, gate: Pick<Gate, 'localLoad'>, capacity = 1000) {
    this.self = self;
    this.#gate = gate;
    this.#node = {
      id: self, address: '127.0.0.1', url: 'http://127.0.0.1', region: 'eu-central', geozone: 'europe', roles: ['origin', 'edge'], capacity,
      state: 'INSERVICE', drained: false, startedAt: Date.now(), reportedAt: 0, stateChangedAt: Date.now(),
      report: { streams: [], publishers: 0, subscribers: 0, cpuLoad: 0, bytesIn: 0, bytesOut: 0 },
    };
  }

  nodes(): readonly DirectoryNode[] {
    return [this.#node];
  }

  node(id: string): DirectoryNode | undefined {
    return id === this.self ? this.#node : undefined;
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  report(): void {
    const load = this.#gate.localLoad();
    const streams = load.channels.map((c) => ({
      name: c.channel, scope: '/live', carriedAs: c.publishing ? 'origin' as const : 'edge' as const, publishers: c.publishing ? 1 : 0,
      subscribers: c.listeners, startTime: c.since, instance: c.instance,
    }));
    const sum = (pick: (s: (typeof streams)[number]) => number) => streams.reduce((total, s) => total + pick(s), 0);
    this.#node = {
      ...this.#node, reportedAt: this.#node.reportedAt + 1,
      report: { streams, publishers: sum((s) => s.publishers), subscribers: sum((s) => s.subscribers), cpuLoad: 0, bytesIn: load.bytesIn, bytesOut: load.bytesOut },
    };
    for (const listener of this.#listeners) listener();
  }
}
