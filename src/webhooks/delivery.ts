import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { Clock } from '../core/clock.ts';
import type { Announce, EventBus } from '../core/events/bus.ts';
import { Conflict } from '../core/errors.ts';
import { OutboundError, type Outbound, type OutboundRequest } from '../core/outbound/contract.ts';
import { UNFINISHED, type Operation, type TaskService } from '../tasks/contract.ts';
import { DELIVERY_OPERATION } from './contract.ts';
import type { MessageRow, SubscriptionRow } from './migrations.ts';
import { FAILING_FOR, nextAttemptAt, retryAfter } from './schedule.ts';
import { nameUuid } from '../core/ids.ts';
import { signedHeaders } from './signing.ts';
import type { Settlement, WebhookStore } from './store.ts';
import { eventOf } from './view.ts';

/** What one attempt came to. */
export interface AttemptResult {
  message: string;
  attempt: number;
  status: number | null;
  error: string | null;
  delivery: string | null;
}

interface Answer {
  status: number | null;
  headers: Record<string, string>;
  error: string | null;
  delivery: string | null;
}

export interface DelivererOptions {
  store: WebhookStore;
  tasks: TaskService;
  outbound: Outbound;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  /** In [0, 1): the jitter of each retry. */
  random: () => number;
}

const Parameters = Type.Object({
  message: Type.String({ minLength: 1, maxLength: 100 }),
  plan: Type.Integer({ minimum: 1 }),
}, { additionalProperties: false });

/**
 * Requests in flight at once; past it an attempt waits its turn before it is sent (its timeout not yet running), so
 * that a backlog falling due together does not open thousands of connections whose answers then wait past it.
 */
export const MAX_SENDING = 64;

const ok = (status: number | null) => status !== null && status >= 200 && status < 300;

/** The secrets that sign now: the current one, and the one before it during a rotation's overlap. */
function signingSecrets(subscription: SubscriptionRow, now: number): string[] {
  const { secret, previous_secret: previous, previous_until: until } = subscription;
  return previous !== null && until !== null && now < until ? [secret, previous] : [secret];
}

/** One attempt of a message to a subscription as the outbound client takes it: signed now, logged as a webhook's. */
export function signedRequest(subscription: SubscriptionRow, message: Pick<MessageRow, 'id' | 'body' | 'event_id' | 'type'>, attempt: number, now: number): OutboundRequest {
  return {
    url: subscription.url, trust: 'api', body: message.body,
    headers: signedHeaders(signingSecrets(subscription, now), message.id, now, message.body),
    log: { kind: 'webhook', subscriber: subscription.id, message: message.id, eventId: message.event_id, type: message.type, attempt },
  };
}

/**
 * Makes the attempts of webhook messages. Each planned attempt is a task of the task engine, its id made from the
 * message and its plan, so that a restart or kill -9 loses none and, on several instances, one makes it.
 */
export class Deliverer {
  readonly #o: DelivererOptions;
  #sending = 0;
  readonly #queued: Array<() => void> = [];

  constructor(options: DelivererOptions) {
    this.#o = options;
  }

  get operation(): Operation<typeof Parameters> {
    return {
      type: DELIVERY_OPERATION,
      summary: 'Makes one attempt of a webhook message, and plans the next one if it fails',
      parameters: Parameters,
      // Killed while sending, the attempt is made again: receivers deduplicate on webhook-id.
      resumable: true,
      run: ({ parameters, signal }) => this.run(parameters.message, parameters.plan, signal),
    };
  }

  static taskId(message: string, plan: number): string {
    return nameUuid(`webhook ${message} ${plan}`);
  }

  /** Submits the task of each message's planned attempt (an existing one is already submitted). */
  async plan(messages: Array<Pick<MessageRow, 'id' | 'plan' | 'next_at'>>): Promise<void> {
    await Promise.all(messages.map(async (message) => {
      const datetime = new Date(message.next_at ?? this.#o.clock.now()).toISOString();
      try {
        await this.#o.tasks.submit({
          operation: { type: DELIVERY_OPERATION, parameters: { message: message.id, plan: message.plan } },
          condition: { type: 'at', parameters: { datetime } },
        }, Deliverer.taskId(message.id, message.plan));
      } catch (error) {
        if (!(error instanceof Conflict)) throw error;
      }
    }));
  }

  /**
   * Plans the pending messages whose planned task does not exist (stored by a dispatch killed before it planned them),
   * and plans anew those whose task ended without recording its attempt (the database failed it meanwhile).
   */
  async recover(): Promise<number> {
    let after = '';
    let planned = 0;
    for (;;) {
      const page = await this.#o.store.pending(after, 1000);
      if (page.length === 0) return planned;
      after = page.at(-1)!.id;
      const statuses = await this.#o.tasks.statuses(page.map((m) => Deliverer.taskId(m.id, m.plan)));
      const status = (m: MessageRow) => statuses.get(Deliverer.taskId(m.id, m.plan));
      const ended = page.filter((m) => status(m) !== undefined && !UNFINISHED.includes(status(m)!));
      const missing = [...page.filter((m) => status(m) === undefined), ...await this.#o.store.replan(ended, this.#o.clock.now())];
      await this.plan(missing);
      planned += missing.length;
    }
  }

  /** Makes the attempt planned as `plan` of a message, unless the message has moved on (delivered, replayed). */
  async run(id: string, plan: number, signal?: AbortSignal): Promise<AttemptResult | { skipped: string }> {
    const { store } = this.#o;
    const message = await store.message(id);
    if (!message || message.status !== 'pending') return { skipped: `message ${message?.status ?? 'removed'}` };
    if (message.plan !== plan) {
      // Killed between recording an attempt and planning the next: this run, resumed, plans it.
      if (message.plan > plan) await this.plan([message]);
      return { skipped: 'a later attempt is planned' };
    }
    const subscription = await store.get(message.subscription);
    const now = this.#o.clock.now();
    if (!subscription?.enabled) {
      await store.settle(id, plan, now, { message: { status: 'dropped', attempts: message.attempts, plan, next_at: null } });
      return { skipped: 'subscription disabled' };
    }
    const attempt = message.attempts + 1;
    const answer = await this.#send(subscription, message, attempt, signal);
    // Cut by a stop: not an answer; the task resumes after the restart and makes the attempt again.
    signal?.throwIfAborted();
    const settlement = this.#judge(subscription, message, attempt, answer);
    const settled = await store.settle(id, plan, this.#o.clock.now(), settlement, this.#disabled(settlement));
    if (settled && settlement.message.status === 'pending') await this.plan([{ id, ...settlement.message }]);
    return { message: id, attempt, status: answer.status, error: answer.error, delivery: answer.delivery };
  }

  /** Resolves when a request may be sent: at most MAX_SENDING at once, in the order asked. */
  async #turn(): Promise<() => void> {
    if (this.#sending >= MAX_SENDING) await new Promise<void>((resolve) => this.#queued.push(resolve));
    else this.#sending++;
    return () => {
      const next = this.#queued.shift();
      if (next) next();
      else this.#sending--;
    };
  }

  async #send(subscription: SubscriptionRow, message: MessageRow, attempt: number, signal?: AbortSignal): Promise<Answer> {
    const done = await this.#turn();
    try {
      return await this.#sendNow(subscription, message, attempt, signal);
    } finally {
      done();
    }
  }

  async #sendNow(subscription: SubscriptionRow, message: MessageRow, attempt: number, signal?: AbortSignal): Promise<Answer> {
    const now = this.#o.clock.now();
    try {
      const response = await this.#o.outbound.send({ ...signedRequest(subscription, message, attempt, now), signal });
      const error = ok(response.status) ? null : `answered ${response.status}`;
      return { status: response.status, headers: response.headers, error, delivery: response.delivery ?? null };
    } catch (error) {
      if (!(error instanceof OutboundError)) throw error;
      return { status: null, headers: {}, error: error.message, delivery: error.delivery ?? null };
    }
  }

  /** What an answer means for the message and its subscription. */
  #judge(subscription: SubscriptionRow, message: MessageRow, attempts: number, answer: Answer): Settlement {
    const now = this.#o.clock.now();
    const ended = (status: 'delivered' | 'failed' | 'aborted') => ({ status, attempts, plan: message.plan, next_at: null });
    if (ok(answer.status)) {
      return { message: ended('delivered'), ...(subscription.failing_since === null ? {} : { subscription: { failing_since: null } }) };
    }
    if (answer.status === 410) return { message: ended('failed'), subscription: disable('the receiver answered 410 Gone', now) };
    const failingSince = subscription.failing_since ?? now;
    const failing = subscription.failing_since === null ? { subscription: { failing_since: now } } : {};
    if (now - failingSince >= FAILING_FOR) {
      return { message: ended('failed'), subscription: disable('every delivery failed for 5 days', now) };
    }
    if (answer.headers['webhook-delivery']?.trim().toLowerCase() === 'abort-message') return { message: ended('aborted'), ...failing };
    const next = nextAttemptAt(attempts, now, this.#o.random, retryAfter(answer.headers['retry-after'], now));
    if (next === undefined) return { message: ended('failed'), ...failing };
    return { message: { status: 'pending', attempts, plan: message.plan + 1, next_at: next }, ...failing };
  }

  #disabled(settlement: Settlement): Announce<SubscriptionRow> | undefined {
    if (settlement.subscription?.enabled !== 0) return undefined;
    return (trx, row) => this.#o.bus.record(trx, 'webhook-disabled', [{ ...eventOf(row), reason: row.disabled_reason ?? '' }]);
  }
}

function disable(reason: string, now: number) {
  return { enabled: 0, disabled_reason: reason, failing_since: null, updated_at: now };
}
