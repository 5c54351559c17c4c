import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { DomainError } from '../core/errors.ts';
import type { LiveScheduler, TaskState } from '../live/contract.ts';
import type { ProgrammeReader, ScheduledInstance } from '../programme/contract.ts';
import { BroadcastKeys, type LiveWindow, type LiveWindowStore, type WindowPlan } from './store.ts';

// A claim whose workflow never appeared after this long belongs to a synchronizer that died midway.
const STALE_CLAIM_MS = 60_000;
// What the scheduler refuses for good (an unknown or cancelled job); anything else is tried again once the claim is stale.
const REFUSALS = new Set(['invalid', 'not-found', 'conflict']);

export interface LiveWindowsOptions {
  store: LiveWindowStore;
  live: LiveScheduler;
  programme: ProgrammeReader;
  clock: Clock;
  logger: Logger;
  /** How far ahead activations are scheduled (the synchronizer's window). */
  windowMs: number;
  leadMs: number;
  graceMs: number;
}

export interface WindowReport {
  expected: number;
  created: number;
  moved: number;
  retired: number;
}

export interface WindowTask {
  /** Epoch ms. */
  at: number;
  /** The task's state in the scheduler; null without a workflow. */
  state: TaskState | null;
}

export interface WindowView {
  event: string;
  start: string;
  startsAt: number;
  endsAt: number;
  job: string;
  workflow: string | null;
  activation: WindowTask;
  deactivation: WindowTask;
  error: string | null;
}

type Planned = WindowPlan['key'] & Omit<WindowPlan, 'key'>;
type Outcome = 'changed' | 'unchanged' | 'refused';

const planOf = (w: Planned): WindowPlan => ({ key: { event: w.event, start: w.start, startsAt: w.startsAt }, endsAt: w.endsAt, job: w.job });

const isRefusal = (error: unknown): error is DomainError => error instanceof DomainError && REFUSALS.has(error.kind);

/**
 * Keeps one jobstartstop workflow per live instance naming a job whose window (lead before its start to grace after its
 * end) reaches into the synchronizer's window: made, moved, cancelled or cut short as the programme changes.
 */
export class LiveWindows {
  readonly #o: LiveWindowsOptions;

  constructor(options: LiveWindowsOptions) {
    this.#o = options;
  }

  activationOf(w: { startsAt: number }): number {
    return w.startsAt - this.#o.leadMs;
  }

  deactivationOf(w: { endsAt: number }): number {
    return w.endsAt + this.#o.graceMs;
  }

  /** One comparison of the windows that should exist with those held; idempotent. */
  async sync(): Promise<WindowReport> {
    const { store, clock } = this.#o;
    const now = clock.now();
    const [expected, held] = await Promise.all([this.#expected(now), store.all()]);
    const report: WindowReport = { expected: expected.values().length, created: 0, moved: 0, retired: 0 };
    const gone: LiveWindow[] = [];
    for (const window of held) {
      const wanted = expected.take(window);
      if (wanted) await this.#follow(window, wanted, now, report);
      else if (await this.#over(window, now)) gone.push(window);
    }
    const retired: LiveWindow[] = [];
    for (const window of gone) {
      const outcome = await this.#retire(window);
      if (outcome === 'changed') report.retired++;
      // A task firing right now refuses the change: the next pass reads the workflow again and retires it then.
      if (outcome !== 'refused') retired.push(window);
    }
    await store.remove(retired);
    for (const window of await store.claim(expected.values().map(planOf), now)) if (await this.#open(window)) report.created++;
    if (report.created + report.moved + report.retired > 0) this.#o.logger.info(report, 'live windows synchronized');
    return report;
  }

  /** Every window held, with its workflow's times and states as the scheduler has them. */
  async views(): Promise<WindowView[]> {
    const windows = await this.#o.store.all();
    return Promise.all(windows.map(async (w) => {
      const workflow = w.workflow === null ? undefined : await this.#o.live.get(w.workflow);
      const task = (planned: number, found: { time_utc: number; state: TaskState } | undefined) =>
        ({ at: found ? found.time_utc * 1000 : planned, state: found?.state ?? null });
      return {
        event: w.event, start: w.start, startsAt: w.startsAt, endsAt: w.endsAt, job: w.job, workflow: w.workflow, error: w.error,
        activation: task(this.activationOf(w), workflow?.activation), deactivation: task(this.deactivationOf(w), workflow?.deactivation),
      };
    }));
  }

  /** Live instances naming a job whose window is open at some point from now to the end of the synchronizer's window. */
  async #expected(now: number): Promise<BroadcastKeys<Planned>> {
    const { programme, windowMs, leadMs, graceMs } = this.#o;
    const listed = await programme.liveJobInstancesBetween(now - graceMs, now + windowMs + leadMs);
    const expected = new BroadcastKeys<Planned>();
    for (const s of listed.filter((s) => this.#wanted(s, now))) {
      expected.add({ event: s.event.id, start: s.instance.start, startsAt: s.instance.startsAt, endsAt: s.instance.endsAt, job: s.event.liveJob! });
    }
    return expected;
  }

  #wanted({ event, instance }: ScheduledInstance, now: number): boolean {
    return event.liveJob !== null && this.deactivationOf(instance) > now && this.activationOf(instance) < now + this.#o.windowMs;
  }

  /** A held window whose instance is still there: its claim completed, its job and end followed. */
  async #follow(window: LiveWindow, wanted: Planned, now: number, report: WindowReport): Promise<void> {
    const plan = planOf(wanted);
    const making = window.workflow === null && window.error === null;
    // Its claimer is making the workflow: the next pass follows what changed meanwhile.
    if (making && window.claimedAt >= now - STALE_CLAIM_MS) return;
    if (making || wanted.job !== window.job) {
      const renewed = await this.#o.store.renew(window, plan, now, true);
      if (!renewed) return;
      if ((await this.#retire(window)) === 'changed') report.retired++;
      if (await this.#open(renewed)) report.created++;
      return;
    }
    if (wanted.endsAt === window.endsAt) return;
    const renewed = await this.#o.store.renew(window, plan, now, false);
    if (renewed?.workflow && await this.#move(renewed.workflow, { deactivation: this.deactivationOf(renewed) })) report.moved++;
  }

  /**
   * Whether a held window whose instance was not listed is to be let go: its instance is gone (then its workflow is
   * retired), or it ended more than the synchronizer's window ago. A window beyond the synchronizer's window is kept
   * while its instance exists.
   */
  async #over(window: LiveWindow, now: number): Promise<boolean> {
    const { programme, windowMs } = this.#o;
    const deactivation = this.deactivationOf(window);
    if (deactivation <= now) return deactivation < now - windowMs;
    if (this.activationOf(window) < now + windowMs) return true;
    const found = await programme.getInstance(window.event, window.start);
    return !(found && found.instance.startsAt === window.startsAt && found.event.liveJob === window.job);
  }

  /** Makes a claimed window's workflow; answers whether it did. A refusal is kept with the window and logged once. */
  async #open(window: LiveWindow): Promise<boolean> {
    const { live, store, logger } = this.#o;
    const instance = { event: window.event, start: window.start };
    try {
      const workflow = await live.schedule({
        job: window.job, activation: this.activationOf(window), deactivation: this.deactivationOf(window), instance,
        description: `live window of event ${window.event} at ${window.start}`,
      });
      if (await store.settle(window, { workflow: workflow.workflow_id })) return true;
      // The window changed hands meanwhile: this workflow is nobody's.
      await this.#retire({ ...window, workflow: workflow.workflow_id });
      return false;
    } catch (error) {
      if (!isRefusal(error)) {
        // The claim stays without a workflow: a pass takes it over once it is stale.
        logger.error({ err: error, ...instance, job: window.job }, 'live window not scheduled; trying again in a minute');
        return false;
      }
      if (await store.settle(window, { error: error.message })) {
        logger.warn({ ...instance, job: window.job, reason: error.message }, 'live window without a workflow: the scheduler refused it');
      }
      return false;
    }
  }

  /**
   * Ends a window's workflow: cancelled while its activation is pending, else its deactivation moved to now (the end
   * of a slot really ends the source). Answers whether it changed it, found nothing left to change, or was refused.
   */
  async #retire(window: LiveWindow): Promise<Outcome> {
    if (window.workflow === null) return 'unchanged';
    const workflow = await this.#o.live.get(window.workflow);
    if (workflow?.activation.state === 'pending') return this.#guarded(window.workflow, () => this.#o.live.cancel(window.workflow!));
    if (workflow?.deactivation.state === 'pending') return this.#guarded(window.workflow, () => this.#o.live.move(window.workflow!, { deactivation: this.#o.clock.now() }));
    return 'unchanged';
  }

  async #move(workflow: string, times: { deactivation: number }): Promise<boolean> {
    return (await this.#guarded(workflow, () => this.#o.live.move(workflow, times))) === 'changed';
  }

  /** Runs a change of a workflow; one the scheduler refuses (a task firing or fired meanwhile) is logged. */
  async #guarded(workflow: string, change: () => Promise<unknown>): Promise<Outcome> {
    try {
      await change();
      return 'changed';
    } catch (error) {
      if (!isRefusal(error)) throw error;
      this.#o.logger.debug({ workflow, reason: error.message }, 'live workflow left as it is');
      return 'refused';
    }
  }
}
