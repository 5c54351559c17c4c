import { randomBytes } from 'node:crypto';
import type { Clock } from '../../src/core/clock.ts';
import { conflict, invalid, notFound } from '../../src/core/errors.ts';
import type { LiveScheduler, Workflow, WorkflowTask, WindowRequest } from '../../src/live/contract.ts';

type Which = 'activation' | 'deactivation';

/**
 * Stand-in for the live area's scheduler until it is merged, keeping src/live/contract.ts's `LiveScheduler` to the
 * letter on the given Clock: tasks fire when the clock reaches them (at once when not after now), a move touches
 * pending tasks only (else Conflict), a cancel before the activation cancels both, after it the deactivation only.
 * `fired` lists what the job would have been told, in order.
 */
export class ContractScheduler implements LiveScheduler {
  readonly jobs: Set<string>;
  readonly cancelledJobs = new Set<string>();
  readonly workflows = new Map<string, Workflow>();
  readonly fired: Array<{ workflow: string; job: string; action: Which; at: number }> = [];
  /** How many of the next schedule() calls fail as a scheduler that cannot be reached would (not a refusal). */
  failures = 0;
  readonly #clock: Clock;
  readonly #alarms = new Map<string, { cancel(): void }>();

  constructor(clock: Clock, jobs: string[]) {
    this.#clock = clock;
    this.jobs = new Set(jobs);
  }

  async schedule(window: WindowRequest): Promise<Workflow> {
    if (this.failures > 0 && this.failures--) throw new Error('scheduler unreachable');
    if (!this.jobs.has(window.job)) throw notFound(`Job ${window.job} does not exist`);
    if (this.cancelledJobs.has(window.job)) throw conflict(`Job ${window.job} is cancelled`);
    if (window.deactivation <= window.activation) throw invalid('deactivation.time_utc', 'must be after the activation');
    const id = randomBytes(16).toString('hex');
    const task = (at: number): WorkflowTask => ({ state: 'pending', time_utc: Math.floor(at / 1000) });
    const workflow: Workflow = {
      account_id: 'test', workflow_id: id, type: 'jobstartstop', job_id: window.job, activation: task(window.activation),
      deactivation: task(window.deactivation), description: window.description, workflow_start_time_utc: Math.floor(window.activation / 1000),
      instance: window.instance,
    };
    this.workflows.set(id, workflow);
    this.#arm(workflow, 'activation');
    this.#arm(workflow, 'deactivation');
    return structuredClone(workflow);
  }

  async move(id: string, times: { activation?: number; deactivation?: number }): Promise<Workflow> {
    const workflow = this.#get(id);
    for (const which of ['activation', 'deactivation'] as const) {
      if (times[which] !== undefined && workflow[which].state !== 'pending') throw conflict(`The ${which} of ${id} is ${workflow[which].state}`);
    }
    for (const which of ['activation', 'deactivation'] as const) {
      const at = times[which];
      if (at === undefined) continue;
      workflow[which].time_utc = Math.floor(at / 1000);
      this.#arm(workflow, which);
    }
    return structuredClone(workflow);
  }

  async cancel(id: string): Promise<Workflow> {
    const workflow = this.#get(id);
    for (const which of ['activation', 'deactivation'] as const) {
      if (workflow[which].state !== 'pending') continue;
      this.#alarms.get(`${id}/${which}`)?.cancel();
      workflow[which].state = 'cancelled';
    }
    return structuredClone(workflow);
  }

  async get(id: string): Promise<Workflow | undefined> {
    const workflow = this.workflows.get(id);
    return workflow && structuredClone(workflow);
  }

  /** The workflows of one programme instance, in the order they were made. */
  of(event: string, start?: string): Workflow[] {
    return [...this.workflows.values()].filter((w) => w.instance?.event === event && (start === undefined || w.instance.start === start));
  }

  #get(id: string): Workflow {
    const workflow = this.workflows.get(id);
    if (!workflow) throw notFound(`Workflow ${id} does not exist`);
    return workflow;
  }

  #arm(workflow: Workflow, which: Which): void {
    const key = `${workflow.workflow_id}/${which}`;
    this.#alarms.get(key)?.cancel();
    const fire = () => {
      const task = workflow[which];
      if (task.state !== 'pending') return;
      // The deactivation waits for its activation, as the scheduler's tasks do.
      if (which === 'deactivation' && workflow.activation.state === 'pending') return;
      task.state = 'finished';
      task.fired_at = new Date(this.#clock.now()).toISOString();
      this.fired.push({ workflow: workflow.workflow_id, job: workflow.job_id, action: which, at: this.#clock.now() });
      if (which === 'activation' && workflow.deactivation.time_utc * 1000 <= this.#clock.now()) fireDeactivation();
    };
    const fireDeactivation = () => this.#arm(workflow, 'deactivation');
    const at = workflow[which].time_utc * 1000;
    if (at <= this.#clock.now()) fire();
    else this.#alarms.set(key, this.#clock.at(at, fire));
  }
}
