// STUB: replaced by the scheduler part.
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { EventBus } from '../core/events/bus.ts';
import type { Operation, TaskService } from '../tasks/contract.ts';
import type { Notifications } from '../webhooks/contract.ts';
import type { LiveJobs, LiveScheduler, Workflow, WindowRequest } from './contract.ts';
import type { WorkflowStore } from './workflow-store.ts';

export interface SchedulerOptions {
  store: WorkflowStore;
  jobs: LiveJobs;
  tasks: TaskService;
  notifications: Notifications;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  accountId: string;
}

export class Scheduler implements LiveScheduler {
  readonly operations: Operation[] = [];
  constructor(_options: SchedulerOptions) {}
  schedule(_window: WindowRequest): Promise<Workflow> { throw new Error('not built'); }
  move(_workflow: string, _times: { activation?: number; deactivation?: number }): Promise<Workflow> { throw new Error('not built'); }
  cancel(_workflow: string): Promise<Workflow> { throw new Error('not built'); }
  get(_workflow: string): Promise<Workflow | undefined> { throw new Error('not built'); }
  async cancelOfJob(_job: string): Promise<void> {}
}
