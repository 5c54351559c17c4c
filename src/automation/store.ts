import type { Kysely } from 'kysely';
import { chunks, type Database } from '../core/db/database.ts';
import type { AutomationTables, BroadcastRow } from './migrations.ts';

/** Identity of an automated broadcast: the instance (event, naive local start) at its moment in time. */
export interface BroadcastKey {
  event: string;
  start: string;
  startsAt: number;
}

/** A claimed instance and the id of its stream task, chosen before the task is created. */
export interface PlannedBroadcast {
  key: BroadcastKey;
  task: string;
}

export interface Broadcast extends BroadcastKey {
  task: string;
  claimedAt: number;
  /** Its task was seen to exist: if it is missing now, it was removed (not still being created). */
  taskCreated: boolean;
}

const indexOf = (keys: BroadcastKey[], key: BroadcastKey): number => keys.findIndex((k) => k.event === key.event && k.start === key.start);

/**
 * A set of broadcast keys, found by their moment first and then compared: a Map of composite string keys took
 * 50-200 ms of each steady sync at 30,000 instances to build and hash them, this 20-60 ms.
 */
export class BroadcastKeys {
  readonly #at = new Map<number, BroadcastKey[]>();

  /** Adds `key` unless an equal one is there. */
  add(key: BroadcastKey): void {
    const same = this.#at.get(key.startsAt);
    if (!same) this.#at.set(key.startsAt, [key]);
    else if (indexOf(same, key) < 0) same.push(key);
  }

  /** Removes the key equal to `key`; answers whether there was one. */
  delete(key: BroadcastKey): boolean {
    const same = this.#at.get(key.startsAt);
    const index = same ? indexOf(same, key) : -1;
    if (index < 0) return false;
    if (same!.length === 1) this.#at.delete(key.startsAt);
    else same!.splice(index, 1);
    return true;
  }

  values(): BroadcastKey[] {
    return [...this.#at.values()].flat();
  }
}

const toBroadcast = (row: BroadcastRow): Broadcast => ({
  event: row.event_id, start: row.instance_start, startsAt: Number(row.starts_at), task: row.task_id, claimedAt: Number(row.claimed_at),
  taskCreated: Number(row.task_created) === 1,
});

type Db = Kysely<AutomationTables>;
// Six bound values per row: stay well under SQLite's limit of bound parameters per statement.
const CHUNK = 1000;

/** All SQL of the automation; the same statements serve SQLite and PostgreSQL. */
export class BroadcastStore {
  readonly #db: Db;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
  }

  /** Every broadcast, by start. */
  async all(): Promise<Broadcast[]> {
    return (await this.#every().orderBy('starts_at').orderBy('event_id').execute()).map(toBroadcast);
  }

  /** Every broadcast in no order, for comparing as a set: sorting 30,000 cost PostgreSQL 50 ms. */
  async held(): Promise<Broadcast[]> {
    return (await this.#every().execute()).map(toBroadcast);
  }

  #every() {
    return this.#db.selectFrom('automation_broadcasts').selectAll();
  }

  /**
   * Inserts a row for each planned broadcast whose instance nobody holds yet and answers those it inserted:
   * the caller, and only the caller, creates their tasks. Concurrent synchronizers meet on the primary key.
   */
  async claim(planned: PlannedBroadcast[], now: number): Promise<PlannedBroadcast[]> {
    const claimed = new Set<string>();
    for (const part of chunks(planned, CHUNK)) {
      const rows = await this.#db.insertInto('automation_broadcasts')
        .values(part.map(({ key, task }) => ({ event_id: key.event, instance_start: key.start, starts_at: key.startsAt, task_id: task, claimed_at: now, task_created: 0 })))
        .onConflict((oc) => oc.doNothing())
        .returning('task_id').execute();
      for (const row of rows) claimed.add(row.task_id);
    }
    return planned.filter((p) => claimed.has(p.task));
  }

  /** Notes that the tasks of these claims exist. */
  async markCreated(tasks: string[]): Promise<void> {
    for (const part of chunks(tasks, CHUNK)) {
      await this.#db.updateTable('automation_broadcasts').set({ task_created: 1 }).where('task_id', 'in', part).execute();
    }
  }

  /** Lets broadcasts go; a row claimed anew since (another task id) stays. */
  async remove(broadcasts: Broadcast[]): Promise<void> {
    if (broadcasts.length === 0) return;
    await this.#db.transaction().execute(async (trx) => {
      for (const b of broadcasts) {
        await trx.deleteFrom('automation_broadcasts').where('event_id', '=', b.event).where('instance_start', '=', b.start)
          .where('starts_at', '=', b.startsAt).where('task_id', '=', b.task).execute();
      }
    });
  }
}
