import type { Logger } from 'pino';
import type { Core } from './core/area.ts';
import { systemClock, type Clock } from './core/clock.ts';
import type { Config } from './core/config.ts';
import { migrate, openDatabase, type Database } from './core/db/database.ts';
import { EventBus } from './core/events/bus.ts';
import { eventMigrations } from './core/events/migrations.ts';
import { keepEvents } from './core/events/retention.ts';
import { registerSse } from './core/events/sse.ts';
import type { Listener } from './core/http/listener.ts';
import { createHttpServer, type App } from './core/http/server.ts';
import { lockDataDir } from './core/lock.ts';
import { createLogger } from './core/logger.ts';
import { nodeIdentity } from './core/node.ts';
import { createMetrics } from './core/metrics.ts';
import { VERSION } from './core/version.ts';
import { createOutbound, outboundMigrations } from './core/outbound/index.ts';
import { createTasks, taskMigrations, type Tasks } from './tasks/index.ts';
import { createProgramme, programmeMigrations, type ProgrammeArea } from './programme/index.ts';
import { createRecordings, recordingMigrations, type Recordings } from './recordings/index.ts';
import { createGate, gateMigrations, type GateArea } from './gate/index.ts';
import { automationMigrations, createAutomation, type Automation } from './automation/index.ts';
import { createHooks, type Hooks } from './hooks/index.ts';
import { createWebhooks, webhookMigrations, type Webhooks } from './webhooks/index.ts';
import { createLive, liveMigrations, type Live } from './live/index.ts';
import type { LiveScheduler } from './live/contract.ts';
import { createDirectory, directoryMigrations, type Directory } from './directory/index.ts';
import { createDashboard } from './dashboard/index.ts';

export interface Onair {
  app: App;
  database: Database;
  bus: EventBus;
  tasks: Tasks;
  programme: ProgrammeArea;
  recordings: Recordings;
  gate: GateArea;
  automation: Automation;
  /** REST hooks (seed 004): the gate's admission by the station's backends. */
  hooks: Hooks;
  webhooks: Webhooks;
  /** Live jobs and their scheduler (seed 001). */
  live: Live;
  /** The registry of nodes (seed 003). */
  directory: Directory;
  logger: Logger;
  /** Starts the areas and listens; answers the base URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

export interface Overrides {
  clock?: Clock;
  logger?: Logger;
  /** In [0, 1): the jitter of webhook retries. */
  random?: () => number;
  /** The scheduler the automation's live windows use instead of the live area's (tests put faults in front of it). */
  liveScheduler?: LiveScheduler;
}

/** Wires every area onto the shared core. Nothing runs until `start`. */
export async function createOnair(config: Config, overrides: Overrides = {}): Promise<Onair> {
  const clock = overrides.clock ?? systemClock;
  const logger = overrides.logger ?? createLogger(config.logLevel, config.logFormat);
  // On PostgreSQL too: the node id kept in the data dir must belong to one process at a time.
  const unlock = lockDataDir(config.dataDir);
  const node = nodeIdentity(config);
  let database: Database;
  try {
    database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
    await migrate(database, eventMigrations, taskMigrations, programmeMigrations, recordingMigrations, gateMigrations, automationMigrations, outboundMigrations,
      webhookMigrations, liveMigrations, directoryMigrations);
  } catch (error) {
    unlock();
    throw error;
  }
  const metrics = createMetrics();
  const bus = new EventBus({ database, origin: node.id, logger, now: () => clock.now() });
  const app = await createHttpServer({ clock, logger, metrics, apiKey: config.apiKey, http: config.http, version: VERSION });
  const outbound = createOutbound({ config, database, clock, logger, metrics });
  const core: Core = { config, database, bus, clock, logger, metrics, node, outbound };
  const tasks = createTasks(core);
  const programme = createProgramme({ ...core, logger: logger.child({ area: 'programme' }) });
  const recordings = createRecordings({ ...core, programme: programme.reader });
  const gate = createGate({ ...core, programme: programme.reader, archive: recordings.archive });
  const directory = createDirectory({ ...core, gate: gate.gate });
  const hooks = createHooks({ ...core, gate: gate.gate });
  const webhooks = createWebhooks({ ...core, tasks: tasks.service, random: overrides.random });
  const live = createLive({ ...core, tasks: tasks.service, gate: gate.gate, notifications: webhooks.notifications, nodes: directory.snapshot });
  const automation = createAutomation({
    ...core, tasks: tasks.service, programme: programme.reader, archive: recordings.archive, gate: gate.gate,
    live: overrides.liveScheduler ?? live.scheduler,
  });
  const dashboard = createDashboard({ config, node });
  registerSse(app, bus);
  // Each area is a plugin with a scope of its own, so that it may set its own hooks (auth, error shape) for its routes.
  for (const area of [tasks, programme, recordings, gate, automation, webhooks, live, directory]) await app.register(area.routes);
  await app.register(hooks.routes);
  await app.register(dashboard.routes);

  let retention: { stop(): void } | undefined;
  let gateHttp: Listener | undefined;
  let stopped: Promise<void> | undefined;
  const onair: Onair = {
    app, database, bus, tasks, programme, recordings, gate, automation, logger,
    hooks, webhooks, live, directory,
    async start() {
      // Every route is known: the access rule checks ONAIR_PUBLIC_ROUTES against them before anything runs.
      await app.ready();
      await bus.start();
      retention = keepEvents({
        cleans: { event: (before) => bus.clean(before), delivery: (before) => outbound.clean(before), 'webhook message': (before) => webhooks.clean(before) },
        clock, logger, retentionMs: config.events.retentionMs, time: config.tasks.cleanTime,
      });
      await programme.start();
      await recordings.start();
      // Before the gate: its first stream events are told to the hook backends.
      await hooks.start();
      // The gate frees what a crashed run left (its relays, its channels) before the task engine resumes the
      // operations that use them, so that a broadcast interrupted by kill -9 gets its channel back at once.
      await gate.start();
      // Jobs this node left active are opened again once the gate has freed their channels.
      await live.start();
      await automation.start();
      await webhooks.start();
      await tasks.start();
      const address = await app.listen({ host: config.http.host, port: config.http.port });
      try {
        await directory.start(address);
        gateHttp = await gate.listen(app);
      } catch (error) {
        await onair.stop();
        throw error;
      }
      const channels = (await gate.gate.channels()).map((channel) => `${channel.name} srt://${node.publicHost}:${channel.port}`);
      logger.info({ url: address, dataDir: config.dataDir, database: database.description, channels, version: VERSION }, 'onair is on air');
      return address;
    },
    stop() {
      stopped ??= (async () => {
        await app.close();
        await gateHttp?.close();
        // STOPPED while the gate still carries its streams: lookups stop sending clients here first.
        await directory.stop();
        await automation.stop();
        await webhooks.stop();
        // Operations (a broadcast on air) stop before the gate they use, so that they can resume after a restart.
        await tasks.stop();
        await live.stop();
        await gate.stop();
        await hooks.stop();
        await recordings.stop();
        await programme.stop();
        retention?.stop();
        await bus.stop();
        await database.close();
        unlock();
        logger.info('onair stopped');
      })();
      return stopped;
    },
  };
  return onair;
}
