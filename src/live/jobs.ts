import { randomBytes, randomUUID } from 'node:crypto';
import type { Updateable } from 'kysely';
import type { Logger } from 'pino';
import { Type, type Static } from 'typebox';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { ChannelBusy, Conflict, conflict, errorMessage, invalid, NotFound, notFound, TimedOut, Unavailable } from '../core/errors.ts';
import type { BusEvent, EventBus } from '../core/events/bus.ts';
import type { NodeIdentity } from '../core/node.ts';
import type { NodeSnapshot } from '../directory/contract.ts';
import type { Gate, Ingest, InstanceRef, StreamStatus } from '../gate/contract.ts';
import type { Operation, TaskService } from '../tasks/contract.ts';
import type { ActivationOptions, JobChange, JobState, LiveJob, LiveJobs, LiveJobView, SepState } from './contract.ts';
import { ACTIVE_SEP_STATES, type JobStore } from './job-store.ts';
import { pageTokens } from './paging.ts';
import type { JobRow } from './migrations.ts';

export interface JobServiceOptions {
  store: JobStore;
  gate: Gate;
  tasks: TaskService;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  node: NodeIdentity;
  config: Config;
  /** Cancels every unfinished workflow of a job being cancelled (the scheduler's). */
  cancelWorkflows: (job: string) => Promise<void>;
  /** The directory's nodes: where an encoder reaches a job whose ingest lives on another node. */
  nodes: Pick<NodeSnapshot, 'node'>;
}

/** POST /v1/jobs as validated by its schema; the service checks what the schema cannot say. */
export interface JobRequest {
  static?: boolean;
  name?: string;
  region?: string;
  format?: 'ogg' | 'mpegts';
  record?: boolean;
  outputs?: unknown[];
  reconnect_time?: number;
  max_waiting_time?: number;
}

export interface JobPage {
  jobs: LiveJob[];
  next_token: string | null;
}

export const JOB_ACTION = 'live-job-action';
const CHANNEL_PREFIX = 'job-';
const DEFAULT_SECONDS = 1800;
const HISTORY_KEPT = 200;
/** How long activate() on another node waits for the job's node to take its task. */
const REMOTE_MS = 10_000;
/** How much longer it waits for a task the job's node is running (opening the job) before answering it in progress. */
const OPENING_MS = 60_000;
const JOB_ID = /^[0-9a-f]{32}$/;
/** next_token of the list of jobs: another list's is refused. */
const tokens = pageTokens('live jobs', JOB_ID);

/** A change of state as the history tells it; `set` changes the activation's own columns with it. */
interface Step {
  state: JobState;
  sep_state: SepState;
  reason: string;
  by: string;
  set?: Pick<Updateable<JobRow>, 'session' | 'activated_at' | 'instance'>;
}

const ActionParameters = Type.Object({
  job: Type.String({ pattern: JOB_ID.source }),
  action: Type.Union([Type.Literal('activate'), Type.Literal('deactivate')]),
  instance: Type.Optional(Type.Object({ event: Type.String(), start: Type.String() }, { additionalProperties: false })),
  by: Type.String({ maxLength: 200 }),
}, { additionalProperties: false });

/** A row whose states are read as the contract's. */
type Current = JobRow & { state: JobState; sep_state: SepState };

const isActive = (row: JobRow) => ACTIVE_SEP_STATES.includes(row.sep_state);
const DEACTIVATING: readonly string[] = ['pending_deactivation', 'deactivation_in_progress'];
const isDeactivating = (row: JobRow) => DEACTIVATING.includes(row.sep_state);
const deactivating = (id: string) => conflict(`Job ${id} is being deactivated`);
const deactivatedMeanwhile = (id: string) => conflict(`Job ${id} was deactivated meanwhile`);
/** The gate could not reach the node that runs the job's session. */
const ownerGone = (error: unknown) => error instanceof Unavailable || error instanceof TimedOut;
const instanceOf = (row: JobRow): InstanceRef | undefined => (row.instance === null ? undefined : JSON.parse(row.instance));

/** What one of the gate's events about the job's current session changes. */
function stepOf(type: string, reason?: string): Step | undefined {
  const ended = (reason: string): Step => ({ state: 'standby', sep_state: 'ready', reason, by: 'onair', set: { session: null } });
  switch (type) {
    case 'stream-publishing': return { state: 'processing', sep_state: 'waiting', reason: 'encoder connected', by: 'onair' };
    case 'stream-disconnected': return { state: 'disconnected', sep_state: 'waiting', reason: 'encoder disconnected', by: 'onair' };
    case 'stream-failed': return { state: 'failed', sep_state: 'ready', reason: `the stream failed: ${reason ?? 'unknown'}`, by: 'onair', set: { session: null } };
    case 'stream-ended':
      switch (reason) {
        // onair is stopping: the job stays active, and the next start opens it again.
        case 'stopped': return undefined;
        case 'max-wait': return ended('no encoder within max_waiting_time');
        case 'reconnect-window': return ended('the encoder did not come back within reconnect_time');
        case 'deactivated': return ended('deactivated');
        default: return ended(`the stream ended: ${reason ?? 'unknown'}`);
      }
    default: return undefined;
  }
}

/**
 * Live jobs with a static entry point (seed 001): each is a gate channel `job-<id>` made for it, opened on the node
 * that created it. The gate's events about the job's current session move its state; every change is in its history
 * and recorded as `live-job-changed` with the row.
 */
export class JobService implements LiveJobs {
  readonly operations: Operation[];
  readonly #o: JobServiceOptions;
  readonly #logger: Logger;
  /** Per job, the change under way: the gate's events of a job are followed one at a time, in order. */
  readonly #queues = new Map<string, Promise<void>>();
  #unsubscribe: (() => void) | undefined;

  constructor(options: JobServiceOptions) {
    this.#o = options;
    this.#logger = options.logger.child({ part: 'jobs' });
    const operation: Operation = {
      type: JOB_ACTION,
      summary: 'Activates or deactivates a live job on the node its ingest lives on',
      parameters: ActionParameters,
      run: async ({ parameters, signal }) => {
        // The tasks area checked them against ActionParameters when the task was made.
        const { job, action, instance, by } = parameters as Static<typeof ActionParameters>;
        const done = action === 'activate' ? await this.#activateHere(job, { instance, by }, signal) : await this.deactivate(job, { by });
        // Never the job itself: it carries the stream key.
        return { job, state: done.state, sep_state: done.sep_state };
      },
    };
    this.operations = [operation];
  }

  async create(request: JobRequest, by: string): Promise<LiveJob> {
    if (request.static !== true) throw invalid('body.static', 'must be true: only static entry point jobs exist here');
    if (request.outputs !== undefined && request.outputs.length > 0) {
      throw invalid('body.outputs', "push outputs of live jobs are not supported yet; use a configured channel's outputs");
    }
    const id = randomBytes(16).toString('hex');
    const channel = `${CHANNEL_PREFIX}${id}`;
    const { ingest } = await this.#o.gate.createChannel({ name: channel });
    const now = this.#o.clock.now();
    const first: JobChange = { at: new Date(now).toISOString(), state: 'standby', sep_state: 'ready', reason: 'created', by };
    const row: JobRow = {
      id, name: request.name ?? channel, channel, node: this.#o.node.id, region: request.region ?? this.#o.node.region, format: request.format ?? 'ogg',
      record: request.record ? 1 : 0, reconnect_time: request.reconnect_time ?? DEFAULT_SECONDS, max_waiting_time: request.max_waiting_time ?? DEFAULT_SECONDS,
      state: 'standby', sep_state: 'ready', session: null, activated_at: null, instance: null, history: JSON.stringify([first]), created_at: now, updated_at: now,
    };
    try {
      await this.#o.store.create(row, this.#announce(ingest));
    } catch (error) {
      await this.#o.gate.removeChannel(channel).catch((removal) => this.#logger.error({ err: removal, channel }, 'could not remove the channel of a job not stored'));
      throw error;
    }
    this.#logger.info({ job: id, channel, by }, 'live job created');
    return this.#jobOf(row, ingest);
  }

  async get(id: string): Promise<LiveJob> {
    const row = await this.#row(id);
    return this.#jobOf(row, await this.#ingest(row));
  }

  async list(options: { states: string[]; pageSize: number; startToken?: string }): Promise<JobPage> {
    const start = options.startToken === undefined ? undefined : tokens.read(options.startToken);
    const after = start && { created_at: start.at, id: start.id };
    const rows = await this.#o.store.list({ states: options.states, limit: options.pageSize + 1, after });
    const page = rows.slice(0, options.pageSize);
    const jobs = await Promise.all(page.map(async (row) => this.#jobOf(row, await this.#ingest(row))));
    return { jobs, next_token: rows.length > options.pageSize ? tokens.write({ at: page.at(-1)!.created_at, id: page.at(-1)!.id }) : null };
  }

  /** Opens the job here, or on its node through a task pinned to it (waiting for it). */
  async activate(id: string, options: ActivationOptions = {}): Promise<LiveJob> {
    const row = await this.#row(id);
    if (row.sep_state === 'cancelled') throw conflict(`Job ${id} is cancelled`);
    if (isDeactivating(row)) throw deactivating(id);
    if (row.node !== this.#o.node.id) return isActive(row) ? this.#jobOf(row, await this.#ingest(row)) : this.#elsewhere(row, 'activate', options);
    return this.#activateHere(id, options);
  }

  /**
   * From any instance: the gate ends the activation wherever it runs. When the job's node cannot be reached, the job
   * stays pending_deactivation (never opened again): its node closes it when its session ends, or when it starts again.
   */
  async deactivate(id: string, options: { by?: string } = {}): Promise<LiveJob> {
    const by = options.by ?? 'onair';
    const row = await this.#row(id);
    const ingest = await this.#ingest(row);
    const pending = await this.#step(id, ingest, (current) => (isActive(current) && !isDeactivating(current)
      ? { state: current.state, sep_state: 'pending_deactivation', reason: 'deactivation asked', by } : undefined));
    if (!pending.changed) return this.#jobOf(pending.row, ingest);
    const closing = await this.#step(id, ingest, (current) => (current.sep_state === 'pending_deactivation'
      ? { state: current.state, sep_state: 'deactivation_in_progress', reason: 'closing the ingest', by } : undefined));
    if (!closing.changed) return this.#jobOf(closing.row, ingest);
    try {
      await this.#o.gate.deactivate(row.channel);
    } catch (error) {
      // Conflict: the gate had no activation left (it ended meanwhile): the job is closed all the same.
      if (ownerGone(error)) throw await this.#deferred(id, ingest, row.node, error, by);
      if (!(error instanceof Conflict)) {
        await this.#step(id, ingest, (current) => (current.sep_state === 'deactivation_in_progress'
          ? { state: current.state, sep_state: 'waiting', reason: `deactivation failed: ${errorMessage(error)}`, by } : undefined));
        throw error;
      }
    }
    const closed = await this.#step(id, ingest, (current) => (current.sep_state === 'deactivation_in_progress'
      ? { state: 'standby', sep_state: 'ready', reason: 'deactivated', by, set: { session: null } } : undefined));
    this.#logger.info({ job: id, by }, 'live job deactivated');
    return this.#jobOf(closed.row, ingest);
  }

  /**
   * Deactivates it if active, cancels its workflows and removes its channel, then marks it cancelled (a cancel that
   * failed half-way is finished by the next); it stays readable.
   */
  async cancel(id: string, by: string): Promise<LiveJob> {
    const row = await this.#row(id);
    if (row.sep_state === 'cancelled') throw conflict(`Job ${id} is cancelled already`);
    if (isActive(row)) await this.deactivate(id, { by });
    await this.#o.cancelWorkflows(id);
    await this.#o.gate.removeChannel(row.channel).catch((error) => {
      if (error instanceof ChannelBusy) throw conflict(`Job ${id} is in use (activated meanwhile?): deactivate it, then cancel it`);
      if (!(error instanceof NotFound)) throw error;
    });
    const done = await this.#step(id, undefined, (current) => {
      if (current.sep_state === 'cancelled') throw conflict(`Job ${id} is cancelled already`);
      return { state: 'cancelled', sep_state: 'cancelled', reason: 'cancelled', by, set: { session: null } };
    });
    this.#logger.info({ job: id, by }, 'live job cancelled');
    return this.#jobOf(done.row, undefined);
  }

  /** A new stream key; the gate refuses while the channel is in use. */
  async rotate(id: string, by: string): Promise<LiveJob> {
    const row = await this.#row(id);
    if (row.sep_state === 'cancelled') throw conflict(`Job ${id} is cancelled: it has no stream key any more`);
    if (isActive(row)) throw conflict(`Job ${id} is active: deactivate the job first`);
    let ingest: Ingest;
    try {
      ({ ingest } = await this.#o.gate.changeChannel(row.channel, { key: randomBytes(24).toString('base64url') }));
    } catch (error) {
      if (error instanceof ChannelBusy) throw conflict(`Job ${id} is in use: deactivate the job first`);
      throw error;
    }
    const done = await this.#step(id, ingest, (current) => ({ state: current.state, sep_state: current.sep_state, reason: 'stream key rotated', by }));
    this.#logger.info({ job: id, by }, 'stream key of a live job rotated');
    return this.#jobOf(done.row, ingest);
  }

  /** Re-opens this node's jobs that a stop or crash left active, then follows the gate's events. */
  async start(): Promise<void> {
    const reopened: string[] = [];
    for (const row of await this.#o.store.active(this.#o.node.id)) {
      if (await this.#reopen(row).catch((error) => this.#logger.error({ err: error, job: row.id }, 'could not open a live job again'))) reopened.push(row.id);
    }
    this.#unsubscribe = this.#o.bus.subscribe((event) => this.#heard(event));
    // Events of their new sessions may have come before the subscription.
    for (const id of reopened) await this.#queued(id, () => this.#catchUp(id));
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await Promise.all(this.#queues.values());
  }

  /**
   * Opens the job on this node. Its session column holds this call's attempt while it opens, so that only this call
   * ends it (opened or failed); a deactivation meanwhile wins (409). `signal`: the task that asked was cancelled.
   */
  async #activateHere(id: string, options: ActivationOptions, signal?: AbortSignal): Promise<LiveJob> {
    const by = options.by ?? 'onair';
    const row = await this.#row(id);
    const ingest = await this.#ingest(row);
    const instance = options.instance ?? null;
    const pending = await this.#step(id, ingest, (current) => {
      if (current.sep_state === 'cancelled') throw conflict(`Job ${id} is cancelled`);
      if (isDeactivating(current)) throw deactivating(id);
      if (current.sep_state !== 'ready') return undefined;
      return { state: current.state, sep_state: 'pending_activation', reason: 'activation asked', by, set: { instance: instance && JSON.stringify(instance) } };
    });
    if (!pending.changed) return this.#jobOf(pending.row, ingest);
    const attempt = `opening ${randomUUID()}`;
    const ours = (current: JobRow) => current.session === attempt && current.sep_state === 'activation_in_progress';
    const opening = await this.#step(id, ingest, (current) => (current.sep_state === 'pending_activation'
      ? { state: current.state, sep_state: 'activation_in_progress', reason: 'opening the ingest', by, set: { session: attempt } } : undefined));
    if (!opening.changed) throw deactivatedMeanwhile(id);
    if (signal?.aborted) {
      await this.#step(id, ingest, (current) => (ours(current) ? { state: current.state, sep_state: 'ready', reason: 'activation cancelled', by, set: { session: null } } : undefined));
      throw conflict(`The activation of job ${id} was cancelled`);
    }
    const unrecorded = pending.row.record === 1 && instance === null;
    const session = await this.#open(pending.row, ingest, { maxWaitMs: pending.row.max_waiting_time * 1000, by, still: ours });
    const reason = unrecorded ? 'activated without recording: record needs a programme instance' : 'activated';
    const opened = await this.#step(id, ingest, (current) => (ours(current)
      ? { state: 'waiting', sep_state: 'waiting', reason, by, set: { session, activated_at: this.#o.clock.now() } } : undefined));
    if (!opened.changed) {
      // Deactivated while it was being opened: close what was opened.
      await this.#o.gate.deactivate(pending.row.channel).catch(() => undefined);
      throw deactivatedMeanwhile(id);
    }
    this.#logger.info({ job: id, by, session }, 'live job activated');
    await this.#queued(id, () => this.#catchUp(id));
    return this.#jobOf((await this.#o.store.get(id))!, ingest);
  }

  /**
   * Gate.activate for the job; a refusal fails the job (it may be activated again) and is thrown on, unless the job is
   * not `still` as this opening left it (deactivated meanwhile: Conflict).
   */
  async #open(row: JobRow, ingest: Ingest | undefined, how: { maxWaitMs: number; by: string; still: (current: JobRow) => boolean }): Promise<string> {
    const instance = instanceOf(row);
    try {
      const availability = await this.#o.gate.activate(row.channel, {
        instance, format: row.format as 'ogg' | 'mpegts', record: row.record === 1 && instance !== undefined,
        maxWaitMs: how.maxWaitMs, reconnectWindowMs: row.reconnect_time * 1000, who: how.by,
      });
      return availability.session!;
    } catch (error) {
      const failed = await this.#step(row.id, ingest, (current) => (how.still(current)
        ? { state: 'failed', sep_state: 'ready', reason: `activation failed: ${errorMessage(error)}`, by: how.by, set: { session: null } } : undefined));
      this.#logger.warn({ job: row.id, error: errorMessage(error) }, 'live job could not be activated');
      throw failed.changed ? error : deactivatedMeanwhile(row.id);
    }
  }

  /** After a restart: the gate freed the channel; the job is opened again, or its deactivation finished. */
  async #reopen(row: JobRow): Promise<boolean> {
    const ingest = await this.#ingest(row);
    if (isDeactivating(row)) {
      await this.#step(row.id, ingest, () => ({ state: 'standby', sep_state: 'ready', reason: 'deactivated (finished after a restart)', by: 'onair', set: { session: null } }));
      return false;
    }
    const live = row.state === 'processing' || row.state === 'disconnected';
    const remaining = (row.activated_at ?? this.#o.clock.now()) + row.max_waiting_time * 1000 - this.#o.clock.now();
    const maxWaitMs = live ? row.reconnect_time * 1000 : Math.max(1000, remaining);
    const still = (current: JobRow) => current.sep_state === row.sep_state && current.session === row.session;
    const session = await this.#open(row, ingest, { maxWaitMs, by: 'onair', still });
    // A job that was on air stays disconnected: its encoder has reconnect_time to come back, after another restart too.
    await this.#step(row.id, ingest, () => ({
      state: live ? 'disconnected' : 'waiting', sep_state: 'waiting', reason: 'opened again after a restart', by: 'onair', set: { session, activated_at: row.activated_at ?? this.#o.clock.now() },
    }));
    this.#logger.info({ job: row.id, session }, 'live job opened again after a restart');
    return true;
  }

  /** The gate could not reach the node running the job's session: the job stays pending_deactivation until it can. */
  async #deferred(id: string, ingest: Ingest | undefined, node: string, error: unknown, by: string): Promise<Error> {
    await this.#step(id, ingest, (current) => (current.sep_state === 'deactivation_in_progress'
      ? { state: current.state, sep_state: 'pending_deactivation', reason: `deactivation waits for node ${node}: ${errorMessage(error)}`, by } : undefined));
    this.#logger.warn({ job: id, node, error: errorMessage(error) }, 'live job deactivation waits for its node');
    return new Unavailable(`Job ${id} will be deactivated when node ${node} is back: ${errorMessage(error)}`);
  }

  #heard(event: BusEvent): void {
    if (event.origin !== this.#o.node.id || !event.type.startsWith('stream-')) return;
    const status = event.data as StreamStatus;
    if (!status.channel?.startsWith(CHANNEL_PREFIX)) return;
    const step = stepOf(event.type, status.reason);
    if (!step) return;
    const id = status.channel.slice(CHANNEL_PREFIX.length);
    void this.#queued(id, () => this.#follow(id, status.session, step)).catch((error) => this.#logger.error({ err: error, job: id }, 'could not follow the gate'));
  }

  /**
   * A change the gate told of, for the job's current session only, once. A deactivation left pending (its node was
   * out of reach) is finished by the end of the session.
   */
  async #follow(id: string, session: string, step: Step): Promise<void> {
    const decide = (current: JobRow): Step | undefined => {
      if (current.session !== session) return undefined;
      if (current.sep_state === 'pending_deactivation' && step.sep_state === 'ready') {
        return { state: 'standby', sep_state: 'ready', reason: 'deactivated', by: 'onair', set: { session: null } };
      }
      if (current.sep_state !== 'waiting' || (current.state === step.state && current.sep_state === step.sep_state)) return undefined;
      return step;
    };
    const row = await this.#o.store.get(id);
    if (!row || !decide(row)) return;
    await this.#step(id, await this.#ingest(row), decide);
  }

  /** What the gate's events of the job's session told before the session was stored, read from its availability. */
  async #catchUp(id: string): Promise<void> {
    const row = await this.#o.store.get(id);
    if (!row?.session) return;
    const availability = await this.#o.gate.availability(row.channel);
    if (availability.session !== row.session) return;
    const step = stepOf(`stream-${availability.state}`);
    if (step) await this.#follow(id, row.session, step);
  }

  #queued(id: string, work: () => Promise<void>): Promise<void> {
    const next = (this.#queues.get(id) ?? Promise.resolve()).then(work);
    const settled = next.catch(() => undefined);
    this.#queues.set(id, settled);
    void settled.then(() => {
      if (this.#queues.get(id) === settled) this.#queues.delete(id);
    });
    return next;
  }

  /**
   * activate() for a job of another node: a task pinned to that node, waited for up to 10 s to start (then cancelled),
   * and up to OPENING_MS more once running: a task still running then may open the job, which is answered as it is.
   */
  async #elsewhere(row: JobRow, action: 'activate' | 'deactivate', options: ActivationOptions): Promise<LiveJob> {
    const parameters = { job: row.id, action, by: options.by ?? 'onair', ...(options.instance && { instance: options.instance }) };
    const { task } = await this.#o.tasks.submit({ operation: { type: JOB_ACTION, parameters }, node: row.node });
    let record = await this.#settled(task.id, REMOTE_MS);
    if (!record && (await this.#o.tasks.get(task.id))?.status === 'running') record = await this.#settled(task.id, OPENING_MS);
    // Still running: it may open the job, so it is not told as failed (nor cancelled): the job is answered as it is.
    if (!record && (await this.#o.tasks.get(task.id))?.status === 'running') return this.get(row.id);
    if (!record) {
      // Not started: cancelled (a run that starts meanwhile sees its signal before opening).
      if (await this.#o.tasks.cancel(task.id).then(() => true, () => false)) {
        throw new Unavailable(`node ${row.node} did not open job ${row.id} within ${REMOTE_MS / 1000} s`);
      }
      record = await this.#o.tasks.get(task.id);
      if (!record || !['failed', 'cancelled'].includes(record.status)) return this.get(row.id);
    }
    if (record.status !== 'completed') {
      const now = await this.#row(row.id);
      if (now.sep_state === 'cancelled') throw conflict(`Job ${row.id} is cancelled`);
      throw new Unavailable(`node ${row.node} could not ${action} job ${row.id}: ${record.error ?? record.status}`);
    }
    return this.get(row.id);
  }

  /** The task once finished, or undefined when it is not within `ms`. */
  async #settled(task: string, ms: number) {
    const deadline = new AbortController();
    const alarm = this.#o.clock.at(this.#o.clock.now() + ms, () => deadline.abort());
    try {
      for (;;) {
        const record = await this.#o.tasks.get(task);
        if (record && ['completed', 'failed', 'cancelled'].includes(record.status)) return record;
        if (deadline.signal.aborted) return undefined;
        await this.#taskChange(task, deadline.signal);
      }
    } finally {
      alarm.cancel();
    }
  }

  /** Resolves at the task's next status change, at the deadline, or after a second in case an event was missed. */
  #taskChange(task: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, 1000);
      const unsubscribe = this.#o.bus.subscribe((event) => {
        if (event.type === 'task-status-changed' && (event.data as { id?: string }).id === task) done();
      });
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async #row(id: string): Promise<JobRow> {
    const row = JOB_ID.test(id) ? await this.#o.store.get(id) : undefined;
    if (!row) throw notFound(`There is no job ${id}`);
    return row;
  }

  /** Its channel's ingest; none once cancelled (the channel is gone). */
  async #ingest(row: JobRow): Promise<Ingest | undefined> {
    if (row.sep_state === 'cancelled') return undefined;
    const ingest = await this.#o.gate.ingest(row.channel).catch((error) => {
      if (error instanceof NotFound) return undefined;
      throw error;
    });
    // This instance's gate names its own host: a job of another node is reached at that node's address.
    const host = row.node === this.#o.node.id ? undefined : this.#o.nodes.node(row.node)?.address;
    return ingest && host !== undefined ? { ...ingest, host, url: ingest.url.replace(`//${ingest.host}:`, `//${host}:`) } : ingest;
  }

  /** One change of the job with its history entry and its event, in one transaction. */
  async #step(id: string, ingest: Ingest | undefined, decide: (row: Current) => Step | undefined): Promise<{ row: JobRow; changed: boolean }> {
    const now = this.#o.clock.now();
    const done = await this.#o.store.change(id, (row) => {
      const step = decide(row as Current);
      if (!step) return undefined;
      const change: JobChange = { at: new Date(now).toISOString(), state: step.state, sep_state: step.sep_state, reason: step.reason, by: step.by };
      const history = [...(JSON.parse(row.history) as JobChange[]), change].slice(-HISTORY_KEPT);
      return { ...step.set, state: step.state, sep_state: step.sep_state, history: JSON.stringify(history), updated_at: now };
    }, this.#announce(ingest));
    if (!done) throw notFound(`There is no job ${id}`);
    return done;
  }

  #announce(ingest: Ingest | undefined) {
    return (trx: Parameters<EventBus['record']>[0], row: JobRow) => this.#o.bus.record(trx, 'live-job-changed', [this.#viewOf(row, ingest)]);
  }

  #viewOf(row: JobRow, ingest: Ingest | undefined): LiveJobView {
    const { ingest: keyed, ...job } = this.#jobOf(row, ingest);
    const { stream_key: _key, ...where } = keyed;
    return { ...job, ingest: where };
  }

  #jobOf(row: JobRow, ingest: Ingest | undefined): LiveJob {
    return {
      id: row.id, name: row.name, state: row.state as JobState, sep_state: row.sep_state as SepState, static: true, region: row.region,
      format: row.format as LiveJob['format'], record: row.record === 1, channel: row.channel, node: row.node,
      // A cancelled job's channel is gone, and its key with it.
      ingest: ingest
        ? { url: ingest.url, host: ingest.host, port: ingest.port, stream_key: ingest.streamKey }
        : { url: '', host: this.#o.config.gate.publicHost, port: 0, stream_key: '' },
      playback_url: `${this.#o.config.publicUrl}/channels/${row.channel}/listen`,
      reconnect_time: row.reconnect_time, max_waiting_time: row.max_waiting_time, created_at: row.created_at, updated_at: row.updated_at,
      history: JSON.parse(row.history),
    };
  }
}
