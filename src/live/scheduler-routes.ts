import { Type, type Static } from 'typebox';
import { invalid } from '../core/errors.ts';
import type { App } from '../core/http/server.ts';
import { TASK_STATES, type TaskState } from './contract.ts';
import { errorAnswers, LIVE_ERRORS } from './errors.ts';
import { commaList } from './paging.ts';
import type { Scheduler, TaskPlan, WorkflowPlan } from './scheduler.ts';

const tags = ['live scheduler'];
const PATH = '/v1/scheduler/jobstartstop';
const config = { access: 'private' as const, errors: LIVE_ERRORS };
const BAD = { 400: 'Bad input: the error names the field' };
const UNKNOWN = { 404: 'No such workflow' };
const FIRED = { 409: 'The task is no longer pending (it fired, failed or was cancelled), or is firing now' };
// Year 9999: every time a Date can print.
const LAST_SECOND = 253402300799;

const UnixSeconds = (description: string) => Type.Integer({ minimum: 0, maximum: LAST_SECOND, description, examples: [1617386100] });
const TaskInput = Type.Object({
  // Bounded by what a number holds exactly: a time in milliseconds gets a message saying so (the service's).
  time_utc: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'When, in whole Unix seconds (UTC); it must be ahead of now', examples: [1617386100] }),
  notification: Type.Optional(Type.Integer({
    minimum: 1, maximum: LAST_SECOND, description: 'Seconds before time_utc to POST notify-activate / notify-deactivate to notification_url',
  })),
}, { additionalProperties: false });
const TaskView = Type.Object({
  state: Type.Union([Type.Literal('pending'), Type.Literal('cancelled'), Type.Literal('failed'), Type.Literal('finished')]),
  time_utc: Type.Integer(),
  notification: Type.Optional(Type.Integer()),
  fired_at: Type.Optional(Type.String({ format: 'date-time', description: 'When its task fired it (it was due at time_utc); set while it is firing too (state still pending: PUT and DELETE answer 409 then)' })),
  error: Type.Optional(Type.String({ description: 'Why it failed' })),
});
const WorkflowSchema = Type.Object({
  account_id: Type.String(),
  workflow_id: Type.String({ description: '32 lowercase hex' }),
  type: Type.Literal('jobstartstop'),
  job_id: Type.String(),
  activation: TaskView,
  deactivation: TaskView,
  description: Type.Optional(Type.String()),
  notification_url: Type.Optional(Type.String()),
  notification_webhook: Type.Optional(Type.String({ description: 'The webhook that signs the notifications (rotate its secret at POST /webhooks/{id}/secret/rotate)' })),
  workflow_start_time_utc: Type.Integer({ description: 'The activation time_utc' }),
  instance: Type.Optional(Type.Object({ event: Type.String(), start: Type.String() }, { description: 'The programme instance whose live window it is' })),
});
const Created = Type.Object({
  ...WorkflowSchema.properties,
  notification_secret: Type.Optional(Type.String({ description: 'whsec_...: the signing secret of notification_webhook, shown only on the POST that made it' })),
});
const Params = Type.Object({ workflow_id: Type.String({ minLength: 1, maxLength: 100, description: 'Workflow id' }) });
const CreateBody = Type.Object({
  job_id: Type.String({ minLength: 1, maxLength: 100, description: 'The live job to activate and deactivate' }),
  activation: TaskInput,
  deactivation: TaskInput,
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  notification_url: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: 'Where notifications are POSTed (signed per Standard Webhooks)' })),
  redundant_group: Type.Optional(Type.Boolean({ description: 'onair has no redundant groups: only false' })),
}, { additionalProperties: false });
const ChangeBody = Type.Object({
  activation: Type.Optional(TaskInput),
  deactivation: Type.Optional(TaskInput),
}, { additionalProperties: false, minProperties: 1 });
const ListQuery = Type.Object({
  job_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  state: Type.Optional(commaList(TASK_STATES, 'task states', { description: 'Workflows with either task in one of these states' })),
  start: Type.Optional(UnixSeconds('workflow_start_time_utc at or after')),
  end: Type.Optional(UnixSeconds('workflow_start_time_utc before')),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10 })),
  start_token: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The next_token of the previous page' })),
}, { additionalProperties: false });

const task = (given: Static<typeof TaskInput>): TaskPlan => ({ at: given.time_utc * 1000, ...(given.notification === undefined ? {} : { notification: given.notification }) });

function planOf(body: Static<typeof CreateBody>): WorkflowPlan {
  if (body.redundant_group === true) throw invalid('body.redundant_group', 'onair has no redundant groups; leave it out or false');
  return {
    job: body.job_id, activation: task(body.activation), deactivation: task(body.deactivation),
    ...(body.description === undefined ? {} : { description: body.description }),
    ...(body.notification_url === undefined ? {} : { notification_url: body.notification_url }),
  };
}

/** Seed 001's jobstartstop scheduler, and the list its users asked for (the clip scheduler's shape). */
export function registerSchedulerRoutes(app: App, scheduler: Scheduler): void {
  app.post(PATH, {
    config,
    schema: {
      tags, summary: 'Schedule the activation and deactivation of a live job', body: CreateBody,
      response: { 200: Created, ...errorAnswers(BAD) },
    },
  }, async (request, reply) => {
    const { workflow, secret } = await scheduler.create(planOf(request.body));
    if (secret === undefined) return workflow;
    return reply.header('Cache-Control', 'no-store').send({ ...workflow, notification_secret: secret });
  });

  app.get(PATH, {
    config,
    schema: {
      tags, summary: 'Jobstartstop workflows, by workflow_start_time_utc', querystring: ListQuery,
      response: { 200: Type.Object({ workflows: Type.Array(WorkflowSchema), next_token: Type.Union([Type.String(), Type.Null()]) }), ...errorAnswers(BAD) },
    },
  }, async (request) => {
    const { job_id, state, start, end, page_size = 10, start_token } = request.query;
    return scheduler.list({
      job: job_id, states: state === undefined ? undefined : ([...new Set(state.split(','))] as TaskState[]),
      from: start === undefined ? undefined : start * 1000, to: end === undefined ? undefined : end * 1000,
      limit: page_size, token: start_token,
    });
  });

  app.get(`${PATH}/:workflow_id`, {
    config,
    schema: { tags, summary: 'A jobstartstop workflow', params: Params, response: { 200: WorkflowSchema, ...errorAnswers({ ...BAD, ...UNKNOWN }) } },
  }, async (request) => scheduler.view(request.params.workflow_id));

  app.put(`${PATH}/:workflow_id`, {
    config,
    schema: {
      tags, summary: 'Move the activation and/or the deactivation',
      description: 'Each task given replaces the pending one (time_utc and notification), validated as on creation; a task no longer pending is a 409.',
      params: Params, body: ChangeBody, response: { 200: WorkflowSchema, ...errorAnswers({ ...BAD, ...UNKNOWN, ...FIRED }) },
    },
  }, async (request) => {
    const { activation, deactivation } = request.body;
    return scheduler.change(request.params.workflow_id, {
      ...(activation ? { activation: task(activation) } : {}), ...(deactivation ? { deactivation: task(deactivation) } : {}),
    });
  });

  app.delete(`${PATH}/:workflow_id`, {
    config,
    schema: {
      tags, summary: 'Cancel a workflow', description: 'Before its activation both tasks are cancelled; after it, the deactivation only. Nothing left pending: 409.',
      params: Params, response: { 200: WorkflowSchema, ...errorAnswers({ ...BAD, ...UNKNOWN, ...FIRED }) },
    },
  }, async (request) => scheduler.cancel(request.params.workflow_id));
}
