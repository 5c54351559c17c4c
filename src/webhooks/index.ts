import { randomInt } from 'node:crypto';
import type { Core } from '../core/area.ts';
import type { App } from '../core/http/server.ts';
import type { TaskService } from '../tasks/contract.ts';
import { Deliverer } from './delivery.ts';
import { Dispatcher } from './dispatcher.ts';
import { NotificationSender } from './notifications.ts';
import { registerWebhookRoutes } from './routes.ts';
import { WebhookService } from './service.ts';
import { WebhookStore } from './store.ts';
import './contract.ts';

export { webhookMigrations } from './migrations.ts';

export interface WebhooksDeps extends Core {
  tasks: TaskService;
  /** In [0, 1): the jitter of retries (tests make it exact). */
  random?: () => number;
}

/** Webhooks: subscriptions, the dispatch of the outbox's events to them, and the delivery of their messages as tasks. */
export function createWebhooks(deps: WebhooksDeps) {
  const logger = deps.logger.child({ area: 'webhooks' });
  const store = new WebhookStore(deps.database);
  const random = deps.random ?? (() => randomInt(2 ** 32) / 2 ** 32);
  const deliverer = new Deliverer({ store, tasks: deps.tasks, outbound: deps.outbound, bus: deps.bus, clock: deps.clock, logger, random });
  deps.tasks.register(deliverer.operation);
  const dispatcher = new Dispatcher({ store, bus: deps.bus, deliverer, outbound: deps.outbound, clock: deps.clock, logger });
  const service = new WebhookService({ store, deliverer, outbound: deps.outbound, bus: deps.bus, clock: deps.clock });
  const notifications = new NotificationSender({ store, deliverer, outbound: deps.outbound, bus: deps.bus, clock: deps.clock, logger });
  return {
    service,
    dispatcher,
    /** What the live scheduler sends to its notification URLs. */
    notifications,
    routes: async (app: App) => registerWebhookRoutes(app, service, deps.clock),
    /** Plans what a killed run stored but did not plan, then hands on the events recorded since the last dispatch. */
    async start() {
      const planned = await deliverer.recover();
      if (planned > 0) logger.info({ messages: planned }, 'planned webhook messages a previous run left unplanned');
      dispatcher.start();
    },
    stop: () => dispatcher.stop(),
    /** The daily clean: messages that ended before `before` go (the delivery log keeps its attempts on its own terms). */
    clean: (before: number) => store.clean(before),
  };
}

export type Webhooks = ReturnType<typeof createWebhooks>;
