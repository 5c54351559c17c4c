import type { Core } from '../core/area.ts';
import type { App } from '../core/http/server.ts';
import type { Gate } from '../gate/contract.ts';
import { HookAdmission } from './admission.ts';
import { HookCaller, type HookFailure } from './caller.ts';
import type { HookError } from './contract.ts';
import { registerHookRoutes } from './routes.ts';
import { StreamApi } from './service.ts';
import { StreamHooks } from './streams.ts';

export interface HooksDeps extends Core {
  gate: Gate;
}

/**
 * REST hooks (seed 004): the gate's Admission by the station's backends (ONAIR_HOOK_APPS), the event methods for its
 * streams and listeners, and the REST API that finds and terminates streams.
 */
export function createHooks(deps: HooksDeps) {
  const logger = deps.logger.child({ area: 'hooks' });
  const { apps, keepAliveMs } = deps.config.hooks;
  const byKey = new Map(apps.map((app) => [app.appKey, app]));
  const caller = new HookCaller({ outbound: deps.outbound, clock: deps.clock, logger, failed: (failure) => recordError(deps, failure) });
  const streams = new StreamHooks({ apps: byKey, caller, gate: deps.gate, clock: deps.clock, nodeId: deps.node.id, keepAliveMs, logger });
  const admission = new HookAdmission({ apps: byKey, caller, streams, nodeId: deps.node.id, logger });
  deps.gate.admit(admission);
  const api = new StreamApi(deps.gate);
  let unfollow: (() => void) | undefined;
  return {
    admission,
    streams,
    /** The hooks' routes as a Fastify plugin: `await app.register(hooks.routes)`. */
    routes: async (app: App) => registerHookRoutes(app, apps, api, deps.outbound),
    /** Follows the gate's streams from now on (before the gate starts, so that none is missed). */
    async start() {
      unfollow = streams.follow(deps.bus);
    },
    async stop() {
      unfollow?.();
      caller.stop();
      await streams.stop();
    },
  };
}

export type Hooks = ReturnType<typeof createHooks>;

/** seed 004's ErrorEvent, recorded in a transaction of its own so that it reaches /sse on every instance. */
async function recordError(deps: HooksDeps, failure: HookFailure): Promise<void> {
  const { app, method, body, error } = failure;
  const data: HookError = {
    app: app.name, appKey: app.appKey, method, error,
    channel: String(body.name), session: typeof body.mediaSessionId === 'string' ? body.mediaSessionId : null,
  };
  await deps.database.kysely.transaction().execute((trx) => deps.bus.record(trx, 'hook-error', [data]));
}
