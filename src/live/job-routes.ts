// STUB: replaced by the jobs part.
import type { App } from '../core/http/server.ts';
import type { JobService } from './jobs.ts';

export function registerJobRoutes(_app: App, _jobs: JobService): void {}
