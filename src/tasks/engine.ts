import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Alarm, Clock } from '../core/clock.ts';
import { isUniqueViolation, type Database } from '../core/db/database.ts';
import type { EventBus } from '../core/events/bus.ts';
import { conflict, notFound, UnknownDependency } from '../core/errors.ts';
import { firstDue, nextDue } from './conditions.ts';
import type { Status, TaskInput, TaskRecord } from './model.ts';
import type { Operation, OperationRegistry } from './operations.ts';
import { TaskStore, type Ending, type NewTask, type Outcome } from './store.ts';
import { TickBatcher } from './batch.ts';

type StatusChanged = { id: string; operation: string; status: Status; error?: string };

declare module '../core/events/bus.ts' {
  interface EventMap {
    'task-status-changed': StatusChanged;
  }
  interface LossyEventMap {
    'task-progress': { id: string; operation: string; progress: Record<string, unknown> };
  }
}

export interface EngineOptions {
  database: Database;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  operations: OperationRegistry;
  /** The node id: the owner of this engine's leases, the same across restarts of the node. */
  owner: string;
  leaseMs: number;
  /** Observes how late each task started after it was due, in milliseconds. */
  onStarted?: (latenessMs: number) => void;
}

interface Execution {
  controller: AbortController;
  epoch: number;
  operation: Operation;
  done: Promise<void>;
}

function queuedRecord(task: NewTask): TaskRecord {
  const { id, operation, condition, dependencies, node, dueAt, enqueuedAt } = task;
  return {
    task: { id, operation, condition, dependencies, ...(node === undefined ? {} : { node }) }, status: 'queued', dueAt, enqueued: enqueuedAt,
    dequeued: null, slept: null, started: null, cancelled: null, failed: null, completed: null,
    error: null, result: null, progress: null, owner: null, epoch: 0,
  };
}

/** What the end of a run announces. */
function ended({ id, operation, outcome }: Ending): StatusChanged {
  return 'completed' in outcome ? { id, operation, status: 'completed' } : { id, operation, status: 'failed', error: outcome.error };
}

const WAKE_CHANNEL = 'onair_tasks_due';
const CANCEL_CHANNEL = 'onair_tasks_cancel';
const CLAIM_BATCH = 500;
/**
 * Tasks are claimed this long before they are due and started on their own alarm at the due time, so that the claim's
 * commit (a round trip and an fsync on PostgreSQL) is not between the due time and the start. 25 ms was too short for
 * PostgreSQL's slower passes (p99 14 ms late at 500 tasks/s, 3.9 with 100). The price: a node killed less than this
 * before a task's time leaves it to be taken over as if it had started (resumed, or failed as interrupted).
 */
export const CLAIM_AHEAD_MS = 100;

/**
 * Runs tasks at their time, once. Each instance arms one alarm for the earliest due task, claims due
 * tasks under a lease it renews, and is woken by other instances through the database's notifier.
 */
export class TaskEngine {
  readonly id: string;
  readonly store: TaskStore;
  #options: EngineOptions;
  #running = new Map<string, Execution>();
  #alarm: Alarm | undefined;
  #alarmAt = Infinity;
  /** The pass under way, if any: a stop waits for it so that no claim lands after the stop. */
  #passing: Promise<void> | undefined;
  #passAgain = false;
  #passRequested = false;
  /** Set when tasks may have been enqueued since the last pass moved queued ones to waiting. */
  #enqueued = true;
  #enqueuer: TickBatcher<NewTask, Array<{ id: string; status: Status }>>;
  #finisher: TickBatcher<Ending, { written: boolean; hasDependents: boolean }>;
  #sweeper: NodeJS.Timeout | undefined;
  #stopping = false;
  #started = false;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.id = options.owner;
    this.store = new TaskStore(options.database);
    const { notifier } = options.database;
    notifier.listen(WAKE_CHANNEL, (payload) => {
      this.#enqueued = true;
      this.#wakeFor(Number(payload));
    });
    this.#enqueuer = new TickBatcher((tasks) => this.#enqueue(tasks));
    this.#finisher = new TickBatcher((endings) => this.store.finish(endings, (trx, written) => this.#announce(trx, written.map(ended))));
    notifier.listen(CANCEL_CHANNEL, (id) => this.#abortLocal(id, 'cancelled'));
  }

  get #now(): number {
    return this.#options.clock.now();
  }

  async start(): Promise<void> {
    const { database } = this.#options;
    await this.store.registerEngine(this.id, this.#now);
    // What this node's previous run held was interrupted (the data-dir lock proves that run is gone): its tasks are
    // taken over at once instead of when their leases expire. On SQLite, one process at a time, that is every lease.
    await this.store.expireLeases(database.dialect === 'sqlite' ? undefined : this.id);
    const woken = await this.store.wakeSleeping();
    this.#enqueued = true;
    if (woken > 0) this.#options.logger.info({ tasks: woken }, 'woke sleeping tasks');
    this.#started = true;
    await this.#sweep();
    const every = Math.max(250, Math.floor(this.#options.leaseMs / 3));
    this.#sweeper = setInterval(() => void this.#sweep(), every);
    this.#sweeper.unref();
  }

  /** Validates and stores a task; it is picked up at once if due. An area may choose the id beforehand. */
  async submit(input: TaskInput, id: string = randomUUID()): Promise<TaskRecord> {
    const now = this.#now;
    const { type, parameters } = input.operation;
    const operation = { type, parameters: this.#options.operations.validate(type, parameters) };
    const given = input.condition ?? { type: 'now', parameters: {} };
    const first = firstDue(given.type, given.parameters, now);
    const condition = { type: given.type, parameters: first.parameters };
    const { dueAt } = first;
    const dependencies = input.dependencies ?? {};
    const missing = await this.store.missing([...new Set(Object.values(dependencies))]);
    if (missing.length > 0) throw new UnknownDependency(missing[0]!);
    const task: NewTask = { id, operation, condition, dependencies, ...(input.node === undefined ? {} : { node: input.node }), dueAt, enqueuedAt: now };
    const unsuccessful = await this.#enqueuer.add(task).catch((error: unknown) => {
      throw isUniqueViolation(error) ? conflict(`Task ${id} already exists`) : error;
    });
    for (const failed of unsuccessful) await this.#propagateFailure(failed.id, failed.status);
    return queuedRecord(task);
  }

  /**
   * Stores a batch of new tasks, announces them, then wakes this instance and, with one notification, the others.
   * It fails only if nothing was stored (the batcher then writes the tasks again in smaller batches): a lost
   * notification is logged, and the other instances' sweeps find the tasks.
   */
  async #enqueue(tasks: NewTask[]): Promise<Array<Array<{ id: string; status: Status }>>> {
    const unsuccessful = await this.store.enqueue(tasks, (trx) =>
      this.#announce(trx, tasks.map((t) => ({ id: t.id, operation: t.operation.type, status: 'queued' }))));
    this.#enqueued = true;
    this.#requestPass();
    if (this.#options.database.dialect === 'postgres') {
      const earliest = Math.min(...tasks.map((t) => t.dueAt));
      await this.#options.database.notifier.notify(WAKE_CHANNEL, String(earliest)).catch((err: unknown) =>
        this.#options.logger.warn({ err }, 'could not wake the other instances; their sweeps will find the new tasks'));
    }
    return unsuccessful;
  }

  async cancel(id: string): Promise<TaskRecord> {
    const before = await this.store.cancel(id, this.#now, (trx, record) =>
      this.#announce(trx, [{ id, operation: record.task.operation.type, status: 'cancelled' }]));
    if (!before) {
      const current = await this.store.get(id);
      if (!current) throw notFound(`Task ${id} does not exist`);
      throw conflict(`Task ${id} has already finished with status ${current.status}`);
    }
    if (before.status === 'running' && !this.#abortLocal(id, 'cancelled')) {
      await this.#options.database.notifier.notify(CANCEL_CHANNEL, id);
    }
    await this.#propagateFailure(id, 'cancelled');
    const record = await this.store.get(id);
    return record!;
  }

  /** Records status changes in the transaction that makes them. */
  #announce(trx: Transaction<any>, changes: StatusChanged[]): Promise<void> {
    return this.#options.bus.record(trx, 'task-status-changed', changes);
  }

  #announceRunning(trx: Transaction<any>, records: TaskRecord[]): Promise<void> {
    return this.#announce(trx, records.map(({ task }) => ({ id: task.id, operation: task.operation.type, status: 'running' })));
  }

  #abortLocal(id: string, reason: string): boolean {
    const execution = this.#running.get(id);
    if (!execution) return false;
    execution.controller.abort(new Error(reason));
    return true;
  }

  async #propagateFailure(id: string, status: Status): Promise<void> {
    await this.store.failDependents(id, status, this.#now, (trx, failed) =>
      this.#announce(trx, failed.map((dependent) => ({ ...dependent, status: 'failed' }))));
  }

  /** Runs a pass soon, once for any number of requests made meanwhile. */
  #requestPass(): void {
    if (this.#passRequested) return;
    this.#passRequested = true;
    setImmediate(() => {
      this.#passRequested = false;
      void this.#pass();
    });
  }

  /** Arms the alarm for a task due at `due`, unless an earlier one is armed. */
  #wakeFor(due: number): void {
    const at = due - CLAIM_AHEAD_MS;
    if (!this.#started || this.#stopping) return;
    if (at <= this.#now) return this.#requestPass();
    if (!(at < this.#alarmAt)) return;
    this.#alarm?.cancel();
    this.#alarmAt = at;
    this.#alarm = this.#options.clock.at(at, () => {
      this.#alarmAt = Infinity;
      this.#alarm = undefined;
      void this.#pass();
    });
  }

  /** Claims and starts every due task, then arms the alarm for the next one. */
  #pass(): Promise<void> {
    if (this.#passing) {
      this.#passAgain = true;
      return this.#passing;
    }
    this.#passing = this.#passes().finally(() => {
      this.#passing = undefined;
    });
    return this.#passing;
  }

  async #passes(): Promise<void> {
    try {
      do {
        this.#passAgain = false;
        // Tasks may be submitted before the start (other areas start first); they are claimed once it has run.
        if (this.#stopping || !this.#started) return;
        const now = this.#now;
        const horizon = now + CLAIM_AHEAD_MS;
        const claimed = await this.store.claim(this.id, now, horizon, this.#options.leaseMs, CLAIM_BATCH, (record) => this.#successor(record),
          (trx, records) => this.#announceRunning(trx, records));
        for (const { record, epoch } of claimed) this.#execute(record, epoch, false);
        if (claimed.length === CLAIM_BATCH) this.#passAgain = true;
        if (this.#enqueued) {
          this.#enqueued = false;
          await this.store.dequeue(now);
        }
        const next = await this.store.nextDue(this.id, horizon);
        if (next !== undefined) this.#wakeFor(next);
      } while (this.#passAgain);
    } catch (err) {
      this.#options.logger.error({ err }, 'task pass failed; retrying on the next sweep');
    }
  }

  #successor(record: TaskRecord): NewTask | undefined {
    const { condition } = record.task;
    const dueAt = nextDue(condition.type, condition.parameters, Math.max(record.dueAt, this.#now));
    if (dueAt === undefined) return undefined;
    const { operation, dependencies, node } = record.task;
    return { id: randomUUID(), operation, condition, dependencies, ...(node === undefined ? {} : { node }), dueAt, enqueuedAt: this.#now };
  }

  #execute(record: TaskRecord, epoch: number, resumed: boolean): void {
    const { task } = record;
    const operation = this.#options.operations.get(task.operation.type);
    const controller = new AbortController();
    const done = this.#untilDue(record.dueAt, controller.signal).then(async (due) => {
      if (due) return this.#start(record, epoch, resumed, operation, controller.signal);
      // Claimed ahead and stopped before its time: another node, or the next start, runs it. (A cancel is written.)
      if (this.#stopping) {
        await this.store.unclaim(task.id, this.id, epoch, (trx) =>
          this.#announce(trx, [{ id: task.id, operation: task.operation.type, status: 'waiting' }])).catch((err: unknown) =>
          this.#options.logger.warn({ err, task: task.id }, 'could not give back a task claimed ahead; its lease will expire'));
      }
    }).finally(() => this.#running.delete(task.id));
    if (operation) this.#running.set(task.id, { controller, epoch, operation, done });
  }

  /** Resolves true when the clock reaches `dueAt` (at once if it has), false if `signal` aborts first. */
  #untilDue(dueAt: number, signal: AbortSignal): Promise<boolean> {
    if (dueAt <= this.#now) return Promise.resolve(true);
    return new Promise((resolve) => {
      const abort = () => {
        alarm.cancel();
        resolve(false);
      };
      const alarm = this.#options.clock.at(dueAt, () => {
        signal.removeEventListener('abort', abort);
        resolve(true);
      });
      signal.addEventListener('abort', abort, { once: true });
    });
  }

  #start(record: TaskRecord, epoch: number, resumed: boolean, operation: Operation | undefined, signal: AbortSignal): Promise<void> {
    // Its running was announced with the claim, which wrote it.
    if (!resumed) this.#options.onStarted?.(Math.max(0, this.#now - record.dueAt));
    return this.#run(record, epoch, resumed, operation, signal);
  }

  async #run(record: TaskRecord, epoch: number, resumed: boolean, operation: Operation | undefined, signal: AbortSignal): Promise<void> {
    const { task } = record;
    let outcome: Outcome;
    try {
      if (!operation) throw new Error(`Operation ${task.operation.type} is not known to this instance.`);
      const names = Object.entries(task.dependencies);
      const results = await this.store.results(names.map(([, id]) => id));
      const result = await operation.run({
        task, parameters: task.operation.parameters, signal, resumed,
        dependencies: Object.fromEntries(names.map(([name, id]) => [name, results.get(id) ?? null])),
        progress: (progress) => this.#progress(task.id, task.operation.type, epoch, progress),
      });
      outcome = { completed: this.#now, result };
    } catch (error) {
      outcome = { failed: this.#now, error: signal.aborted && this.#stopping
        ? `Operation ${task.operation.type} was interrupted.`
        : error instanceof Error ? error.message : String(error) };
    }
    if (signal.aborted && this.#stopping && operation?.resumable) return;
    await this.#finish(record, epoch, outcome);
  }

  async #finish(record: TaskRecord, epoch: number, outcome: Outcome): Promise<void> {
    const { id, operation } = record.task;
    try {
      const { written, hasDependents } = await this.#finisher.add({ id, operation: operation.type, owner: this.id, epoch, outcome });
      if (!written) {
        this.#options.logger.info({ task: id, epoch }, 'late write rejected: the task was cancelled or taken over');
        return;
      }
      if (!hasDependents) return;
      if ('completed' in outcome) this.#requestPass();
      else await this.#propagateFailure(id, 'failed');
    } catch (err) {
      this.#options.logger.error({ err, task: id }, 'could not record the end of a task; its lease will expire');
    }
  }

  #progress(id: string, operation: string, epoch: number, progress: Record<string, unknown>): void {
    this.#options.bus.publish('task-progress', { id, operation, progress });
    this.store.setProgress(id, this.id, epoch, progress).catch((err: unknown) =>
      this.#options.logger.warn({ err, task: id }, 'could not store progress'));
  }

  /** Renews leases, takes over expired ones, repairs what a concurrent writer missed, then passes. */
  async #sweep(): Promise<void> {
    if (this.#stopping) return;
    const { leaseMs, logger } = this.#options;
    try {
      const now = this.#now;
      await this.store.heartbeatEngine(this.id, now, now - 3 * leaseMs);
      // Only the runs of this process are renewed: a task this node's previous run held is not (it was interrupted).
      // Only runs claimed before the renewal can be judged by it; later claims are not in its answer yet.
      const claimedBefore = [...this.#running.keys()];
      const held = new Set(await this.store.renewLeases(this.id, claimedBefore, now, leaseMs));
      for (const id of claimedBefore) if (!held.has(id)) this.#abortLocal(id, 'cancelled');
      for (const record of await this.store.expired(this.id, now)) await this.#takeOver(record);
      for (const { id, status } of await this.store.blockedByFailure()) await this.#propagateFailure(id, status);
    } catch (err) {
      logger.error({ err }, 'task sweep failed');
    }
    await this.#pass();
  }

  async #takeOver(record: TaskRecord): Promise<void> {
    const { type } = record.task.operation;
    const operation = this.#options.operations.get(type);
    // A resumable operation runs again; any other fails as interrupted, which its finish announces.
    const epoch = await this.store.takeOver(record, this.id, this.#now, this.#options.leaseMs, async (trx) => {
      if (operation?.resumable) await this.#announceRunning(trx, [record]);
    });
    if (epoch === undefined) return;
    this.#options.logger.info({ task: record.task.id, operation: type, resumable: !!operation?.resumable }, 'took over a task whose lease expired');
    if (operation?.resumable) this.#execute(record, epoch, true);
    else await this.#finish(record, epoch, { failed: this.#now, error: `Operation ${type} was interrupted.` });
  }

  /**
   * Graceful stop: running operations are aborted (resumable ones are left for the next instance),
   * and if no other instance is alive, tasks still pending go to sleep until the next start.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#sweeper);
    this.#alarm?.cancel();
    await this.#passing;
    const executions = [...this.#running.entries()];
    for (const [, execution] of executions) execution.controller.abort(new Error('onair is stopping'));
    await Promise.allSettled(executions.map(([, e]) => e.done));
    const resumable = executions.filter(([, e]) => e.operation.resumable).map(([id]) => id);
    await this.store.release(this.id, resumable);
    const now = this.#now;
    const others = await this.store.unregisterEngine(this.id, now - 3 * this.#options.leaseMs);
    if (others === 0) {
      const slept = await this.store.sleepPending(now);
      this.#options.logger.info({ tasks: slept }, 'pending tasks put to sleep');
    }
  }
}
