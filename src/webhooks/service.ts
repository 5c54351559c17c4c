import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import type { EventBus } from '../core/events/bus.ts';
import { conflict, notFound } from '../core/errors.ts';
import type { DeliveryAttempt, Outbound } from '../core/outbound/contract.ts';
import { DAY } from '../core/time.ts';
import { TEST_TYPE } from './contract.ts';
import type { AttemptResult, Deliverer } from './delivery.ts';
import { bodyOf } from './dispatcher.ts';
import type { SubscriptionRow } from './migrations.ts';
import { newMessageId, newSecret } from './signing.ts';
import type { WebhookStore } from './store.ts';
import { eventOf } from './view.ts';

/** Both secrets sign this long after a rotation, as Standard Webhooks allows. */
export const ROTATION_OVERLAP = DAY;

export interface NewSubscription {
  url: string;
  types: string[];
  description?: string;
}

export interface SubscriptionChange {
  url?: string;
  types?: string[];
  description?: string;
  enabled?: boolean;
}

export interface WebhookServiceOptions {
  store: WebhookStore;
  deliverer: Deliverer;
  outbound: Outbound;
  bus: EventBus;
  clock: Clock;
}

/** Subscriptions, their secrets, and what operators do with their deliveries (test, retry, recover). */
export class WebhookService {
  readonly #o: WebhookServiceOptions;

  constructor(options: WebhookServiceOptions) {
    this.#o = options;
  }

  async create(input: NewSubscription): Promise<{ subscription: SubscriptionRow; secret: string }> {
    await this.#o.outbound.check(input.url, 'body.url');
    const now = this.#o.clock.now();
    const secret = newSecret();
    const row: SubscriptionRow = {
      id: randomUUID(), url: input.url, types: JSON.stringify([...new Set(input.types)]), description: input.description ?? '',
      secret, previous_secret: null, previous_until: null, enabled: 1, disabled_reason: null, failing_since: null,
      after_event: this.#o.bus.delivered, created_at: now, updated_at: now,
    };
    await this.#o.store.create(row, (trx, created) => this.#o.bus.record(trx, 'webhook-created', [eventOf(created)]));
    return { subscription: row, secret };
  }

  list(): Promise<SubscriptionRow[]> {
    return this.#o.store.list();
  }

  async get(id: string): Promise<SubscriptionRow> {
    const row = await this.#o.store.get(id);
    if (!row) throw notFound(`Webhook ${id} does not exist`);
    return row;
  }

  async change(id: string, change: SubscriptionChange): Promise<SubscriptionRow> {
    if (change.url !== undefined) await this.#o.outbound.check(change.url, 'body.url');
    const { types, enabled, ...rest } = change;
    const row = await this.#o.store.change(id, {
      ...rest, updated_at: this.#o.clock.now(),
      ...(types === undefined ? {} : { types: JSON.stringify([...new Set(types)]) }),
      // Enabled again: the failures that disabled it are forgotten.
      ...(enabled === undefined ? {} : enabled ? { enabled: 1, disabled_reason: null, failing_since: null } : { enabled: 0, disabled_reason: 'disabled by an operator' }),
    }, (trx, changed) => this.#o.bus.record(trx, 'webhook-changed', [eventOf(changed)]));
    if (!row) throw notFound(`Webhook ${id} does not exist`);
    return row;
  }

  async remove(id: string): Promise<void> {
    const removed = await this.#o.store.remove(id, (trx) => this.#o.bus.record(trx, 'webhook-removed', [{ id }]));
    if (!removed) throw notFound(`Webhook ${id} does not exist`);
  }

  /** A new secret; the previous one signs too for ROTATION_OVERLAP, so that receivers can switch meanwhile. */
  async rotate(id: string): Promise<{ subscription: SubscriptionRow; secret: string }> {
    const current = await this.get(id);
    const now = this.#o.clock.now();
    const secret = newSecret();
    const row = await this.#o.store.change(id, { secret, previous_secret: current.secret, previous_until: now + ROTATION_OVERLAP, updated_at: now },
      (trx, changed) => this.#o.bus.record(trx, 'webhook-changed', [eventOf(changed)]));
    if (!row) throw notFound(`Webhook ${id} does not exist`);
    return { subscription: row, secret };
  }

  /** Sends a `webhook-test` message at once and answers how it went; retried like any other if it fails. */
  async test(id: string): Promise<AttemptResult> {
    const subscription = await this.get(id);
    if (!subscription.enabled) throw conflict(`Webhook ${id} is disabled; enable it first (PATCH {"enabled": true})`);
    const now = this.#o.clock.now();
    const body = bodyOf({ type: TEST_TYPE, createdAt: new Date(now).toISOString(), data: { webhook: id, description: subscription.description } });
    const message = {
      id: newMessageId(), subscription: id, event_id: null, type: TEST_TYPE, body,
      status: 'pending' as const, attempts: 0, plan: 1, next_at: now, created_at: now, updated_at: now,
    };
    await this.#o.store.insertMessage(message);
    const result = await this.#o.deliverer.run(message.id, 1);
    if ('skipped' in result) throw conflict(`Webhook ${id} was disabled meanwhile`);
    return result;
  }

  async deliveries(id: string, page: { before?: string; limit: number; failed?: boolean; message?: string }): Promise<DeliveryAttempt[]> {
    await this.get(id);
    return this.#o.outbound.deliveries({ kind: 'webhook', subscriber: id, ...page });
  }

  /** Sends the message of one logged attempt again, now, with the same webhook-id. */
  async retry(id: string, delivery: string): Promise<{ message: string }> {
    const attempt = await this.#o.outbound.delivery(delivery);
    if (!attempt || attempt.kind !== 'webhook' || attempt.subscriber !== id) throw notFound(`Webhook ${id} has no delivery ${delivery}`);
    if (attempt.message === null || !await this.#o.store.message(attempt.message)) {
      throw notFound(`The message of delivery ${delivery} is no longer kept (a best-effort event is never sent again)`);
    }
    await this.#replay([attempt.message]);
    return { message: attempt.message };
  }

  /** Sends again every message of a subscription that ended undelivered since `since`. */
  async recover(id: string, since: number): Promise<{ messages: number }> {
    await this.get(id);
    return { messages: await this.#replay(await this.#o.store.undelivered(id, since)) };
  }

  async #replay(ids: string[]): Promise<number> {
    const messages = await this.#o.store.replay(ids, this.#o.clock.now());
    await this.#o.deliverer.plan(messages);
    return messages.length;
  }
}
