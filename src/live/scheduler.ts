import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { Clock } from '../core/clock.ts';
import { Conflict, conflict, errorMessage, invalid, NotFound, notFound } from '../core/errors.ts';
import type { EventBus } from '../core/events/bus.ts';
import { nameUuid } from '../core/ids.ts';
import type { InstanceRef } from '../gate/contract.ts';
import { UNFINISHED, type Operation, type OperationContext, type TaskService } from '../tasks/contract.ts';
import type { Notifications } from '../webhooks/contract.ts';
import type { LiveJobs, LiveScheduler, TaskState, Workflow, WorkflowTask, WindowRequest } from './contract.ts';
import type { WorkflowRow } from './migrations.ts';
import { pageTokens } from './paging.ts';
import type { Overlap, WorkflowFilter, WorkflowPatch, WorkflowStore } from './workflow-store.ts';

export interface SchedulerOptions {
  store: WorkflowStore;
  jobs: LiveJobs;
  tasks: TaskService;
  notifications: Notifications;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  accountId: string;
  /** An activation task is due this long before its time_utc, so that the ingest is open at that second. */
  openLeadMs: number;
}

/** A workflow as onair shows it: the webhook that signs its notifications too. */
export type WorkflowView = Workflow & { notification_webhook?: string };

type Kind = 'activation' | 'deactivation';
type Action = 'activate' | 'deactivate' | 'notify-activate' | 'notify-deactivate';
/** Year 9999's last second, in ms: a time_utc beyond it is most likely milliseconds given for seconds. */
const LAST_MS = 253402300799_000;
const KINDS: readonly Kind[] = ['activation', 'deactivation'];
const ACTION: Record<Kind, Action> = { activation: 'activate', deactivation: 'deactivate' };
const NOTICE: Record<Kind, Action> = { activation: 'notify-activate', deactivation: 'notify-deactivate' };

/** A task as asked for: epoch ms, notification in seconds. */
export interface TaskPlan {
  at: number;
  notification?: number;
}

export interface WorkflowPlan {
  job: string;
  activation: TaskPlan;
  deactivation: TaskPlan;
  description?: string;
  notification_url?: string;
  instance?: InstanceRef;
}

export interface ListQuery {
  job?: string;
  states?: TaskState[];
  /** Epoch ms. */
  from?: number;
  to?: number;
  limit: number;
  token?: string;
}

/**
 * Who asks: the API checks what a client may ask (times ahead of now, no overlap) and names fields as the request has
 * them; the automation (internal) may give times already past, which fire at once.
 */
interface Caller {
  api: boolean;
  /** The prefix of the fields named in refusals ("body."). */
  prefix: string;
}
const API: Caller = { api: true, prefix: 'body.' };
const INTERNAL: Caller = { api: false, prefix: '' };

export const OPERATIONS = { activate: 'jobstartstop-activate', deactivate: 'jobstartstop-deactivate', notify: 'jobstartstop-notify' } as const;

const FireParameters = Type.Object({
  workflow: Type.String({ minLength: 1, maxLength: 64 }),
  revision: Type.Integer({ minimum: 0 }),
}, { additionalProperties: false });
const NotifyParameters = Type.Object({
  ...FireParameters.properties,
  action: Type.Union([Type.Literal('notify-activate'), Type.Literal('notify-deactivate')]),
}, { additionalProperties: false });

const stateOf = (row: WorkflowRow, kind: Kind) => row[`${kind}_state`] as TaskState;
const pendingKinds = (row: WorkflowRow) => KINDS.filter((kind) => stateOf(row, kind) === 'pending');
/** A pending step whose task has claimed it: it is firing, and the workflow row says so until it has fired. */
const firing = (row: WorkflowRow) => pendingKinds(row).find((kind) => row[`${kind}_fired_at`] !== null);
const TOKENS = pageTokens('jobstartstop workflows');

/** Refuses any change of a workflow whose activation or deactivation is firing: the task has the workflow now. */
function refuseFiring(row: WorkflowRow): void {
  const kind = firing(row);
  if (kind) throw conflict(`Workflow ${row.id}: the ${kind} has fired (it is under way); read the workflow again`);
}

/** The jobstartstop scheduler (seed 001): each activation, deactivation and notification is a task of the task engine. */
export class Scheduler implements LiveScheduler {
  readonly operations: Operation[];
  readonly #o: SchedulerOptions;

  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.operations = [
      this.#fireOperation(OPERATIONS.activate, 'activation', 'Activates the job of a jobstartstop workflow at its activation time'),
      this.#fireOperation(OPERATIONS.deactivate, 'deactivation', 'Deactivates the job of a jobstartstop workflow at its deactivation time'),
      {
        type: OPERATIONS.notify, summary: 'Sends notify-activate or notify-deactivate of a jobstartstop workflow',
        parameters: NotifyParameters, resumable: true, run: (context) => this.#notice(context),
      } satisfies Operation<typeof NotifyParameters>,
    ];
  }

  /**
   * Gives every unfinished workflow its tasks again: those a crash left unsubmitted under the same ids (once), and a new
   * revision when a pending step's task has ended without firing it (cancelled by hand), so that no step stays pending.
   */
  async start(): Promise<void> {
    for (const row of await this.#o.store.unfinished()) await this.#resubmit(row);
  }

  // --- The API (seconds are converted by the routes; fields named as the request has them).

  async create(plan: WorkflowPlan): Promise<{ workflow: WorkflowView; secret?: string }> {
    return this.#create(plan, API);
  }

  async change(id: string, changes: Partial<Record<Kind, TaskPlan>>): Promise<WorkflowView> {
    return this.#move(id, changes, API);
  }

  async view(id: string): Promise<WorkflowView> {
    return this.#view(await this.#row(id));
  }

  async list(query: ListQuery): Promise<{ workflows: WorkflowView[]; next_token: string | null }> {
    const filter: WorkflowFilter = {
      job: query.job, states: query.states, from: query.from, to: query.to, limit: query.limit + 1,
      after: query.token === undefined ? undefined : TOKENS.read(query.token),
    };
    const rows = await this.#o.store.list(filter);
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return { workflows: page.map((row) => this.#view(row)), next_token: rows.length > query.limit && last ? TOKENS.write({ at: last.activation_at, id: last.id }) : null };
  }

  // --- LiveScheduler (epoch ms).

  async schedule(window: WindowRequest): Promise<Workflow> {
    const plan = { job: window.job, activation: { at: window.activation }, deactivation: { at: window.deactivation }, description: window.description, instance: window.instance };
    return (await this.#create(plan, INTERNAL)).workflow;
  }

  async move(workflow: string, times: { activation?: number; deactivation?: number }): Promise<Workflow> {
    const row = await this.#row(workflow);
    const changes: Partial<Record<Kind, TaskPlan>> = {};
    for (const kind of KINDS) {
      const at = times[kind];
      if (at !== undefined) changes[kind] = { at, ...notificationOf(row, kind) };
    }
    return this.#move(workflow, changes, INTERNAL);
  }

  /** The row decides: a step its task has claimed wins (Conflict); the tasks of the steps cancelled are withdrawn after. */
  async cancel(workflow: string): Promise<WorkflowView> {
    await this.#row(workflow);
    let kinds: Kind[] = [];
    const changed = await this.#o.store.change(workflow, (current) => {
      kinds = pendingKinds(current);
      if (kinds.length === 0) throw conflict(`Workflow ${workflow} has nothing left pending to cancel`);
      refuseFiring(current);
      return { ...Object.fromEntries(kinds.map((kind) => [`${kind}_state`, 'cancelled'])), updated_at: this.#o.clock.now() };
    }, this.#announce);
    if (!changed) throw notFound(`There is no jobstartstop workflow ${workflow}`);
    await this.#withdraw(changed, kinds);
    return this.#view(changed);
  }

  async get(workflow: string): Promise<Workflow | undefined> {
    const row = await this.#o.store.get(workflow);
    return row && this.#view(row);
  }

  /** The job is cancelled: none of its workflows may open it again. */
  async cancelOfJob(job: string): Promise<void> {
    for (const row of await this.#o.store.unfinishedOf(job)) {
      await this.cancel(row.id).catch((error: unknown) => {
        if (!(error instanceof Conflict)) throw error;
      });
    }
  }

  // --- Making and moving.

  async #create(plan: WorkflowPlan, caller: Caller): Promise<{ workflow: WorkflowView; secret?: string }> {
    await this.#check(plan, caller);
    // Before the insert's transaction: the URL's lookup must not hold the job's overlap check.
    const endpoint = plan.notification_url === undefined ? undefined : await this.#o.notifications.endpoint(plan.notification_url, `${caller.prefix}notification_url`);
    const now = this.#o.clock.now();
    const row: WorkflowRow = {
      id: randomBytes(16).toString('hex'), job_id: plan.job, description: plan.description ?? null,
      notification_url: plan.notification_url ?? null, notification_webhook: endpoint?.webhook ?? null,
      instance: plan.instance ? JSON.stringify(plan.instance) : null,
      ...taskColumns('activation', plan.activation), ...taskColumns('deactivation', plan.deactivation),
      activation_fired_at: null, activation_error: null, deactivation_fired_at: null, deactivation_error: null,
      revision: 0, created_at: now, updated_at: now,
    };
    await this.#o.store.insert(row, this.#announce, this.#overlap(caller, [...KINDS]));
    await this.#submit(row);
    this.#o.logger.info({ workflow: row.id, job: row.job_id, activation: row.activation_at, deactivation: row.deactivation_at }, 'jobstartstop workflow scheduled');
    return { workflow: this.#view(row), ...(endpoint?.secret === undefined ? {} : { secret: endpoint.secret }) };
  }

  /**
   * Moves pending steps: a new revision in the row first (refused while a step is firing: its task has the workflow),
   * then the old revision's tasks withdrawn and the new ones submitted.
   */
  async #move(id: string, changes: Partial<Record<Kind, TaskPlan>>, caller: Caller): Promise<WorkflowView> {
    const row = await this.#row(id);
    const changed = KINDS.filter((kind) => changes[kind]);
    refuseMove(row, changed);
    await this.#check({ ...planOf(row), ...changes }, caller, { changed, except: id });
    const overlap = this.#overlap(caller, changed);
    const moved = await this.#o.store.change(id, (current) => {
      if (current.revision !== row.revision) return undefined;
      refuseMove(current, changed);
      const columns = changed.flatMap((kind) => Object.entries(taskColumns(kind, changes[kind]!)));
      return { ...Object.fromEntries(columns), revision: row.revision + 1, updated_at: this.#o.clock.now() } as WorkflowPatch;
    }, this.#announce, overlap && { job: row.job_id, overlap });
    if (!moved) throw conflict(`Workflow ${id} changed meanwhile; read it again`);
    await this.#withdraw(row, pendingKinds(row));
    await this.#submit(moved);
    return this.#view(moved);
  }

  /** Refuses what a workflow may not be, naming the field; `changed`: the tasks a PUT moves (a POST: both). */
  async #check(plan: WorkflowPlan, caller: Caller, move: { changed: Kind[]; except?: string } = { changed: [...KINDS] }): Promise<void> {
    const now = this.#o.clock.now();
    const field = (name: string) => `${caller.prefix}${name}`;
    for (const kind of move.changed) {
      const task = plan[kind];
      if (caller.api && task.at <= now) throw invalid(field(`${kind}.time_utc`), `${seconds(task.at)} is not in the future (now: ${seconds(now)})`);
      if (caller.api && task.at > LAST_MS) {
        throw invalid(field(`${kind}.time_utc`), `${seconds(task.at)} is after the year 9999: give Unix seconds (this looks like milliseconds)`);
      }
      if (task.notification === undefined) continue;
      if (plan.notification_url === undefined) throw invalid(field(`${kind}.notification`), 'needs a notification_url to send it to');
      if (caller.api && task.at - task.notification * 1000 <= now) {
        throw invalid(field(`${kind}.notification`), `${task.notification} s before time_utc is already past (now: ${seconds(now)})`);
      }
    }
    if (plan.deactivation.at <= plan.activation.at) {
      // The field the request changed: a PUT moving only the activation past the deactivation names the activation.
      if (move.changed.includes('deactivation')) throw invalid(field('deactivation.time_utc'), `must be after activation.time_utc (${seconds(plan.activation.at)})`);
      throw invalid(field('activation.time_utc'), `must be before deactivation.time_utc (${seconds(plan.deactivation.at)})`);
    }
    if (!move.except) await this.#checkJob(plan.job, field('job_id'));
  }

  /** How the API refuses a window overlapping another workflow of the job (checked by the store as it writes); none for the automation. */
  #overlap(caller: Caller, changed: Kind[]): Overlap | undefined {
    if (!caller.api) return undefined;
    const field = `${caller.prefix}${changed.length === 1 && changed[0] === 'deactivation' ? 'deactivation' : 'activation'}.time_utc`;
    return (other) => invalid(field, `overlaps workflow ${other.id} of the same job (${seconds(other.activation_at)} to ${seconds(other.deactivation_at)})`);
  }

  async #checkJob(job: string, field: string): Promise<void> {
    const found = await this.#o.jobs.get(job).catch((error: unknown) => {
      if (error instanceof NotFound) throw invalid(field, `there is no job ${job}`);
      throw error;
    });
    if (found.state === 'cancelled') throw invalid(field, `job ${job} is cancelled`);
  }

  // --- Tasks.

  /** Submits the tasks of the workflow's pending steps, its revision in their ids: submitting again makes nothing more. */
  async #submit(row: WorkflowRow): Promise<void> {
    const now = this.#o.clock.now();
    for (const kind of pendingKinds(row)) {
      const at = row[`${kind}_at`];
      await this.#submitTask(row, ACTION[kind], kind === 'activation' ? at - this.#o.openLeadMs : at);
      const notification = row[`${kind}_notification`];
      // A notice whose time has passed was sent by an earlier revision (or is no longer worth sending).
      if (notification !== null && row.notification_url !== null && at - notification * 1000 > now) await this.#submitTask(row, NOTICE[kind], at - notification * 1000);
    }
  }

  async #submitTask(row: WorkflowRow, action: Action, at: number): Promise<void> {
    const parameters = { workflow: row.id, revision: row.revision, ...(action.startsWith('notify') ? { action } : {}) };
    const type = action === 'activate' ? OPERATIONS.activate : action === 'deactivate' ? OPERATIONS.deactivate : OPERATIONS.notify;
    await this.#o.tasks.submit({ operation: { type, parameters }, condition: { type: 'at', parameters: { datetime: new Date(at).toISOString() } } }, taskId(row.id, row.revision, action))
      .catch((error: unknown) => {
        if (!(error instanceof Conflict)) throw error;
      });
  }

  /**
   * Cancels the tasks of `row`'s revision for `kinds`, once the row no longer wants them (moved, cancelled, or left
   * with nothing to do): cleanup only, as a task that runs anyway finds the row changed and does nothing.
   */
  async #withdraw(row: WorkflowRow, kinds: Kind[]): Promise<void> {
    for (const kind of kinds) {
      for (const action of [ACTION[kind], NOTICE[kind]]) {
        await this.#o.tasks.cancel(taskId(row.id, row.revision, action)).catch((error: unknown) => {
          if (!(error instanceof NotFound || error instanceof Conflict)) throw error;
        });
      }
    }
  }

  /** start(): the same revision while its pending steps' tasks are still to run; a new one when one of them has ended. */
  async #resubmit(row: WorkflowRow): Promise<void> {
    const fires = pendingKinds(row).map((kind) => taskId(row.id, row.revision, ACTION[kind]));
    const statuses = await this.#o.tasks.statuses(fires);
    const ended = [...statuses.values()].some((status) => !UNFINISHED.includes(status));
    if (!ended) return this.#submit(row);
    const renewed = await this.#o.store.change(row.id, (current) => (current.revision === row.revision && pendingKinds(current).length > 0
      ? { revision: row.revision + 1, updated_at: this.#o.clock.now() } : undefined), this.#announce);
    if (!renewed) return;
    this.#o.logger.warn({ workflow: row.id, revision: renewed.revision }, 'jobstartstop workflow left pending without its task: submitted again');
    await this.#withdraw(row, pendingKinds(row));
    await this.#submit(renewed);
  }

  // --- What the tasks do.

  #fireOperation(type: string, kind: Kind, summary: string): Operation<typeof FireParameters> {
    return { type, summary, parameters: FireParameters, resumable: true, run: (context) => this.#fire(context, kind) };
  }

  /**
   * Fires a step: first claims it in the row (its fired_at, the revision unchanged), so that no PUT or DELETE changes
   * it any more, then does it and records how it went, then notifies. A run resumed after a crash finds the step
   * claimed and does it again (opening or closing a job twice is once), or finds it recorded and only notifies again
   * (the notification's key makes that once). A failure fails the task too.
   */
  async #fire(context: OperationContext<{ workflow: string; revision: number }>, kind: Kind): Promise<unknown> {
    const row = await this.#claim(context.parameters, kind);
    if (!row) return { skipped: 'the workflow changed since this task was made' };
    let note: string | undefined;
    let after: WorkflowRow | undefined = row;
    if (stateOf(row, kind) === 'pending') {
      const outcome = await this.#perform(row, kind);
      ({ after, note } = outcome);
      if (!after) return { skipped: 'the workflow changed while the task ran' };
    }
    await this.#notify(context.task.id, ACTION[kind], after);
    const error = after[`${kind}_error`];
    if (stateOf(after, kind) === 'failed') throw new Error(error ?? `${kind} failed`);
    return { workflow: row.id, [kind]: stateOf(after, kind), ...(note ? { note } : {}) };
  }

  /** The workflow with the step claimed by this task (or recorded already), or undefined when it is not this task's any more. */
  async #claim(task: { workflow: string; revision: number }, kind: Kind): Promise<WorkflowRow | undefined> {
    const row = await this.#o.store.get(task.workflow);
    if (!row || row.revision !== task.revision || stateOf(row, kind) === 'cancelled') return undefined;
    if (stateOf(row, kind) !== 'pending' || row[`${kind}_fired_at`] !== null) return row;
    const now = this.#o.clock.now();
    return this.#o.store.change(row.id, (current) => (current.revision === task.revision && stateOf(current, kind) === 'pending' && current[`${kind}_fired_at`] === null
      ? { [`${kind}_fired_at`]: now, updated_at: now } : undefined), this.#announce);
  }

  async #perform(row: WorkflowRow, kind: Kind): Promise<{ after: WorkflowRow | undefined; note?: string }> {
    const by = `workflow ${row.id}`;
    const fired = row[`${kind}_fired_at`] ?? this.#o.clock.now();
    let note: string | undefined;
    let error: string | undefined;
    try {
      if (kind === 'activation') await this.#o.jobs.activate(row.job_id, { by, ...(row.instance ? { instance: JSON.parse(row.instance) as InstanceRef } : {}) });
      else note = await this.#deactivate(row, by);
    } catch (failure) {
      error = errorMessage(failure);
      this.#o.logger.warn({ workflow: row.id, job: row.job_id, err: failure }, `jobstartstop ${kind} failed`);
    }
    const now = this.#o.clock.now();
    const after = await this.#o.store.change(row.id, (current) => {
      if (current.revision !== row.revision || stateOf(current, kind) !== 'pending') return undefined;
      const outcome: WorkflowPatch = error === undefined
        ? { [`${kind}_state`]: 'finished', [`${kind}_fired_at`]: fired }
        : { [`${kind}_state`]: 'failed', [`${kind}_fired_at`]: fired, [`${kind}_error`]: error };
      // A failed activation leaves nothing to deactivate.
      if (error !== undefined && kind === 'activation' && current.deactivation_state === 'pending') outcome.deactivation_state = 'cancelled';
      return { ...outcome, updated_at: now };
    }, this.#announce);
    if (after && error !== undefined && kind === 'activation') await this.#withdraw(row, ['deactivation']);
    return { after, ...(note ? { note } : {}) };
  }

  /** Leaves the job open while another of its workflows is inside its window: back-to-back windows share the job. */
  async #deactivate(row: WorkflowRow, by: string): Promise<string | undefined> {
    const other = await this.#o.store.underWay(row.job_id, row.id);
    if (other) return `job ${row.job_id} left open: workflow ${other.id} is inside its window`;
    await this.#o.jobs.deactivate(row.job_id, { by });
    return undefined;
  }

  async #notice(context: OperationContext<{ workflow: string; revision: number; action: 'notify-activate' | 'notify-deactivate' }>): Promise<unknown> {
    const { workflow, revision, action } = context.parameters;
    const row = await this.#o.store.get(workflow);
    const kind: Kind = action === 'notify-activate' ? 'activation' : 'deactivation';
    if (!row || row.revision !== revision || stateOf(row, kind) !== 'pending') return { skipped: 'the workflow changed since this task was made' };
    return { message: await this.#notify(context.task.id, action, row) };
  }

  /** `{action, workflow, error?}` to the notification URL, once per task and action. */
  async #notify(task: string, action: Action, row: WorkflowRow): Promise<string | undefined> {
    if (row.notification_url === null) return undefined;
    const kind: Kind | undefined = action === 'activate' ? 'activation' : action === 'deactivate' ? 'deactivation' : undefined;
    const error = kind && row[`${kind}_error`];
    const body = { action, workflow: this.#view(row), ...(error ? { error } : {}) };
    return this.#o.notifications.notify(row.notification_url, `${task} ${action}`, `jobstartstop.${action}`, body);
  }

  // --- Views.

  async #row(id: string): Promise<WorkflowRow> {
    const row = await this.#o.store.get(id);
    if (!row) throw notFound(`There is no jobstartstop workflow ${id}`);
    return row;
  }

  readonly #announce = async (trx: Parameters<EventBus['record']>[0], row: WorkflowRow) => {
    await this.#o.bus.record(trx, 'live-workflow-changed', [this.#view(row)]);
  };

  #view(row: WorkflowRow): WorkflowView {
    return {
      account_id: this.#o.accountId, workflow_id: row.id, type: 'jobstartstop', job_id: row.job_id,
      activation: taskView(row, 'activation'), deactivation: taskView(row, 'deactivation'),
      ...(row.description === null ? {} : { description: row.description }),
      ...(row.notification_url === null ? {} : { notification_url: row.notification_url }),
      ...(row.notification_webhook === null ? {} : { notification_webhook: row.notification_webhook }),
      workflow_start_time_utc: seconds(row.activation_at),
      ...(row.instance === null ? {} : { instance: JSON.parse(row.instance) as InstanceRef }),
    };
  }
}

export function taskId(workflow: string, revision: number, action: Action): string {
  return nameUuid(`jobstartstop ${workflow} ${revision} ${action}`);
}

const seconds = (ms: number) => Math.floor(ms / 1000);

function taskView(row: WorkflowRow, kind: Kind): WorkflowTask {
  const notification = row[`${kind}_notification`];
  const fired = row[`${kind}_fired_at`];
  const error = row[`${kind}_error`];
  return {
    state: stateOf(row, kind), time_utc: seconds(row[`${kind}_at`]),
    ...(notification === null ? {} : { notification }),
    ...(fired === null ? {} : { fired_at: new Date(fired).toISOString() }),
    ...(error === null ? {} : { error }),
  };
}

function taskColumns(kind: Kind, task: TaskPlan) {
  return { [`${kind}_state`]: 'pending', [`${kind}_at`]: task.at, [`${kind}_notification`]: task.notification ?? null } as
    Pick<WorkflowRow, 'activation_state' | 'activation_at' | 'activation_notification' | 'deactivation_state' | 'deactivation_at' | 'deactivation_notification'>;
}

const notificationOf = (row: WorkflowRow, kind: Kind) => {
  const notification = row[`${kind}_notification`];
  return notification === null ? {} : { notification };
};

function planOf(row: WorkflowRow): WorkflowPlan {
  return {
    job: row.job_id, activation: { at: row.activation_at, ...notificationOf(row, 'activation') },
    deactivation: { at: row.deactivation_at, ...notificationOf(row, 'deactivation') },
    ...(row.notification_url === null ? {} : { notification_url: row.notification_url }),
  };
}

/** A step may be moved while pending and unclaimed; nothing may be moved while a step is firing (the move bumps the revision). */
function refuseMove(row: WorkflowRow, changed: Kind[]): void {
  for (const kind of changed) {
    if (stateOf(row, kind) !== 'pending') throw conflict(`Workflow ${row.id}: the ${kind} is ${stateOf(row, kind)}; only a pending task can be changed`);
  }
  refuseFiring(row);
}
