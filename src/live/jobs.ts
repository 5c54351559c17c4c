// STUB: replaced by the jobs part.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { EventBus } from '../core/events/bus.ts';
import type { NodeIdentity } from '../core/node.ts';
import type { Gate } from '../gate/contract.ts';
import type { Operation, TaskService } from '../tasks/contract.ts';
import type { ActivationOptions, LiveJob, LiveJobs } from './contract.ts';
import type { JobStore } from './job-store.ts';

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
}

export class JobService implements LiveJobs {
  readonly operations: Operation[] = [];
  constructor(_options: JobServiceOptions) {}
  get(_id: string): Promise<LiveJob> { throw new Error('not built'); }
  activate(_id: string, _options?: ActivationOptions): Promise<LiveJob> { throw new Error('not built'); }
  deactivate(_id: string, _options?: { by?: string }): Promise<LiveJob> { throw new Error('not built'); }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
