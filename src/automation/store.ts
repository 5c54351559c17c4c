import { sql, type Kysely } from 'kysely';
import { chunks, type Database } from '../core/db/database.ts';
import type { AutomationTables, BroadcastRow } from './migrations.ts';

/** Identity of an automated broadcast: the instance (event, naive local start) at its moment in time. */
export interface BroadcastKey {
  event: string;
  start: string;
  startsAt: number;
}

export interface Broadcast extends BroadcastKey {
  task: string | null;
  claimedAt: number;
}

export const keyOf = (k: BroadcastKey): string => `${k.event}\u0000${k.start}\u0000${k.startsAt}`;

const toBroadcast = (row: BroadcastRow): Broadcast => ({
  event: row.event_id, start: row.instance_start, startsAt: Number(row.starts_at), task: row.task_id, claimedAt: Number(row.claimed_at),
});

type Db = Kysely<AutomationTables>;
// Three bound values per key: stay under SQLite's limit of bound parameters per statement.
const CHUNK = 300;

/** All SQL of the automation; the same statements serve SQLite and PostgreSQL. */
export class BroadcastStore {
  readonly #db: Db;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
  }

  async all(): Promise<Broadcast[]> {
    const rows = await this.#db.selectFrom('automation_broadcasts').selectAll().orderBy('starts_at').orderBy('event_id').execute();
    return rows.map(toBroadcast);
  }

  /**
   * Inserts a row for each key nobody holds yet and answers those it inserted: the caller, and only the
   * caller, creates their tasks. Concurrent synchronizers meet on the primary key.
   */
  async claim(keys: BroadcastKey[], now: number): Promise<BroadcastKey[]> {
    const claimed: BroadcastKey[] = [];
    for (const part of chunks(keys, CHUNK)) {
      const rows = await this.#db.insertInto('automation_broadcasts')
        .values(part.map((k) => ({ event_id: k.event, instance_start: k.start, starts_at: k.startsAt, task_id: null, claimed_at: now })))
        .onConflict((oc) => oc.doNothing())
        .returning(['event_id', 'instance_start', 'starts_at']).execute();
      claimed.push(...rows.map((r) => ({ event: r.event_id, start: r.instance_start, startsAt: Number(r.starts_at) })));
    }
    return claimed;
  }

  /** Takes over a claim whose task was never created (its claimer died); true if this caller got it. */
  async reclaim(key: Broadcast, now: number): Promise<boolean> {
    const result = await this.#where(this.#db.updateTable('automation_broadcasts').set({ claimed_at: now }), key)
      .where('task_id', 'is', null).where('claimed_at', '=', key.claimedAt).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records the tasks created for claimed keys; answers the keys whose row was removed meanwhile. */
  async attach(tasks: Array<{ key: BroadcastKey; task: string }>): Promise<BroadcastKey[]> {
    return this.#db.transaction().execute(async (trx) => {
      const attached = new Set<string>();
      // One statement per few hundred rows, joining the new ids in as a table of values (SQLite and PostgreSQL alike).
      for (const part of chunks(tasks, 500)) {
        const values = sql.join(part.map(({ key, task }) => sql`(${key.event}, ${key.start}, CAST(${key.startsAt} AS bigint), ${task})`));
        const { rows } = await sql<{ task_id: string }>`
          WITH v(event_id, instance_start, starts_at, task) AS (VALUES ${values})
          UPDATE automation_broadcasts SET task_id = v.task FROM v
          WHERE automation_broadcasts.event_id = v.event_id AND automation_broadcasts.instance_start = v.instance_start
            AND automation_broadcasts.starts_at = v.starts_at AND automation_broadcasts.task_id IS NULL
          RETURNING automation_broadcasts.task_id`.execute(trx);
        for (const row of rows) attached.add(row.task_id);
      }
      return tasks.filter((t) => !attached.has(t.task)).map((t) => t.key);
    });
  }

  async remove(keys: BroadcastKey[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#db.transaction().execute(async (trx) => {
      for (const key of keys) await this.#where(trx.deleteFrom('automation_broadcasts'), key).execute();
    });
  }

  #where<Q extends { where: (...args: any[]) => any }>(query: Q, key: BroadcastKey): Q {
    return query.where('event_id', '=', key.event).where('instance_start', '=', key.start).where('starts_at', '=', key.startsAt);
  }
}
