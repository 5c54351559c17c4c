import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { EventBus } from '../core/events/bus.ts';
import type { Outbound } from '../core/outbound/contract.ts';
import type { NotificationEndpoint, Notifications } from './contract.ts';
import type { Deliverer } from './delivery.ts';
import type { MessageRow, SubscriptionRow } from './migrations.ts';
import { nameUuid } from '../core/ids.ts';
import { newSecret } from './signing.ts';
import type { WebhookStore } from './store.ts';
import { eventOf } from './view.ts';

export interface NotificationOptions {
  store: WebhookStore;
  deliverer: Deliverer;
  outbound: Outbound;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
}

const DESCRIPTION = 'Notifications of the live scheduler (made for its notification_url)';

const webhookOf = (url: string) => nameUuid(`notifications ${url}`);
/** The URL as logs may show it: its query may carry a token. */
const withoutQuery = (url: string) => url.split(/[?#]/)[0];

/**
 * One webhook per notification URL, its id made from the URL: every instance finds the same one, and makes it once.
 * Only endpoint() makes it: once removed, the URL gets nothing more (nobody has the secret a new one would have).
 */
export class NotificationSender implements Notifications {
  readonly #o: NotificationOptions;

  constructor(options: NotificationOptions) {
    this.#o = options;
  }

  async endpoint(url: string, field: string): Promise<NotificationEndpoint> {
    await this.#o.outbound.check(url, field);
    return this.#webhookOf(url);
  }

  async notify(url: string, key: string, type: string, body: unknown): Promise<string | undefined> {
    const webhook = webhookOf(url);
    if (!(await this.#o.store.get(webhook))) {
      this.#o.logger.warn({ url: withoutQuery(url), webhook, type }, 'a notification was not sent: the webhook of its URL was removed');
      return undefined;
    }
    const now = this.#o.clock.now();
    const message: MessageRow = {
      id: `msg_${createHash('sha256').update(key).digest('hex').slice(0, 32)}`, subscription: webhook, event_id: null, type,
      body: JSON.stringify(body), status: 'pending', attempts: 0, plan: 1, next_at: now, created_at: now, updated_at: now,
    };
    const stored = await this.#o.store.insertOnce(message);
    // Stored by an earlier run that may have died before planning it: planning an attempt twice submits one task.
    if (stored.status === 'pending') await this.#o.deliverer.plan([stored]);
    return stored.id;
  }

  async #webhookOf(url: string): Promise<NotificationEndpoint> {
    const id = webhookOf(url);
    if (await this.#o.store.get(id)) return { webhook: id };
    const now = this.#o.clock.now();
    const secret = newSecret();
    const row: SubscriptionRow = {
      id, url, types: '[]', description: DESCRIPTION, secret, previous_secret: null, previous_until: null, enabled: 1,
      disabled_reason: null, failing_since: null, after_event: this.#o.bus.delivered, created_at: now, updated_at: now,
    };
    const made = await this.#o.store.createOnce(row, (trx, created) => this.#o.bus.record(trx, 'webhook-created', [eventOf(created)]));
    return made ? { webhook: id, secret } : { webhook: id };
  }
}
