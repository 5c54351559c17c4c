import type { Kysely } from 'kysely';
import { chunks, type Database } from '../core/db/database.ts';
import type { AutomationTables, BroadcastRow, LiveWindowRow } from './migrations.ts';

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
 * A set of broadcast keys (or of values carrying one), found by their moment first and then compared: a Map of
 * composite string keys took 50-200 ms of each steady sync at 30,000 instances to build and hash them, this 20-60 ms.
 */
export class BroadcastKeys<K extends BroadcastKey = BroadcastKey> {
  readonly #at = new Map<number, K[]>();

  /** Adds `key` unless an equal one is there. */
  add(key: K): void {
    const same = this.#at.get(key.startsAt);
    if (!same) this.#at.set(key.startsAt, [key]);
    else if (indexOf(same, key) < 0) same.push(key);
  }

  /** Removes the key equal to `key` and answers it, if there was one. */
  take(key: BroadcastKey): K | undefined {
    const same = this.#at.get(key.startsAt);
    const index = same ? indexOf(same, key) : -1;
    if (index < 0) return undefined;
    const [taken] = same!.splice(index, 1);
    if (same!.length === 0) this.#at.delete(key.startsAt);
    return taken;
  }

  /** Removes the key equal to `key`; answers whether there was one. */
  delete(key: BroadcastKey): boolean {
    return this.take(key) !== undefined;
  }

  values(): K[] {
    return [...this.#at.values()].flat();
  }
}

const keyColumns = (key: BroadcastKey) => ({ event_id: key.event, instance_start: key.start, starts_at: key.startsAt });

const toBroadcast = (row: BroadcastRow): Broadcast => ({
  event: row.event_id, start: row.instance_start, startsAt: Number(row.starts_at), task: row.task_id, claimedAt: Number(row.claimed_at),
  taskCreated: Number(row.task_created) === 1,
});

type Db = Kysely<AutomationTables>;
type Claimed = 'automation_broadcasts' | 'automation_live_windows';
// Up to nine bound values per row: stay well under SQLite's limit of bound parameters per statement.
const CHUNK = 1000;

/**
 * Inserts the rows whose key nobody holds yet and answers the tokens (`token`: a column set anew by each claim) of
 * those it inserted: the caller, and only the caller, acts on them. Concurrent synchronizers meet on the primary key.
 */
async function claimRows<T extends Claimed>(db: Db, table: T, rows: Array<AutomationTables[T]>, token: keyof AutomationTables[T] & string): Promise<Set<string>> {
  const claimed = new Set<string>();
  for (const part of chunks(rows, CHUNK)) {
    const inserted = await (db as Kysely<any>).insertInto(table).values(part).onConflict((oc) => oc.doNothing())
      .returning(token).execute() as Array<Record<string, string>>;
    for (const row of inserted) claimed.add(row[token]!);
  }
  return claimed;
}

/** Deletes rows by key and token, so that a row claimed anew since (another token) stays. */
async function removeClaimed(db: Db, table: Claimed, token: 'task_id' | 'claim', rows: Array<{ key: BroadcastKey; token: string }>): Promise<void> {
  if (rows.length === 0) return;
  await (db as Kysely<any>).transaction().execute(async (trx) => {
    for (const { key, token: value } of rows) {
      await trx.deleteFrom(table).where('event_id', '=', key.event).where('instance_start', '=', key.start)
        .where('starts_at', '=', key.startsAt).where(token, '=', value).execute();
    }
  });
}

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
    const rows = planned.map(({ key, task }) => ({ ...keyColumns(key), task_id: task, claimed_at: now, task_created: 0 }));
    const claimed = await claimRows(this.#db, 'automation_broadcasts', rows, 'task_id');
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
    await removeClaimed(this.#db, 'automation_broadcasts', 'task_id', broadcasts.map((b) => ({ key: b, token: b.task })));
  }
}

/** A live instance's window: its job is opened `lead` before the start and closed `grace` after the end. */
export interface LiveWindow extends BroadcastKey {
  endsAt: number;
  job: string;
  /** Set anew by every claim and change of the row: whoever changes it compares and sets this token. */
  claim: string;
  claimedAt: number;
  /** Its jobstartstop workflow; null while its claimer makes it, or when the scheduler refused it (`error`). */
  workflow: string | null;
  error: string | null;
}

/** What a claim or change of a window sets: its instance's end and job. */
export interface WindowPlan {
  key: BroadcastKey;
  endsAt: number;
  job: string;
}

const toWindow = (row: LiveWindowRow): LiveWindow => ({
  event: row.event_id, start: row.instance_start, startsAt: Number(row.starts_at), endsAt: Number(row.ends_at), job: row.job_id,
  claim: row.claim, claimedAt: Number(row.claimed_at), workflow: row.workflow_id, error: row.error,
});

/** The live windows' rows, claimed as the broadcasts are. */
export class LiveWindowStore {
  readonly #db: Db;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
  }

  /** Every window, by start. */
  async all(): Promise<LiveWindow[]> {
    return (await this.#db.selectFrom('automation_live_windows').selectAll().orderBy('starts_at').orderBy('event_id').execute()).map(toWindow);
  }

  /** Claims the windows nobody holds; answers those claimed here, each with its token. */
  async claim(plans: WindowPlan[], now: number): Promise<LiveWindow[]> {
    const windows = plans.map((plan) => ({ ...plan.key, endsAt: plan.endsAt, job: plan.job, claim: crypto.randomUUID(), claimedAt: now, workflow: null, error: null }));
    const rows = windows.map((w) => ({ ...keyColumns(w), ends_at: w.endsAt, job_id: w.job, claim: w.claim, claimed_at: now, workflow_id: null, error: null }));
    const claimed = await claimRows(this.#db, 'automation_live_windows', rows, 'claim');
    return windows.filter((w) => claimed.has(w.claim));
  }

  /**
   * Changes a window held as `window` (same token) to `plan`, dropping its workflow when `fresh` (its job changed, or
   * its claimer died): answers the window as changed, or undefined when another synchronizer changed it first.
   */
  async renew(window: LiveWindow, plan: WindowPlan, now: number, fresh: boolean): Promise<LiveWindow | undefined> {
    const claim = crypto.randomUUID();
    const dropped = fresh ? { workflow_id: null, error: null } : {};
    const result = await this.#where(window).set({ ends_at: plan.endsAt, job_id: plan.job, claim, claimed_at: now, ...dropped }).executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    return { ...window, endsAt: plan.endsAt, job: plan.job, claim, claimedAt: now, ...(fresh ? { workflow: null, error: null } : {}) };
  }

  /** Records the workflow made for a claim, or why there is none; false when the claim was lost meanwhile. */
  async settle(window: LiveWindow, outcome: { workflow: string } | { error: string }): Promise<boolean> {
    const set = 'workflow' in outcome ? { workflow_id: outcome.workflow } : { error: outcome.error };
    return Number((await this.#where(window).set(set).executeTakeFirst()).numUpdatedRows) === 1;
  }

  async remove(windows: LiveWindow[]): Promise<void> {
    await removeClaimed(this.#db, 'automation_live_windows', 'claim', windows.map((w) => ({ key: w, token: w.claim })));
  }

  #where(window: LiveWindow) {
    return this.#db.updateTable('automation_live_windows').where('event_id', '=', window.event).where('instance_start', '=', window.start)
      .where('starts_at', '=', window.startsAt).where('claim', '=', window.claim);
  }
}
