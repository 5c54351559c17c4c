import { join } from 'node:path';
import type { App } from '../core/http/server.ts';
import { ProcessSupervisor } from '../core/processes.ts';
import type { Gate } from '../gate/contract.ts';
import type { LiveScheduler } from '../live/contract.ts';
import type { ProgrammeReader } from '../programme/contract.ts';
import type { Archive } from '../recordings/contract.ts';
import type { Status, TaskService } from '../tasks/contract.ts';
import { registerAutomationRoutes } from './routes.ts';
import { BroadcastStore, LiveWindowStore, type Broadcast } from './store.ts';
import { streamOperation } from './stream.ts';
import { Synchronizer, type SyncReport } from './synchronizer.ts';
import { LiveWindows, type WindowView } from './windows.ts';
import type { Core } from '../core/area.ts';

export { automationMigrations } from './migrations.ts';

export interface AutomationDeps extends Core {
  tasks: TaskService;
  programme: ProgrammeReader;
  archive: Archive;
  gate: Gate;
  /** The live area's scheduler: the live instances' windows are its jobstartstop workflows. */
  live: LiveScheduler;
}

export interface AutomationService {
  /** Each with its task's status and the planned times of its timed steps (reserving the channel, starting the player). */
  broadcasts(): Promise<Array<Omit<Broadcast, 'claimedAt' | 'taskCreated'> & { status: Status | null; reserveAt: number; playerAt: number }>>;
  /** The live instances' windows and their workflows. */
  windows(): Promise<WindowView[]>;
  sync(): Promise<SyncReport>;
}

/** Automated broadcasts: the synchronizer keeping stream tasks in line with the programme, and the `stream` operation. */
export function createAutomation(deps: AutomationDeps) {
  const logger = deps.logger.child({ area: 'automation' });
  const settings = deps.config.automation;
  const root = join(deps.config.dataDir, 'automation');
  const supervisor = new ProcessSupervisor({ dir: join(root, 'pids'), logger });
  let stopping = false;
  deps.tasks.register(streamOperation({
    programme: deps.programme, archive: deps.archive, bus: deps.bus, gate: deps.gate, clock: deps.clock, logger, supervisor,
    workDir: join(root, 'work'), ...settings, stopping: () => stopping,
  }));
  const store = new BroadcastStore(deps.database);
  const windows = new LiveWindows({
    store: new LiveWindowStore(deps.database), live: deps.live, programme: deps.programme, clock: deps.clock, logger,
    windowMs: settings.windowMs, leadMs: deps.config.live.leadMs, graceMs: deps.config.live.graceMs,
  });
  const synchronizer = new Synchronizer({
    store, windows, tasks: deps.tasks, programme: deps.programme, bus: deps.bus, clock: deps.clock, logger, ...settings,
  });
  const service: AutomationService = {
    async broadcasts() {
      const held = await store.all();
      const statuses = await deps.tasks.statuses(held.map((b) => b.task));
      return held.map(({ claimedAt: _, taskCreated: __, ...b }) => ({
        ...b, status: statuses.get(b.task) ?? null, reserveAt: b.startsAt - settings.reserveLeadMs, playerAt: b.startsAt - settings.streamLeadMs,
      }));
    },
    windows: () => windows.views(),
    sync: () => synchronizer.request(),
  };
  return {
    ...service,
    synchronizer,
    /** The automation's routes as a Fastify plugin, in a scope of their own: `await app.register(automation.routes)`. */
    routes: async (app: App) => registerAutomationRoutes(app, service),
    /** Kills stream players a killed run left behind (their tasks resume), then starts synchronizing. */
    async start() {
      const reaped = await supervisor.reapLeftovers();
      if (reaped.length > 0) logger.warn({ reaped }, 'stopped stream players left by a previous run');
      synchronizer.start();
    },
    /** Stream tasks stop with the task engine (their players with them) and resume at the next start. */
    async stop() {
      stopping = true;
      await synchronizer.stop();
    },
  };
}

export type Automation = ReturnType<typeof createAutomation>;
