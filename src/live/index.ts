import type { Core } from '../core/area.ts';
import type { App } from '../core/http/server.ts';
import type { Gate } from '../gate/contract.ts';
import type { TaskService } from '../tasks/contract.ts';
import type { Notifications } from '../webhooks/contract.ts';
import type { NodeSnapshot } from '../directory/contract.ts';
import { registerJobRoutes } from './job-routes.ts';
import { JobStore } from './job-store.ts';
import { JobService } from './jobs.ts';
import { registerSchedulerRoutes } from './scheduler-routes.ts';
import { Scheduler } from './scheduler.ts';
import { WorkflowStore } from './workflow-store.ts';
import './contract.ts';

export { liveMigrations } from './migrations.ts';

export interface LiveDeps extends Core {
  tasks: TaskService;
  gate: Gate;
  notifications: Notifications;
  /** The directory's nodes (a job's ingest on another node is reached at its address). */
  nodes: Pick<NodeSnapshot, 'node'>;
}

/** Live jobs with a static SRT entry point, and the jobstartstop scheduler that opens and closes them (seed 001). */
export function createLive(deps: LiveDeps) {
  const logger = deps.logger.child({ area: 'live' });
  // Each needs the other: a job cancelled cancels its workflows, a workflow opens and closes its job.
  const jobs: JobService = new JobService({
    store: new JobStore(deps.database), gate: deps.gate, tasks: deps.tasks, bus: deps.bus, clock: deps.clock, logger, node: deps.node,
    config: deps.config, cancelWorkflows: (job) => scheduler.cancelOfJob(job), nodes: deps.nodes,
  });
  const scheduler: Scheduler = new Scheduler({
    store: new WorkflowStore(deps.database), jobs, tasks: deps.tasks, notifications: deps.notifications, bus: deps.bus, clock: deps.clock,
    logger, accountId: deps.config.live.accountId, openLeadMs: deps.config.live.openLeadMs,
  });
  for (const operation of [...jobs.operations, ...scheduler.operations]) deps.tasks.register(operation);
  return {
    jobs,
    scheduler,
    /** The /v1 routes (seed 001's API) as a Fastify plugin in a scope of its own. */
    routes: async (app: App) => {
      registerJobRoutes(app, jobs);
      registerSchedulerRoutes(app, scheduler);
    },
    /** After the gate's start: opens again the jobs of this node that a stop or crash left active. */
    start: async () => {
      await jobs.start();
      await scheduler.start();
    },
    stop: () => jobs.stop(),
  };
}

export type Live = ReturnType<typeof createLive>;
