import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { BusEvent, EventBus } from '../core/events/bus.ts';
import type { Outbound } from '../core/outbound/contract.ts';
import { ALL_TYPES, DELIVERY_OPERATION } from './contract.ts';
import { signedRequest, type Deliverer } from './delivery.ts';
import type { MessageRow, SubscriptionRow } from './migrations.ts';
import { newMessageId } from './signing.ts';
import type { WebhookStore } from './store.ts';

const BATCH = 1000;
/** A pass that failed (the database) is tried again this soon. */
const RETRY_MS = 1000;
/** Lossy events in flight at once; past it they are dropped (they may be lost by definition). */
const MAX_LOSSY_IN_FLIGHT = 64;
/** Events without messages move the shared cursor only this far behind them, so a restart rereads few. */
const LAZY_CURSOR = 10_000;

export interface DispatcherOptions {
  store: WebhookStore;
  bus: EventBus;
  deliverer: Deliverer;
  outbound: Outbound;
  clock: Clock;
  logger: Logger;
}

/** Whether a subscription takes an event of `type`: `*` takes every durable one, a lossy one only by its name. */
function wants(types: string[], event: BusEvent): boolean {
  return types.includes(event.type) || (event.id !== undefined && types.includes(ALL_TYPES));
}

/** The delivery operation's own tasks tell of nothing a subscriber asked for (a `*` subscription would feed itself). */
function ownTask(event: BusEvent): boolean {
  return event.type.startsWith('task-') && (event.data as { operation?: unknown } | null)?.operation === DELIVERY_OPERATION;
}

type Subscribed = { row: SubscriptionRow; types: string[] };

const subscribed = (rows: SubscriptionRow[]): Subscribed[] => rows.map((row) => ({ row, types: JSON.parse(row.types) as string[] }));

export const bodyOf = (event: Pick<BusEvent, 'type' | 'createdAt' | 'data'>) =>
  JSON.stringify({ type: event.type, timestamp: event.createdAt, data: event.data });

/**
 * Hands the outbox's events to the subscriptions: each pass moves the shared cursor over the events it read and
 * stores their messages in one transaction (so one instance dispatches each event), then plans their first attempts.
 * Lossy events are sent once, best effort, by the instance that published them.
 */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  #unsubscribe: (() => void) | undefined;
  #passing: Promise<void> | undefined;
  #again = false;
  #lossyInFlight = 0;
  /** The enabled subscriptions: read again after any webhook-* event. */
  #subscriptions: Promise<Subscribed[]> | undefined;
  /** The shared cursor as this instance last read or wrote it; undefined: read it again. */
  #stored: number | undefined;
  /** The last event this instance found no message in past the cursor (not written: see #pass). */
  #checked = 0;

  constructor(options: DispatcherOptions) {
    this.#o = options;
  }

  start(): void {
    this.#unsubscribe = this.#o.bus.subscribe((event) => {
      if (event.type.startsWith('webhook-')) this.#subscriptions = undefined;
      if (event.id !== undefined) this.request();
      else if (event.origin === this.#o.bus.origin) this.#sendLossy(event);
    });
    this.request();
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#passing;
  }

  /** A pass soon, once for any number of requests meanwhile. */
  request(): Promise<void> {
    this.#again = true;
    this.#passing ??= this.#passes().finally(() => {
      this.#passing = undefined;
    });
    return this.#passing;
  }

  async #passes(): Promise<void> {
    while (this.#again) {
      this.#again = false;
      try {
        while (await this.#pass()) { /* until caught up */ }
      } catch (err) {
        this.#o.logger.error({ err }, 'could not hand events to webhooks; trying again in a second');
        this.#o.clock.at(this.#o.clock.now() + RETRY_MS, () => {
          if (this.#unsubscribe) void this.request();
        });
      }
    }
  }

  /** One batch: answers whether there may be more. */
  async #pass(): Promise<boolean> {
    const { store, bus, deliverer } = this.#o;
    this.#stored ??= await store.cursor();
    const from = Math.max(this.#stored, this.#checked);
    const { events, through } = await bus.since(from, BATCH);
    if (through <= from) return false;
    // A subscription changes only with a webhook-* event: one in the batch means reading them afresh.
    if (events.some((event) => event.type.startsWith('webhook-'))) this.#subscriptions = undefined;
    const messages = this.#messages(events, await this.#enabled());
    this.#checked = through;
    // Events that make no message need no write (whoever reads them again finds none either), up to a point.
    if (messages.length === 0 && through - this.#stored < LAZY_CURSOR) return true;
    const stored = await store.dispatch(this.#stored, through, messages);
    if (stored === undefined) {
      // Another instance moved the cursor meanwhile: read on from where it is.
      this.#stored = undefined;
      this.#checked = 0;
      return true;
    }
    this.#stored = through;
    await deliverer.plan(stored);
    return true;
  }

  /** The messages of `events` for `subscriptions`, one per event and subscription that wants it. */
  #messages(events: BusEvent[], subscriptions: Subscribed[]): MessageRow[] {
    const now = this.#o.clock.now();
    const messages: MessageRow[] = [];
    for (const event of events) {
      if (ownTask(event)) continue;
      for (const { row, types } of subscriptions) {
        if (!wants(types, event) || event.id! <= row.after_event) continue;
        messages.push({
          id: newMessageId(), subscription: row.id, event_id: event.id!, type: event.type, body: bodyOf(event),
          status: 'pending', attempts: 0, plan: 1, next_at: now, created_at: now, updated_at: now,
        });
      }
    }
    return messages;
  }

  #enabled(): Promise<Subscribed[]> {
    this.#subscriptions ??= this.#o.store.enabled().then(subscribed, (error: unknown) => {
      this.#subscriptions = undefined;
      throw error;
    });
    return this.#subscriptions;
  }

  /** Sends a lossy event once to each subscription that names it: no message is kept, nothing is retried. */
  #sendLossy(event: BusEvent): void {
    if (ownTask(event)) return;
    void this.#enabled().then((subscriptions) => {
      for (const { row, types } of subscriptions) {
        if (!wants(types, event)) continue;
        if (this.#lossyInFlight >= MAX_LOSSY_IN_FLIGHT) return;
        this.#lossyInFlight++;
        const message = { id: newMessageId(), body: bodyOf(event), event_id: null, type: event.type };
        this.#o.outbound.send(signedRequest(row, message, 1, this.#o.clock.now()))
          .catch(() => { /* in the delivery log */ }).finally(() => this.#lossyInFlight--);
      }
    }, (err: unknown) => this.#o.logger.warn({ err }, 'could not read the webhook subscriptions'));
  }
}
