import { Type } from 'typebox';
import type { App } from '../core/http/server.ts';
import type { AutomationService } from './index.ts';

const tags = ['automation'];

const BroadcastView = Type.Object({
  event: Type.String({ description: 'Event id' }),
  start: Type.String({ description: 'Naive local start of the instance' }),
  startsAt: Type.String({ format: 'date-time', description: 'The instance start, ISO 8601 (UTC)' }),
  task: Type.String({ format: 'uuid', description: 'The stream task' }),
  status: Type.Union([Type.String(), Type.Null()], { description: 'The task status; null while the task does not exist (being created, or cleaned)' }),
}, { $id: 'AutomatedBroadcast' });

const Report = Type.Object({
  expected: Type.Integer({ description: 'Instances of replay and prerecorded events starting within the window' }),
  created: Type.Integer({ description: 'Stream tasks scheduled by this run' }),
  cancelled: Type.Integer({ description: 'Stream tasks cancelled by this run' }),
});

export function registerAutomationRoutes(app: App, automation: AutomationService): void {
  app.get('/automation/broadcasts', {
    schema: {
      tags, summary: 'Automated broadcasts and their stream tasks',
      description: 'Every instance the synchronizer holds a stream task for (upcoming, on air, and recent), ordered by start.',
      response: { 200: Type.Object({ broadcasts: Type.Array(BroadcastView) }) },
    },
  }, async () => ({
    broadcasts: (await automation.broadcasts()).map((b) => ({ ...b, startsAt: new Date(b.startsAt).toISOString() })),
  }));

  app.post('/automation/sync', {
    schema: {
      tags, summary: 'Synchronize the stream tasks with the programme now',
      description: 'Runs at once what otherwise runs every interval and on every programme change.',
      response: { 200: Report },
    },
  }, async () => automation.sync());
}
