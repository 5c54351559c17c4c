import type { Logger } from 'pino';
import type { Notifier } from '../db/notifier.ts';

/**
 * Every event type and its data. Each area adds its own with declaration merging:
 * `declare module '../core/events/bus.ts' { interface EventMap { 'my-event': MyData } }`.
 */
export interface EventMap {}

export type EventType = keyof EventMap & string;

export interface BusEvent {
  id: number;
  type: string;
  createdAt: string;
  data: unknown;
}

type Handler = (event: BusEvent) => void;

interface Envelope {
  origin: string;
  events: Array<Omit<BusEvent, 'id'>>;
}

const CHANNEL = 'onair_events';
// PostgreSQL's NOTIFY payload limit is 8000 bytes.
const MAX_PAYLOAD = 7900;
const HISTORY = 10_000;

/**
 * In-process publish/subscribe with a replay history for SSE resumption. Events published here also
 * reach the buses of other instances sharing the database, batched into one notification per tick.
 */
export class EventBus {
  #handlers = new Set<Handler>();
  /** A ring: event n sits at n % HISTORY. */
  #history: BusEvent[] = [];
  #nextId = 1;
  #outbox: Array<Omit<BusEvent, 'id'>> = [];
  #flushing = false;
  #origin: string;
  #notifier: Notifier;
  #logger: Logger;
  #now: () => number;

  constructor(options: { notifier: Notifier; origin: string; logger: Logger; now?: () => number }) {
    this.#notifier = options.notifier;
    this.#origin = options.origin;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#notifier.listen(CHANNEL, (payload) => this.#receive(payload));
  }

  publish<K extends EventType>(type: K, data: EventMap[K]): BusEvent {
    const event = { type, createdAt: new Date(this.#now()).toISOString(), data };
    this.#outbox.push(event);
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => this.#flush());
    }
    return this.#deliver(event);
  }

  subscribe(handler: Handler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** At most `limit` events after `id` still held in the history, oldest first. */
  since(id: number, limit: number): BusEvent[] {
    const events: BusEvent[] = [];
    for (let next = Math.max(id + 1, this.#nextId - HISTORY); next < this.#nextId && events.length < limit; next++) {
      const event = this.#history[next % HISTORY];
      if (event?.id === next) events.push(event);
    }
    return events;
  }

  #deliver(event: Omit<BusEvent, 'id'>): BusEvent {
    const full = { id: this.#nextId++, ...event };
    this.#history[full.id % HISTORY] = full;
    for (const handler of this.#handlers) {
      try {
        handler(full);
      } catch (err) {
        this.#logger.error({ err, type: event.type }, 'event handler failed');
      }
    }
    return full;
  }

  #flush(): void {
    this.#flushing = false;
    const events = this.#outbox;
    this.#outbox = [];
    let batch: Envelope['events'] = [];
    const send = () => {
      if (batch.length === 0) return;
      const payload = JSON.stringify({ origin: this.#origin, events: batch } satisfies Envelope);
      batch = [];
      this.#notifier.notify(CHANNEL, payload).catch((err: unknown) =>
        this.#logger.warn({ err }, 'could not share events with other instances'));
    };
    let size = 0;
    for (const event of events) {
      const length = Buffer.byteLength(JSON.stringify(event));
      if (length > MAX_PAYLOAD - 100) {
        this.#logger.warn({ type: event.type, bytes: length }, 'event too large to share with other instances');
        continue;
      }
      if (size + length > MAX_PAYLOAD - 100) {
        send();
        size = 0;
      }
      batch.push(event);
      size += length + 1;
    }
    send();
  }

  #receive(payload: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
    } catch {
      return;
    }
    if (envelope.origin === this.#origin) return;
    for (const event of envelope.events) this.#deliver(event);
  }
}
