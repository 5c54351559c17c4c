import { sql, type ExpressionBuilder, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import { chunks, textArray, type Database, type Dialect } from '../core/db/database.ts';
import type { Announce } from '../core/events/bus.ts';
import type { TaskRow, TaskTables } from './migrations.ts';
import { FINISHED, UNFINISHED, type Status, type TaskRecord } from './model.ts';

export interface NewTask {
  id: string;
  operation: { type: string; parameters: Record<string, unknown> };
  condition: { type: string; parameters: Record<string, unknown> };
  dependencies: Record<string, string>;
  node?: string;
  dueAt: number;
  enqueuedAt: number;
}

export type Outcome = { completed: number; result: unknown } | { failed: number; error: string };

export interface Ending {
  id: string;
  operation: string;
  owner: string;
  epoch: number;
  outcome: Outcome;
}

/** A task failed because a task it depends on did not complete. */
export interface FailedDependent {
  id: string;
  operation: string;
  error: string;
}

/** Where a list stopped: the enqueue time and id of the last task it gave. */
export interface ListPosition {
  enqueued: number;
  id: string;
}

export interface Listed extends ListPosition {
  status: Status;
}

export interface Claimed {
  record: TaskRecord;
  epoch: number;
}

const PENDING: Status[] = ['queued', 'waiting'];

function toRecord(row: Selectable<TaskRow>): TaskRecord {
  return {
    task: {
      id: row.id,
      operation: { type: row.operation_type, parameters: JSON.parse(row.operation_parameters) },
      condition: { type: row.condition_type, parameters: JSON.parse(row.condition_parameters) },
      dependencies: JSON.parse(row.dependencies),
      ...(row.node === null ? {} : { node: row.node }),
    },
    status: row.status as Status,
    dueAt: Number(row.due_at),
    enqueued: Number(row.enqueued_at),
    dequeued: row.dequeued_at === null ? null : Number(row.dequeued_at),
    slept: row.slept_at === null ? null : Number(row.slept_at),
    started: row.started_at === null ? null : Number(row.started_at),
    cancelled: row.cancelled_at === null ? null : Number(row.cancelled_at),
    failed: row.failed_at === null ? null : Number(row.failed_at),
    completed: row.completed_at === null ? null : Number(row.completed_at),
    error: row.error,
    result: row.result === null ? null : JSON.parse(row.result),
    progress: row.progress === null ? null : JSON.parse(row.progress),
    owner: row.owner,
    epoch: row.epoch,
  };
}

/** Only what a new task has: the other columns keep their defaults (null, epoch 0), and big batches bind fewer values. */
function toRow(task: NewTask): Insertable<TaskRow> {
  return {
    id: task.id,
    operation_type: task.operation.type,
    operation_parameters: JSON.stringify(task.operation.parameters),
    condition_type: task.condition.type,
    condition_parameters: JSON.stringify(task.condition.parameters),
    dependencies: JSON.stringify(task.dependencies),
    status: 'queued',
    ...(task.node === undefined ? {} : { node: task.node }),
    due_at: task.dueAt,
    enqueued_at: task.enqueuedAt,
  };
}

type Db = Kysely<TaskTables>;

/** Tasks pinned to no node, or to `node`. */
function runnableBy(node: string, column: 'node' | 't.node' = 'node') {
  return (eb: ExpressionBuilder<any, any>) => eb.or([eb(column, 'is', null), eb(column, '=', node)]);
}

/** All SQL of the task engine; the same statements serve SQLite and PostgreSQL. */
export class TaskStore {
  readonly #db: Db;
  readonly #dialect: Dialect;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
    this.#dialect = database.dialect;
  }

  async insert(tasks: NewTask[]): Promise<void> {
    await this.#db.transaction().execute(async (trx) => this.#insert(trx, tasks));
  }

  /** Inserts tasks and answers, per task, those of its dependencies that had already failed or been cancelled. */
  async enqueue(tasks: NewTask[], announce: Announce): Promise<Array<Array<{ id: string; status: Status }>>> {
    return this.#db.transaction().execute(async (trx) => {
      await this.#insert(trx, tasks);
      const ids = [...new Set(tasks.flatMap((t) => Object.values(t.dependencies)))];
      const rows = ids.length === 0 ? [] : await trx.selectFrom('tasks').select(['id', 'status'])
        .where('id', 'in', ids).where('status', 'in', ['failed', 'cancelled']).execute();
      await announce(trx);
      const unsuccessful = new Map(rows.map((r) => [r.id, r.status as Status]));
      return tasks.map((t) => Object.values(t.dependencies).filter((id) => unsuccessful.has(id))
        .map((id) => ({ id, status: unsuccessful.get(id)! })));
    });
  }

  async #insert(trx: Transaction<TaskTables>, tasks: NewTask[]): Promise<void> {
    if (tasks.length === 0) return;
    for (const run of chunks(tasks, 3000)) await trx.insertInto('tasks').values(run.map(toRow)).execute();
    const links = tasks.flatMap((t) =>
      Object.entries(t.dependencies).map(([name, dependency]) => ({ task_id: t.id, name, dependency_id: dependency })));
    for (const run of chunks(links, 3000)) await trx.insertInto('task_dependencies').values(run).execute();
  }

  async missing(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const found = await this.#db.selectFrom('tasks').select('id').where('id', 'in', ids).execute();
    const known = new Set(found.map((r) => r.id));
    return ids.filter((id) => !known.has(id));
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const row = await this.#db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  /**
   * The status of each of `ids` that exists (for areas that keep their own task ids, e.g. automation). PostgreSQL takes
   * the ids as one array parameter: 30 IN lists of 1000 parameters took 230-500 ms for 30,000 ids, 3 arrays 80-110.
   */
  async statuses(ids: string[]): Promise<Map<string, Status>> {
    const found = new Map<string, Status>();
    const postgres = this.#dialect === 'postgres';
    for (const run of chunks(ids, postgres ? 10_000 : 1000)) {
      const rows = await this.#db.selectFrom('tasks').select(['id', 'status'])
        .where(postgres ? sql<boolean>`id = any(${textArray(run)}::text[])` : (eb) => eb('id', 'in', run)).execute();
      for (const row of rows) found.set(row.id, row.status as Status);
    }
    return found;
  }

  /**
   * Up to `limit` tasks of `statuses` enqueued after `after`, in enqueue order (ties by id): one walk of the
   * (status, enqueued_at, id) index per status, each reading no more than it may answer.
   */
  /** The first `limit` tasks of `statuses` after `after`, in enqueue order: one snapshot, so a task changing status meanwhile is listed once. */
  async listed(statuses: readonly Status[], limit: number, after?: ListPosition): Promise<Listed[]> {
    const rows = await this.#db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
      const pages = [];
      // Status by status, each read along its (status, enqueued_at) index.
      for (const status of statuses) {
        pages.push(await trx.selectFrom('tasks').select(['id', 'status', 'enqueued_at']).where('status', '=', status)
          .$if(after !== undefined, (q) => q.where((eb) => eb(eb.refTuple('enqueued_at', 'id'), '>', eb.tuple(after!.enqueued, after!.id))))
          .orderBy('enqueued_at').orderBy('id').limit(limit).execute());
      }
      return pages.flat();
    });
    return rows.map((r) => ({ id: r.id, status: r.status as Status, enqueued: Number(r.enqueued_at) }))
      .sort((a, b) => a.enqueued - b.enqueued || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, limit);
  }

  async countByStatus(): Promise<Array<{ status: string; count: number }>> {
    const rows = await this.#db.selectFrom('tasks').select(['status', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy('status').execute();
    return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
  }

  async results(ids: string[]): Promise<Map<string, unknown>> {
    if (ids.length === 0) return new Map();
    const rows = await this.#db.selectFrom('tasks').select(['id', 'result']).where('id', 'in', ids).execute();
    return new Map(rows.map((r) => [r.id, r.result === null ? null : JSON.parse(r.result)]));
  }

  /** The earliest time a pending task that `node` may run becomes due after `now`, if any. */
  async nextDue(node: string, now: number): Promise<number | undefined> {
    // One MIN per status: each is a walk down the (status, due_at) index, past tasks pinned to other nodes.
    const earliest = (status: Status) => this.#db.selectFrom('tasks').select((eb) => eb.fn.min('due_at').as('due'))
      .where('status', '=', status).where('due_at', '>', now).where(runnableBy(node));
    const row = await this.#db.selectFrom(earliest('queued').unionAll(earliest('waiting')).as('m'))
      .select((eb) => eb.fn.min('m.due').as('due')).executeTakeFirst();
    return row?.due == null ? undefined : Number(row.due);
  }

  /**
   * Takes up to `limit` tasks due by `horizon` whose dependencies have all completed and makes them running under
   * `owner` with a fresh lease and fencing epoch; one due later than `now` starts at its due time (its `started_at`).
   * Successors of recurring tasks are inserted in the same transaction, so each occurrence exists exactly once.
   */
  async claim(owner: string, now: number, horizon: number, leaseMs: number, limit: number,
    successor: (record: TaskRecord) => NewTask | undefined, announce: Announce<TaskRecord[]>): Promise<Claimed[]> {
    return this.#db.transaction().execute(async (trx) => {
      const rows = await trx.updateTable('tasks')
        .set((eb) => ({
          status: 'running',
          dequeued_at: eb.fn.coalesce('dequeued_at', sql.val(now)),
          started_at: sql<number>`CASE WHEN due_at > ${now} THEN due_at ELSE ${now} END`,
          owner,
          lease_expires_at: now + leaseMs,
          epoch: eb('epoch', '+', 1),
        }))
        .where('id', 'in', () => {
          const due = trx.selectFrom('tasks as t').select('t.id')
            .where('t.status', 'in', PENDING).where('t.due_at', '<=', horizon).where(runnableBy(owner, 't.node'))
            .where(({ not, exists, selectFrom }) => not(exists(
              selectFrom('task_dependencies as d').innerJoin('tasks as dt', 'dt.id', 'd.dependency_id')
                .select('d.name').whereRef('d.task_id', '=', 't.id').where('dt.status', '<>', 'completed'))))
            .orderBy('t.due_at').limit(limit);
          // The rows come locked (PostgreSQL re-checks them under the lock) or under SQLite's write lock, so the
          // outer statement needs no status filter of its own, which would make SQLite scan every pending row.
          return this.#dialect === 'postgres' ? due.forUpdate().skipLocked() : due;
        })
        .returningAll().execute();
      const records = rows.map(toRecord);
      const successors = records.map(successor).filter((t): t is NewTask => t !== undefined);
      await this.#insert(trx, successors);
      if (records.length > 0) await announce(trx, records);
      return records.map((record) => ({ record, epoch: record.epoch }));
    });
  }

  /** Gives back a task claimed ahead of its time that did not start (its owner is stopping): it waits again. */
  async unclaim(id: string, owner: string, epoch: number, announce: Announce): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const given = await trx.updateTable('tasks').set({ status: 'waiting', owner: null, lease_expires_at: null, started_at: null })
        .where('id', '=', id).where('owner', '=', owner).where('epoch', '=', epoch).where('status', '=', 'running').executeTakeFirst();
      if (Number(given.numUpdatedRows) > 0) await announce(trx);
    });
  }

  /** Moves accepted tasks that are not due yet, or wait on dependencies, to waiting. */
  async dequeue(now: number): Promise<void> {
    await this.#db.updateTable('tasks').set({ status: 'waiting', dequeued_at: now }).where('status', '=', 'queued').execute();
  }

  /**
   * Writes the ends of runs, each unless the task is no longer this owner's at this epoch (fencing), and announces
   * those written. Answers, per ending, whether it was written and whether other tasks depend on the task.
   * A few statements serve the whole batch, whatever its size.
   */
  async finish(endings: Ending[], announce: Announce<Ending[]>): Promise<Array<{ written: boolean; hasDependents: boolean }>> {
    return this.#db.transaction().execute(async (trx) => {
      const written = new Set<string>();
      for (const chunk of chunks(endings, 500)) {
        for (const id of await this.#finishAll(trx, chunk.filter((e) => 'completed' in e.outcome), 'completed')) written.add(id);
        for (const id of await this.#finishAll(trx, chunk.filter((e) => 'failed' in e.outcome), 'failed')) written.add(id);
      }
      const depended = new Set<string>();
      for (const run of chunks([...written], 1000)) {
        const rows = await trx.selectFrom('task_dependencies').select('dependency_id').distinct()
          .where('dependency_id', 'in', run).execute();
        for (const row of rows) depended.add(row.dependency_id);
      }
      if (written.size > 0) await announce(trx, endings.filter((e) => written.has(e.id)));
      return endings.map((e) => ({ written: written.has(e.id), hasDependents: depended.has(e.id) }));
    });
  }

  async #finishAll(trx: Transaction<TaskTables>, endings: Ending[], status: 'completed' | 'failed'): Promise<string[]> {
    if (endings.length === 0) return [];
    const perTask = <T>(type: 'bigint' | 'text', values: unknown[]) => sql<T>`CASE id ${sql.join(
      endings.map((e, i) => sql`WHEN ${e.id} THEN CAST(${values[i]} AS ${sql.raw(type)})`), sql` `)} END`;
    const outcomes = endings.map((e) => e.outcome);
    const set = status === 'completed'
      ? {
        completed_at: perTask<number>('bigint', outcomes.map((o) => ('completed' in o ? o.completed : null))),
        result: perTask<string>('text', outcomes.map((o) => ('completed' in o ? JSON.stringify(o.result ?? null) : null))),
      }
      : {
        failed_at: perTask<number>('bigint', outcomes.map((o) => ('failed' in o ? o.failed : null))),
        error: perTask<string>('text', outcomes.map((o) => ('failed' in o ? o.error : null))),
      };
    const rows = await trx.updateTable('tasks').set({ status, ...set, owner: null, lease_expires_at: null })
      .where('status', '=', 'running')
      .where((eb) => eb.or(endings.map((e) => eb.and([eb('id', '=', e.id), eb('owner', '=', e.owner), eb('epoch', '=', e.epoch)]))))
      .returning('id').execute();
    return rows.map((r) => r.id);
  }

  async setProgress(id: string, owner: string, epoch: number, progress: Record<string, unknown>): Promise<void> {
    await this.#db.updateTable('tasks').set({ progress: JSON.stringify(progress) })
      .where('id', '=', id).where('owner', '=', owner).where('epoch', '=', epoch).where('status', '=', 'running').execute();
  }

  /** Cancels an unfinished task; answers what it was before, or undefined if it had finished or is unknown. */
  async cancel(id: string, now: number, announce: Announce<TaskRecord>): Promise<TaskRecord | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('tasks').selectAll().where('id', '=', id).where('status', 'in', UNFINISHED)
        .$if(this.#dialect === 'postgres', (q) => q.forUpdate()).executeTakeFirst();
      if (!before) return undefined;
      await trx.updateTable('tasks').set({ status: 'cancelled', cancelled_at: now, owner: null, lease_expires_at: null })
        .where('id', '=', id).execute();
      const record = toRecord(before);
      await announce(trx, record);
      return record;
    });
  }

  /** Fails every unfinished task waiting on `dependency`, and those waiting on them, in turn; answers what each became. */
  async failDependents(dependency: string, status: Status, now: number, announce: Announce<FailedDependent[]>): Promise<FailedDependent[]> {
    return this.#db.transaction().execute(async (trx) => {
      const failed: FailedDependent[] = [];
      let frontier: Array<{ id: string; status: Status }> = [{ id: dependency, status }];
      while (frontier.length > 0) {
        const next: FailedDependent[] = [];
        for (const { id, status: depStatus } of frontier) {
          const rows = await trx.updateTable('tasks')
            .set({ status: 'failed', failed_at: now, error: `Dependency ${id} finished with status ${depStatus}.` })
            .where('status', 'in', ['queued', 'waiting', 'sleeping'])
            .where('id', 'in', (eb) => eb.selectFrom('task_dependencies').select('task_id').where('dependency_id', '=', id))
            .returning(['id', 'operation_type', 'error']).execute();
          for (const row of rows) next.push({ id: row.id, operation: row.operation_type, error: row.error! });
        }
        failed.push(...next);
        frontier = next.map((n) => ({ id: n.id, status: 'failed' }));
      }
      if (failed.length > 0) await announce(trx, failed);
      return failed;
    });
  }

  /** Pending tasks one of whose dependencies ended without completing (missed by a concurrent writer). */
  async blockedByFailure(): Promise<Array<{ id: string; status: Status }>> {
    const rows = await this.#db.selectFrom('task_dependencies as d')
      .innerJoin('tasks as t', 't.id', 'd.task_id').innerJoin('tasks as dt', 'dt.id', 'd.dependency_id')
      .select(['dt.id as id', 'dt.status as status']).distinct()
      .where('t.status', 'in', ['queued', 'waiting', 'sleeping']).where('dt.status', 'in', ['failed', 'cancelled']).execute();
    return rows.map((r) => ({ id: r.id, status: r.status as Status }));
  }

  /** Renews the leases of `ids` still running under `owner`; answers those renewed. */
  async renewLeases(owner: string, ids: string[], now: number, leaseMs: number): Promise<string[]> {
    const renewed: string[] = [];
    for (const run of chunks(ids, 1000)) {
      const rows = await this.#db.updateTable('tasks').set({ lease_expires_at: now + leaseMs })
        .where('owner', '=', owner).where('status', '=', 'running').where('id', 'in', run).returning('id').execute();
      renewed.push(...rows.map((r) => r.id));
    }
    return renewed;
  }

  /** Running tasks that `node` may run whose owner stopped renewing its lease. */
  async expired(node: string, now: number): Promise<TaskRecord[]> {
    const rows = await this.#db.selectFrom('tasks').selectAll()
      .where('status', '=', 'running').where('lease_expires_at', '<', now).where(runnableBy(node)).execute();
    return rows.map(toRecord);
  }

  /** Takes over a running task whose lease expired, with a new epoch that fences out the former owner. */
  async takeOver(record: TaskRecord, owner: string, now: number, leaseMs: number, announce: Announce): Promise<number | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.updateTable('tasks')
        .set((eb) => ({ owner, lease_expires_at: now + leaseMs, epoch: eb('epoch', '+', 1) }))
        .where('id', '=', record.task.id).where('status', '=', 'running').where('epoch', '=', record.epoch)
        .where('lease_expires_at', '<', now).returning('epoch').executeTakeFirst();
      if (row) await announce(trx);
      return row?.epoch;
    });
  }

  /** Lets go of this owner's leases at once so that another instance may resume the tasks. */
  async release(owner: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#db.updateTable('tasks').set({ lease_expires_at: 0 })
      .where('owner', '=', owner).where('status', '=', 'running').where('id', 'in', ids).execute();
  }

  /** Expires the leases of running tasks, those of one owner when given. */
  async expireLeases(owner: string | undefined): Promise<void> {
    await this.#db.updateTable('tasks').set({ lease_expires_at: 0 }).where('status', '=', 'running')
      .$if(owner !== undefined, (q) => q.where('owner', '=', owner!)).execute();
  }

  async sleepPending(now: number): Promise<number> {
    const result = await this.#db.updateTable('tasks').set({ status: 'sleeping', slept_at: now })
      .where('status', 'in', PENDING).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async wakeSleeping(): Promise<number> {
    const result = await this.#db.updateTable('tasks').set({ status: 'queued' }).where('status', '=', 'sleeping').executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async registerEngine(id: string, now: number): Promise<void> {
    await this.#db.insertInto('task_engines').values({ id, started_at: now, heartbeat_at: now })
      .onConflict((oc) => oc.column('id').doUpdateSet({ started_at: now, heartbeat_at: now })).execute();
  }

  async heartbeatEngine(id: string, now: number, staleBefore: number): Promise<void> {
    await this.#db.updateTable('task_engines').set({ heartbeat_at: now }).where('id', '=', id).execute();
    await this.#db.deleteFrom('task_engines').where('heartbeat_at', '<', staleBefore).execute();
  }

  /** Removes this engine; answers how many other engines are still alive. */
  async unregisterEngine(id: string, aliveAfter: number): Promise<number> {
    await this.#db.deleteFrom('task_engines').where('id', '=', id).execute();
    const row = await this.#db.selectFrom('task_engines').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('heartbeat_at', '>=', aliveAfter).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * Deletes finished tasks (finished before `before`, when given), except those an unfinished task
   * still depends on.
   */
  async clean(before: number | undefined, announce: Announce<string[]>): Promise<string[]> {
    const finishedAt = sql<number>`coalesce(completed_at, failed_at, cancelled_at)`;
    return this.#db.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom('tasks as t').select('t.id')
        .where('t.status', 'in', FINISHED)
        .$if(before !== undefined, (q) => q.where(finishedAt, '<', before!))
        .where(({ not, exists, selectFrom }) => not(exists(
          selectFrom('task_dependencies as d').innerJoin('tasks as w', 'w.id', 'd.task_id')
            .select('d.name').whereRef('d.dependency_id', '=', 't.id').where('w.status', 'in', UNFINISHED))))
        .execute();
      const ids = rows.map((r) => r.id);
      for (const run of chunks(ids, 1000)) await trx.deleteFrom('tasks').where('id', 'in', run).execute();
      await announce(trx, ids);
      return ids;
    });
  }
}
