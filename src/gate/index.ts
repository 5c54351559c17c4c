import { ConfigError } from '../core/config.ts';
import { listenAlso, type Listener } from '../core/http/listener.ts';
import type { App } from '../core/http/server.ts';
import type { Gate } from './contract.ts';
import { gateMigrations } from './migrations.ts';
import { gateRoutes } from './routes.ts';
import { GateService, type GateDeps } from './service.ts';

export { gateMigrations } from './migrations.ts';
export type * from './contract.ts';
export type { GateDeps } from './service.ts';

/** The core's routes that seed 002 names beside the gate's own. */
const SEED_CORE_ROUTES = ['/ping', '/sse'];

/**
 * The gate: one live source at a time per channel (reservations with one-time tokens, or static
 * activation), SRT ingest by supervised ffmpeg relays, HTTP/HLS listening, push outputs and recording.
 */
export function createGate(deps: GateDeps) {
  const service = new GateService(deps);
  const urls = new Set(SEED_CORE_ROUTES);
  return {
    service,
    gate: service as Gate,
    migrations: gateMigrations,
    /** The gate's routes as a Fastify plugin: `await app.register(gate.routes)`. */
    routes: async (app: App) => {
      app.addHook('onRoute', (route) => void urls.add(route.url));
      await gateRoutes(app, { gate: service, bus: deps.bus });
    },
    /**
     * Serves the gate's routes on ONAIR_GATE_HTTP_PORT too (by default the default channel's port: seed 002's
     * clients talk HTTP on the number of the SRT port), through the app's own router.
     */
    async listen(app: App): Promise<Listener | undefined> {
      const port = deps.config.gate.httpPort;
      if (port === undefined) return undefined;
      const host = deps.config.http.host;
      try {
        const listener = await listenAlso(app, { host, port, serves: (url) => urls.has(url), what: 'the gate\'s routes; every route is on the API\'s port (ONAIR_HTTP_PORT)' });
        deps.logger.info({ host, port: listener.port }, 'the gate\'s routes answer on its own port too');
        return listener;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        throw new ConfigError(`ONAIR_GATE_HTTP_PORT: TCP port ${port} of ${host} is taken already (by default the gate answers HTTP on the default `
          + 'channel\'s port): free it, or set ONAIR_GATE_HTTP_PORT to another port or to off');
      }
    },
    start: () => service.start(),
    stop: () => service.stop(),
  };
}

export type GateArea = ReturnType<typeof createGate>;
