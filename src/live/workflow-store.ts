import type { Kysely, Transaction, Updateable } from 'kysely';
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

/** The jobstartstop workflows: one row each, every change made with its live-workflow-changed in one transaction. */
export class WorkflowStore {
  readonly #db: Kysely<LiveTables>;
  readonly #postgres: boolean;

  constructor(database: Database) {
    this.#db = database.kysely as Kysely<LiveTables>;
    this.#postgres = database.dialect === 'postgres';
  }

  async insert(row: WorkflowRow, announce: Announce<WorkflowRow>): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('live_workflows').values(row).execute();
      await announce(trx, row);
    });
  }

  async get(id: string): Promise<WorkflowRow | undefined> {
    return this.#db.selectFrom('live_workflows').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Changes a workflow as `change` decides from its row read under a lock: undefined from it leaves the row as it is
   * (the change no longer applies) and answers undefined.
   */
  async change(id: string, change: (row: WorkflowRow) => WorkflowPatch | undefined, announce: Announce<WorkflowRow>): Promise<WorkflowRow | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await this.#locked(trx, id);
      const patch = row && change(row);
      if (!patch) return undefined;
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

  /** The job's unfinished workflows (a task still pending) whose window meets [activation, deactivation), but `except`. */
  async overlapping(job: string, activation: number, deactivation: number, except?: string): Promise<WorkflowRow | undefined> {
    return this.#unfinished(job)
      .where('activation_at', '<', deactivation).where('deactivation_at', '>', activation)
      .$if(except !== undefined, (q) => q.where('id', '!=', except!))
      .orderBy('activation_at').executeTakeFirst();
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

  #unfinished(job: string) {
    return this.#db.selectFrom('live_workflows').selectAll().where('job_id', '=', job)
      .where((eb) => eb.or([eb('activation_state', '=', PENDING), eb('deactivation_state', '=', PENDING)]));
  }

  async #locked(trx: Transaction<LiveTables>, id: string): Promise<WorkflowRow | undefined> {
    return trx.selectFrom('live_workflows').selectAll().where('id', '=', id)
      .$if(this.#postgres, (q) => q.forUpdate()).executeTakeFirst();
  }
}
