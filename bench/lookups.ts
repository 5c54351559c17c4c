import { pino } from 'pino';
import { systemClock } from '../src/core/clock.ts';
import { loadConfig } from '../src/core/config.ts';
import { localNotifier } from '../src/core/db/notifier.ts';
import { createHttpServer } from '../src/core/http/server.ts';
import { createMetrics } from '../src/core/metrics.ts';
import type { NodeSnapshot } from '../src/directory/contract.ts';
import { registerLookupRoutes } from '../src/directory/lookup-routes.ts';
import { StreamsOnAir } from '../src/directory/streams.ts';

/**
 * The stream manager's lookup routes alone on the core's HTTP server, over a snapshot set by hand and no bus: what the
 * bench measures is the route and the choice, not the reports that would keep the snapshot current.
 */
export async function serveLookups(snapshot: NodeSnapshot): Promise<{ url: string; close(): Promise<void> }> {
  const config = loadConfig({});
  const streams = new StreamsOnAir({ snapshot, bus: { subscribe: () => () => {} }, notifier: localNotifier(), clock: systemClock, scope: config.directory.scope });
  streams.start();
  const app = await createHttpServer({ clock: systemClock, logger: pino({ level: 'silent' }), metrics: createMetrics(), apiKey: undefined, http: config.http, version: 'bench' });
  registerLookupRoutes(app, { snapshot, streams, clock: systemClock, random: Math.random, directory: config.directory, apiKey: undefined });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    async close() {
      streams.stop();
      await app.close();
    },
  };
}
