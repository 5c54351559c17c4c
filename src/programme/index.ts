import type { App } from '../core/http/server.ts';
import type { ProgrammeReader } from './contract.ts';
import { registerProgrammeRoutes } from './routes.ts';
import { Programme, type ProgrammeDeps } from './service.ts';

export { programmeMigrations } from './migrations.ts';
export type * from './contract.ts';

/** The programme area: shows, events, their instances, the schedule and its iCalendar feed. */
export function createProgramme(deps: ProgrammeDeps) {
  const programme = new Programme(deps);
  return {
    service: programme,
    reader: programme as ProgrammeReader,
    /** The programme's routes as a Fastify plugin, in a scope of their own. */
    routes: async (app: App) => registerProgrammeRoutes(app, programme, deps.clock),
    async start() {},
    async stop() {},
  };
}

export type ProgrammeArea = ReturnType<typeof createProgramme>;
