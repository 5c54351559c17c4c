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
  reserveAt: Type.String({ format: 'date-time', description: 'When the task plans to reserve the channel: ONAIR_AUTOMATION_RESERVE_LEAD before the start, ISO 8601 (UTC)' }),
  playerAt: Type.String({ format: 'date-time', description: 'When the task plans to start its player: ONAIR_AUTOMATION_STREAM_LEAD before the start, ISO 8601 (UTC)' }),
}, { $id: 'AutomatedBroadcast' });

const WindowTask = (what: string) => Type.Object({
  at: Type.String({ format: 'date-time', description: `When the job is ${what}, ISO 8601 (UTC)` }),
  state: Type.Union([Type.String(), Type.Null()], { description: 'The task\'s state in the scheduler (pending, cancelled, failed, finished); null without a workflow' }),
});

const WindowView = Type.Object({
  event: Type.String({ description: 'Event id' }),
  start: Type.String({ description: 'Naive local start of the instance' }),
  startsAt: Type.String({ format: 'date-time', description: 'The instance start, ISO 8601 (UTC)' }),
  endsAt: Type.String({ format: 'date-time', description: 'The instance end, ISO 8601 (UTC)' }),
  job: Type.String({ description: 'The live job the event names' }),
  workflow: Type.Union([Type.String(), Type.Null()], { description: 'The jobstartstop workflow; null while being made, or when refused (see error)' }),
  activation: WindowTask('opened: the lead before the start'),
  deactivation: WindowTask('closed: the grace after the end'),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the scheduler refused the window (an unknown or cancelled job)' }),
}, { $id: 'LiveWindow' });

const Report = Type.Object({
  expected: Type.Integer({ description: 'Instances of replay and prerecorded events starting within the window' }),
  created: Type.Integer({ description: 'Stream tasks scheduled by this run' }),
  cancelled: Type.Integer({ description: 'Stream tasks cancelled by this run' }),
  windows: Type.Object({
    expected: Type.Integer({ description: 'Live instances naming a job whose window reaches into the synchronizer\'s window' }),
    created: Type.Integer({ description: 'Workflows made by this run' }),
    moved: Type.Integer({ description: 'Deactivations moved by this run' }),
    retired: Type.Integer({ description: 'Workflows cancelled, or cut short, by this run' }),
  }),
});

const iso = (ms: number) => new Date(ms).toISOString();

export function registerAutomationRoutes(app: App, automation: AutomationService): void {
  app.get('/automation/broadcasts', {
    schema: {
      tags, summary: 'Automated broadcasts and their stream tasks',
      description: 'Every instance the synchronizer holds a stream task for (upcoming, on air, and recent), ordered by start.',
      response: { 200: Type.Object({ broadcasts: Type.Array(BroadcastView) }) },
    },
  }, async () => ({
    broadcasts: (await automation.broadcasts()).map((b) => ({ ...b, startsAt: iso(b.startsAt), reserveAt: iso(b.reserveAt), playerAt: iso(b.playerAt) })),
  }));

  app.get('/automation/windows', {
    schema: {
      tags, summary: 'Live windows and their jobstartstop workflows',
      description: 'Every live instance naming a job that the synchronizer holds a window for (upcoming, open, and recent), ordered by start.',
      response: { 200: Type.Object({ windows: Type.Array(WindowView) }) },
    },
  }, async () => ({
    windows: (await automation.windows()).map((w) => ({
      ...w, startsAt: iso(w.startsAt), endsAt: iso(w.endsAt),
      activation: { ...w.activation, at: iso(w.activation.at) }, deactivation: { ...w.deactivation, at: iso(w.deactivation.at) },
    })),
  }));

  app.post('/automation/sync', {
    schema: {
      tags, summary: 'Synchronize the stream tasks with the programme now',
      description: 'Runs at once what otherwise runs every interval and on every programme change.',
      response: { 200: Report },
    },
  }, async () => automation.sync());
}
