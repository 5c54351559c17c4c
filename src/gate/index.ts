import type { App } from '../core/http/server.ts';
import type { Gate } from './contract.ts';
import { gateMigrations } from './migrations.ts';
import { gateRoutes } from './routes.ts';
import { GateService, type GateDeps } from './service.ts';

export { gateMigrations } from './migrations.ts';
export type * from './contract.ts';
export type { GateDeps } from './service.ts';

/**
 * The gate: one live source at a time per channel (reservations with one-time tokens, or static
 * activation), SRT ingest by supervised ffmpeg relays, HTTP/HLS listening, push outputs and recording.
 */
export function createGate(deps: GateDeps) {
  const service = new GateService(deps);
  return {
    service,
    gate: service as Gate,
    migrations: gateMigrations,
    /** The gate's routes as a Fastify plugin: `await app.register(gate.routes)`. */
    routes: async (app: App) => gateRoutes(app, { gate: service, bus: deps.bus }),
    start: () => service.start(),
    stop: () => service.stop(),
  };
}

export type GateArea = ReturnType<typeof createGate>;
