import { sql, type Kysely, type Transaction, type Updateable } from 'kysely';
import type { Database } from '../core/db/database.ts';
import type { Announce } from '../core/events/bus.ts';
import type { LiveTables, WorkflowRow } from './migrations.ts';

export type WorkflowPatch = Updateable<WorkflowRow>;

export interface WorkflowFilter {
  job?: string;
  states?: string[];
  /** Epoch ms against the activation: from inclusive, to exclusive. */
  from?: number;
  to?: number;
  /** The last workflow of the previous page. */
  after?: { at: number; id: string };
  limit: number;
}

const PENDING = 'pending';

/** What refuses a window that overlaps `other`, an unfinished workflow of the same job. */
export type Overlap = (other: WorkflowRow) => Error;

/** The jobstartstop workflows: one row each, every change made with its live-workflow-changed in one transaction. */
export class WorkflowStore {
  readonly #db: Kysely<LiveTables>;
  readonly #postgres: boolean;

  constructor(database: Database) {
    this.#db = database.kysely as Kysely<LiveTables>;
    this.#postgres = database.dialect === 'postgres';
  }

  /** Inserts a workflow; with `overlap`, only if no unfinished workflow of its job overlaps it (checked per job, serially). */
  async insert(row: WorkflowRow, announce: Announce<WorkflowRow>, overlap?: Overlap): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      if (overlap) await this.#refuseOverlap(trx, row, overlap);
      await trx.insertInto('live_workflows').values(row).execute();
      await announce(trx, row);
    });
  }

  async get(id: string): Promise<WorkflowRow | undefined> {
    return this.#db.selectFrom('live_workflows').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Changes a workflow as `change` decides from its row read under a lock: undefined from it leaves the row as it is
   * (the change no longer applies) and answers undefined. With `guard`, the changed window must not overlap another
   * unfinished workflow of `guard.job` (checked per job, serially).
   */
  async change(id: string, change: (row: WorkflowRow) => WorkflowPatch | undefined, announce: Announce<WorkflowRow>,
    guard?: { job: string; overlap: Overlap }): Promise<WorkflowRow | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      if (guard) await this.#serialise(trx, guard.job);
      const row = await this.#locked(trx, id);
      const patch = row && change(row);
      if (!patch) return undefined;
      if (guard) await this.#refuseOverlap(trx, { ...row, ...patch } as WorkflowRow, guard.overlap);
      const changed = await trx.updateTable('live_workflows').set(patch).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      await announce(trx, changed);
      return changed;
    });
  }

  async list(filter: WorkflowFilter): Promise<WorkflowRow[]> {
    const { job, states, from, to, after, limit } = filter;
    return this.#db.selectFrom('live_workflows').selectAll()
      .$if(job !== undefined, (q) => q.where('job_id', '=', job!))
      .$if(states !== undefined, (q) => q.where((eb) => eb.or([eb('activation_state', 'in', states!), eb('deactivation_state', 'in', states!)])))
      .$if(from !== undefined, (q) => q.where('activation_at', '>=', from!))
      .$if(to !== undefined, (q) => q.where('activation_at', '<', to!))
      .$if(after !== undefined, (q) => q.where((eb) => eb.or([
        eb('activation_at', '>', after!.at), eb.and([eb('activation_at', '=', after!.at), eb('id', '>', after!.id)]),
      ])))
      .orderBy('activation_at').orderBy('id').limit(limit).execute();
  }

  async unfinishedOf(job: string): Promise<WorkflowRow[]> {
    return this.#unfinished(job).orderBy('activation_at').execute();
  }

  /** Every workflow with a task still pending. */
  async unfinished(): Promise<WorkflowRow[]> {
    return this.#db.selectFrom('live_workflows').selectAll()
      .where((eb) => eb.or([eb('activation_state', '=', PENDING), eb('deactivation_state', '=', PENDING)])).execute();
  }

  /** Another workflow of the job whose activation has fired and whose deactivation has not: its window is under way. */
  async underWay(job: string, except: string): Promise<WorkflowRow | undefined> {
    return this.#db.selectFrom('live_workflows').selectAll()
      .where('job_id', '=', job).where('id', '!=', except)
      .where('activation_state', '=', 'finished').where('deactivation_state', '=', PENDING)
      .executeTakeFirst();
  }

  /** One checker of overlaps per job at a time: PostgreSQL locks the job for the transaction; SQLite runs one transaction at a time. */
  async #serialise(trx: Transaction<LiveTables>, job: string): Promise<void> {
    if (this.#postgres) await sql`SELECT pg_advisory_xact_lock(hashtext(${`live job ${job}`}))`.execute(trx);
  }

  /** Refuses `row` when an unfinished workflow of its job (another one) meets [activation, deactivation). */
  async #refuseOverlap(trx: Transaction<LiveTables>, row: WorkflowRow, overlap: Overlap): Promise<void> {
    await this.#serialise(trx, row.job_id);
    const other = await this.#unfinished(row.job_id, trx)
      .where('activation_at', '<', row.deactivation_at).where('deactivation_at', '>', row.activation_at)
      .where('id', '!=', row.id).orderBy('activation_at').executeTakeFirst();
    if (other) throw overlap(other);
  }

  #unfinished(job: string, db: Kysely<LiveTables> = this.#db) {
    return db.selectFrom('live_workflows').selectAll().where('job_id', '=', job)
      .where((eb) => eb.or([eb('activation_state', '=', PENDING), eb('deactivation_state', '=', PENDING)]));
  }

  async #locked(trx: Transaction<LiveTables>, id: string): Promise<WorkflowRow | undefined> {
    return trx.selectFrom('live_workflows').selectAll().where('id', '=', id)
      .$if(this.#postgres, (q) => q.forUpdate()).executeTakeFirst();
  }
}
