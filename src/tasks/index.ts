import { Gauge, Histogram } from 'prom-client';
import type { App } from '../core/http/server.ts';
import { DailyCleaner } from './cleaner.ts';
import { TaskEngine } from './engine.ts';
import { OperationRegistry, delayOperation, probeOperation, testOperation } from './operations.ts';
import { registerTaskRoutes } from './routes.ts';
import type { Core } from '../core/area.ts';

import type { TaskService } from './contract.ts';

export { taskMigrations } from './migrations.ts';
export type { TaskEngine } from './engine.ts';

export type TasksDeps = Core;

/** The tasks area: its engine, operation registry, daily cleaner, routes and metrics. */
export function createTasks(deps: TasksDeps) {
  const operations = new OperationRegistry();
  operations.register(testOperation);
  operations.register(delayOperation);
  if (deps.config.tasks.probeFile) operations.register(probeOperation(deps.config.tasks.probeFile));
  const lateness = new Histogram({
    name: 'onair_task_fire_lateness_seconds',
    help: 'How late tasks started after they were due',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers: [deps.metrics.registry],
  });
  const engine = new TaskEngine({
    database: deps.database, bus: deps.bus, clock: deps.clock, logger: deps.logger.child({ area: 'tasks' }),
    operations, owner: deps.node.id, leaseMs: deps.config.tasks.leaseMs, onStarted: (ms) => lateness.observe(ms / 1000),
  });
  new Gauge({
    name: 'onair_tasks',
    help: 'Tasks by status',
    labelNames: ['status'] as const,
    registers: [deps.metrics.registry],
    async collect() {
      this.reset();
      for (const { status, count } of await engine.store.countByStatus()) this.set({ status }, count);
    },
  });
  const cleaner = new DailyCleaner({
    store: engine.store, bus: deps.bus, clock: deps.clock, logger: deps.logger.child({ area: 'tasks' }),
    retention: deps.config.tasks.cleanRetention, time: deps.config.tasks.cleanTime,
  });
  const service: TaskService = {
    submit: (input, id) => engine.submit(input, id),
    cancel: (id) => engine.cancel(id),
    get: (id) => engine.store.get(id),
    statuses: (ids) => engine.store.statuses(ids),
    register: (operation) => operations.register(operation),
  };
  return {
    engine,
    operations,
    service,
    /** The Tasks API as a Fastify plugin, in a scope of their own. */
    routes: async (app: App) => registerTaskRoutes(app, engine, deps.clock, deps.bus),
    async start() {
      await engine.start();
      cleaner.start();
    },
    async stop() {
      cleaner.stop();
      await engine.stop();
    },
  };
}

export type Tasks = ReturnType<typeof createTasks>;
