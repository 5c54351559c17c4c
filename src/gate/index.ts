import type { App } from '../core/http/server.ts';
import { gateMigrations } from './migrations.ts';
import { registerGateRoutes } from './routes.ts';
import { GateService, type GateDeps } from './service.ts';

export { gateMigrations } from './migrations.ts';
export type { Availability, AvailabilityChanged, GateDeps, Reservation, ReserveRequest, StreamStatus } from './service.ts';
export type { InstanceRef, SessionStats } from './session.ts';

/**
 * The gate: one live source at a time per channel (reservations with one-time tokens, or static
 * activation), SRT ingest by supervised ffmpeg relays, HTTP/HLS listening, push outputs and recording.
 */
export function createGate(deps: GateDeps) {
  const service = new GateService(deps);
  return {
    service,
    migrations: gateMigrations,
    routes: (app: App) => registerGateRoutes(app, service, deps.bus),
    start: () => service.start(),
    stop: () => service.stop(),
    reserve: (channel: string, request: Parameters<GateService['reserve']>[1]) => service.reserve(channel, request),
    availability: (channel: string) => service.availability(channel),
    waitUntilFree: (channel: string, signal?: AbortSignal) => service.waitUntilFree(channel, signal),
    activate: (channel: string, options?: Parameters<GateService['activate']>[1]) => service.activate(channel, options),
    deactivate: (channel: string) => service.deactivate(channel),
  };
}

export type Gate = ReturnType<typeof createGate>;
