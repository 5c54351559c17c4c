import { CompiledQuery, sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Logger } from 'pino';
import { cooperate } from '../cooperate.ts';
import { chunks, type Database } from '../db/database.ts';
import type { EventRow, EventTables } from './migrations.ts';

/**
 * Events that record a committed change, with their data. Each is written to the outbox in the transaction of its
 * change and gets a global, increasing id. Each area adds its own with declaration merging:
 * `declare module '../core/events/bus.ts' { interface EventMap { 'my-event': MyData } }`.
 */
export interface EventMap {}

/** High-rate events that may be lost (a progress report): kept in memory, shared with the other instances, no id. */
export interface LossyEventMap {}

export type EventType = keyof EventMap & string;
export type LossyEventType = keyof LossyEventMap & string;

export interface BusEvent {
  /** The outbox id, the same on every instance; undefined for a lossy event. */
  id: number | undefined;
  type: string;
  /** The node id of the instance where it happened. */
  origin: string;
  createdAt: string;
  data: unknown;
}

/**
 * Records, in the transaction of a change, the events that tell of it (with EventBus.record): a store calls it once
 * the change is made, with what the change answers.
 */
export type Announce<R = void> = (trx: Transaction<any>, change: R) => Promise<void>;

/** Several announcements made as one, in order. */
export function together(...announcements: Announce[]): Announce {
  return async (trx) => {
    for (const announce of announcements) await announce(trx);
  };
}

type Handler = (event: BusEvent) => void;

interface Envelope {
  origin: string;
  events: Array<Pick<BusEvent, 'type' | 'createdAt' | 'data'>>;
}

/** NOTIFY: the outbox has new events from the instance named in the payload. */
const WAKE_CHANNEL = 'onair_events';
/** NOTIFY: lossy events, as they are (payload: an Envelope). */
const LOSSY_CHANNEL = 'onair_events_lossy';
// PostgreSQL's NOTIFY payload limit is 8000 bytes.
const MAX_PAYLOAD = 7900;
/**
 * PostgreSQL advisory lock: every transaction that writes to the outbox holds it shared from just before its insert
 * until its commit; a reader takes it exclusively for a moment to learn up to which id every event is settled.
 */
const ORDER_LOCK = 0x6f6e6169;
const READ_BATCH = 1000;
const WRITE_BATCH = 1000;
const CLEAN_BATCH = 5000;
/** A wake lost (the LISTEN connection dropped) is made up this soon. */
const POLL_MS = 1000;
/** Recent events kept in memory, so that a client resuming after a short absence costs no database read. */
const RECENT = 10_000;

/**
 * Delivers events in-process and to the other instances sharing the database. Durable events are written to the
 * outbox (`onair_events`) in the transaction of their change; every instance, the writer included, delivers them by
 * reading the outbox after a wake-up (its own write, or a NOTIFY from the instance that wrote), so that all deliver the
 * same events in the same order, each once. Lossy events are delivered at once and shared by one NOTIFY per tick.
 *
 * A sequence hands out ids at insert, not at commit, so on PostgreSQL a reader could see id 11 committed before id
 * 10 and skip 10 for good. Readers therefore read only up to the settled id: the highest id once every writer that
 * holds the order lock (shared, from just before its insert to its commit) is done, which taking the lock exclusively
 * for a moment waits for. Writers never wait for each other, only for that moment. SQLite has one connection: a read
 * runs between transactions, and everything it sees is settled.
 */
export class EventBus {
  #handlers = new Set<Handler>();
  #db: Kysely<EventTables>;
  #postgres: boolean;
  #notifier: Database['notifier'];
  #origin: string;
  #logger: Logger;
  #now: () => number;
  /** The id of the last durable event delivered here. */
  #delivered = 0;
  /** The last events delivered here, in order: every one with an id above `#recentAfter`. */
  #recent: BusEvent[] = [];
  #recentAfter = 0;
  #started = false;
  #reading: Promise<void> | undefined;
  #readAgain = false;
  #poll: NodeJS.Timeout | undefined;
  #inserts = new Map<number, string>();
  #lossy: Envelope['events'] = [];
  #sharing = false;

  constructor(options: { database: Database; origin: string; logger: Logger; now?: () => number }) {
    this.#db = options.database.kysely as Kysely<EventTables>;
    this.#postgres = options.database.dialect === 'postgres';
    this.#notifier = options.database.notifier;
    this.#origin = options.origin;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#notifier.listen(WAKE_CHANNEL, (origin) => {
      if (origin !== this.#origin) this.#wake();
    });
    this.#notifier.listen(LOSSY_CHANNEL, (payload) => this.#receive(payload));
  }

  get origin(): string {
    return this.#origin;
  }

  /** The id of the last durable event delivered here: later ones reach subscribers as they are read. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Delivers from the end of the outbox on: what was recorded before is there for `since`. */
  async start(): Promise<void> {
    this.#delivered = this.#recentAfter = await this.#settled();
    this.#started = true;
    this.#poll = setInterval(() => this.#wake(), POLL_MS);
    this.#poll.unref();
  }

  async stop(): Promise<void> {
    this.#started = false;
    clearInterval(this.#poll);
    await this.#reading;
  }

  /**
   * Writes events of one type to the outbox in `trx`, the transaction of the change they record; they are delivered
   * once it commits. On PostgreSQL it holds the order lock until the commit: make it the last statement of the
   * transaction, so that readers wait for no more than the commit. Given the database rather than a transaction, it
   * writes in a transaction of its own.
   */
  async record<K extends EventType>(trx: Kysely<any>, type: K, data: ReadonlyArray<EventMap[K]>): Promise<void> {
    if (data.length === 0) return;
    if (!trx.isTransaction) return trx.transaction().execute((own) => this.record(own, type, data));
    const createdAt = this.#now();
    for (const run of chunks(data, WRITE_BATCH)) {
      await trx.executeQuery(CompiledQuery.raw(this.#insert(run.length), [...run.map((d) => JSON.stringify(d)), type, this.#origin, createdAt]));
    }
    // The read this asks for waits for the transaction to end: SQLite's one connection is the transaction's until
    // then, and PostgreSQL's order lock is held shared by it.
    this.#wake();
  }

  /** Delivers a lossy event here at once, and to the other instances with the next notification. */
  publish<K extends LossyEventType>(type: K, data: LossyEventMap[K]): void {
    const event = { type, createdAt: new Date(this.#now()).toISOString(), data };
    this.#lossy.push(event);
    if (!this.#sharing) {
      this.#sharing = true;
      setImmediate(() => this.#share());
    }
    this.#deliver({ id: undefined, origin: this.#origin, ...event });
  }

  subscribe(handler: Handler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /**
   * At most `limit` durable events after `after` that were delivered here already, oldest first, as far back as the
   * outbox keeps them (the recent ones from memory); `through` is the id they account for up to (past the last one
   * when there are gaps).
   */
  async since(after: number, limit: number): Promise<{ events: BusEvent[]; through: number }> {
    const bound = this.#delivered;
    if (after >= bound) return { events: [], through: after };
    const events = after >= this.#recentAfter ? this.#recentSince(after, limit) : await this.#read(after, bound, limit);
    return { events, through: events.length === limit ? events.at(-1)!.id! : bound };
  }

  /** The highest id the daily clean has removed (0 when none): a client resuming from before it missed events. */
  async cleanedThrough(): Promise<number> {
    const row = await this.#db.selectFrom('onair_events_horizon').select('cleaned_through').executeTakeFirstOrThrow();
    return Number(row.cleaned_through);
  }

  /** Removes the events created before `before`, a batch at a time, from the outbox and from memory; answers how many. */
  async clean(before: number): Promise<number> {
    const turn = cooperate();
    let removed = 0;
    for (;;) {
      await turn();
      const ids = await this.#db.transaction().execute(async (trx) => {
        const gone = await trx.deleteFrom('onair_events').where('id', 'in', (eb) =>
          eb.selectFrom('onair_events').select('id').where('created_at', '<', before).limit(CLEAN_BATCH)).returning('id').execute();
        const through = gone.reduce((last, { id }) => Math.max(last, Number(id)), 0);
        await trx.updateTable('onair_events_horizon').set({ cleaned_through: through }).where('cleaned_through', '<', through).execute();
        return { count: gone.length, through };
      });
      removed += ids.count;
      this.#forgetThrough(ids.through);
      if (ids.count < CLEAN_BATCH) return removed;
    }
  }

  /** Where the recent events after `id` begin. */
  #recentIndex(id: number): number {
    let low = 0;
    let high = this.#recent.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#recent[middle]!.id! <= id) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #recentSince(after: number, limit: number): BusEvent[] {
    const from = this.#recentIndex(after);
    return this.#recent.slice(from, from + limit);
  }

  #remember(event: BusEvent): void {
    this.#recent.push(event);
    if (this.#recent.length >= 2 * RECENT) this.#forgetThrough(this.#recent[RECENT - 1]!.id!);
  }

  /** Forgets the recent events up to `id`: a replay from before it reads the outbox. */
  #forgetThrough(id: number): void {
    this.#recent.splice(0, this.#recentIndex(id));
    this.#recentAfter = Math.max(this.#recentAfter, id);
  }

  /**
   * The insert of `count` events of one type, as SQL: what they share is bound once, each adds only its data (the
   * events of a batch of tasks cost one short statement). Rows go in VALUES order, so ids follow the order given. On
   * PostgreSQL the same statement takes the order lock shared: each row comes out of the join with it, so its id is
   * taken once the lock is held (taken again by a transaction that holds it, it is granted at once).
   */
  #insert(count: number): string {
    let text = this.#inserts.get(count);
    if (text === undefined) {
      const at = (n: number) => (this.#postgres ? `$${n}` : '?');
      const rows = Array.from({ length: count }, (_, i) => `(${at(i + 1)})`).join(', ');
      const [ordered, joined] = this.#postgres
        ? [`ordered AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(${ORDER_LOCK})), `, ' CROSS JOIN ordered'] : ['', ''];
      text = `WITH ${ordered}v (d) AS (VALUES ${rows}) INSERT INTO onair_events (type, origin, created_at, data) `
        + `SELECT ${at(count + 1)}, ${at(count + 2)}, CAST(${at(count + 3)} AS bigint), d FROM v${joined}`;
      this.#inserts.set(count, text);
    }
    return text;
  }

  async #read(after: number, through: number, limit: number): Promise<BusEvent[]> {
    const rows = await this.#db.selectFrom('onair_events').selectAll().where('id', '>', after).where('id', '<=', through)
      .orderBy('id').limit(limit).execute();
    return rows.map(toEvent);
  }

  /**
   * The highest id at or below which every event is committed or will never be. On PostgreSQL a function takes the
   * order lock and then reads the highest id in a statement of its own (a volatile function's statements each take a
   * fresh snapshot), which holds every writer that finished while the lock was awaited: read in the statement that
   * waited, they would be seen as they were when it began, and their events would wait for a later wake.
   */
  async #settled(): Promise<number> {
    const query = this.#postgres ? sql<{ last: number | null }>`SELECT onair_events_settled(${ORDER_LOCK}) AS last`
      : sql<{ last: number | null }>`SELECT max(id) AS last FROM onair_events`;
    return Number((await query.execute(this.#db)).rows[0]?.last ?? 0);
  }

  /** Reads what the outbox has after the last event delivered, soon, once for any number of wakes meanwhile. */
  #wake(): void {
    this.#readAgain = true;
    if (this.#reading || !this.#started) return;
    this.#reading = this.#catchUp().finally(() => {
      this.#reading = undefined;
      if (this.#readAgain) this.#wake();
    });
  }

  async #catchUp(): Promise<void> {
    const turn = cooperate();
    try {
      while (this.#readAgain && this.#started) {
        this.#readAgain = false;
        // On SQLite whatever a read sees is settled.
        const through = this.#postgres ? await this.#settled() : Number.MAX_SAFE_INTEGER;
        const events = await this.#read(this.#delivered, through, READ_BATCH);
        for (const event of events) {
          await turn();
          this.#delivered = event.id!;
          this.#remember(event);
          this.#deliver(event);
        }
        if (events.length === READ_BATCH) this.#readAgain = true;
        if (events.some((e) => e.origin === this.#origin)) this.#tellOthers();
      }
    } catch (err) {
      this.#readAgain = false;
      this.#logger.warn({ err }, 'could not read new events; trying again shortly');
    }
  }

  /** Wakes the other instances: events written here are settled. */
  #tellOthers(): void {
    if (!this.#postgres) return;
    this.#notifier.notify(WAKE_CHANNEL, this.#origin).catch((err: unknown) =>
      this.#logger.warn({ err }, 'could not wake the other instances; they read the new events within a second'));
  }

  #deliver(event: BusEvent): void {
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (err) {
        this.#logger.error({ err, type: event.type }, 'event handler failed');
      }
    }
  }

  #share(): void {
    this.#sharing = false;
    const events = this.#lossy;
    this.#lossy = [];
    if (!this.#postgres) return;
    let batch: Envelope['events'] = [];
    const send = () => {
      if (batch.length === 0) return;
      const payload = JSON.stringify({ origin: this.#origin, events: batch } satisfies Envelope);
      batch = [];
      this.#notifier.notify(LOSSY_CHANNEL, payload).catch((err: unknown) =>
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
    for (const event of envelope.events) this.#deliver({ id: undefined, origin: envelope.origin, ...event });
  }
}

/** The events of one record share their time: its text is made once for them. */
let lastTime = { ms: NaN, text: '' };

function toEvent(row: Selectable<EventRow>): BusEvent {
  const ms = Number(row.created_at);
  if (ms !== lastTime.ms) lastTime = { ms, text: new Date(ms).toISOString() };
  return { id: Number(row.id), type: row.type, origin: row.origin, createdAt: lastTime.text, data: JSON.parse(row.data) };
}
