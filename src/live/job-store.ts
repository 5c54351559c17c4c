import type { Kysely, Updateable } from 'kysely';
import type { Database } from '../core/db/database.ts';
import type { Announce } from '../core/events/bus.ts';
import type { JobRow, LiveTables } from './migrations.ts';

type Db = Kysely<LiveTables>;

/** Where a page of jobs starts: after this job, newest first. */
export interface JobCursor {
  created_at: number;
  id: string;
}

/** Sep states of a job whose ingest is open, or being opened or closed. */
export const ACTIVE_SEP_STATES = ['pending_activation', 'activation_in_progress', 'waiting', 'pending_deactivation', 'deactivation_in_progress'];

const numeric = (row: JobRow): JobRow => ({
  ...row, record: Number(row.record), reconnect_time: Number(row.reconnect_time), max_waiting_time: Number(row.max_waiting_time),
  activated_at: row.activated_at === null ? null : Number(row.activated_at), created_at: Number(row.created_at), updated_at: Number(row.updated_at),
});

/** All SQL of live jobs; the same statements serve SQLite and PostgreSQL. */
export class JobStore {
  readonly #db: Db;
  readonly #lockRows: boolean;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
    // SQLite has one writer at a time; PostgreSQL needs the row locked between reading and changing it.
    this.#lockRows = database.dialect !== 'sqlite';
  }

  async create(row: JobRow, announce: Announce<JobRow>): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('live_jobs').values(row).execute();
      await announce(trx, row);
    });
  }

  async get(id: string): Promise<JobRow | undefined> {
    const row = await this.#db.selectFrom('live_jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && numeric(row);
  }

  /** Newest first, after `cursor`, in the states given (all when none). */
  async list(options: { states: string[]; limit: number; after?: JobCursor }): Promise<JobRow[]> {
    let query = this.#db.selectFrom('live_jobs').selectAll();
    if (options.states.length > 0) query = query.where('state', 'in', options.states);
    const { after } = options;
    if (after) {
      query = query.where((eb) => eb.or([
        eb('created_at', '<', after.created_at),
        eb.and([eb('created_at', '=', after.created_at), eb('id', '<', after.id)]),
      ]));
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit).execute();
    return rows.map(numeric);
  }

  /** This node's jobs whose ingest was open (or being opened or closed) when it stopped. */
  async active(node: string): Promise<JobRow[]> {
    const rows = await this.#db.selectFrom('live_jobs').selectAll().where('node', '=', node).where('sep_state', 'in', ACTIVE_SEP_STATES).execute();
    return rows.map(numeric);
  }

  /**
   * Reads the job, asks `decide` for its change (undefined: none) and makes it with its announcement, in one
   * transaction; answers the row as it is afterwards (undefined when there is no such job).
   */
  async change(id: string, decide: (row: JobRow) => Updateable<JobRow> | undefined, announce: Announce<JobRow>): Promise<{ row: JobRow; changed: boolean } | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      let read = trx.selectFrom('live_jobs').selectAll().where('id', '=', id);
      if (this.#lockRows) read = read.forUpdate();
      const found = await read.executeTakeFirst();
      if (!found) return undefined;
      const current = numeric(found);
      const patch = decide(current);
      if (!patch) return { row: current, changed: false };
      const row = numeric(await trx.updateTable('live_jobs').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow());
      await announce(trx, row);
      return { row, changed: true };
    });
  }
}
