// STUB: replaced by the scheduler part.
import type { App } from '../core/http/server.ts';
import type { Scheduler } from './scheduler.ts';

export function registerSchedulerRoutes(_app: App, _scheduler: Scheduler): void {}
