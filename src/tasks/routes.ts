import { Type } from 'typebox';
import { Text } from '../core/http/validation.ts';
import type { App } from '../core/http/server.ts';
import { notFound } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { EventBus } from '../core/events/bus.ts';
import { clean } from './cleaner.ts';
import { everyId, page, POSITION } from './lists.ts';
import type { TaskEngine } from './engine.ts';
import { STATUSES, Task, TaskInput, statusView, type Status } from './model.ts';

const Id = Type.Object({ id: Type.String({ format: 'uuid', description: 'Task id (UUID)' }) });
const StatusView = Type.Object({ task: Type.Ref('Task') }, {
  additionalProperties: true,
  description: 'The task with the timestamps of its status (enqueued, dequeued, slept, started, cancelled, failed, completed), error and result',
});
const Ids = Type.Array(Type.String({ format: 'uuid' }));
const ListQuery = Type.Object({
  status: Type.Optional(Text(`^(${STATUSES.join('|')})(,(${STATUSES.join('|')}))*$`, `a comma-separated list of ${STATUSES.join(', ')}`, {
    description: 'Only these statuses, comma-separated (e.g. failed,cancelled); the answer then comes in pages',
  })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Tasks per page (default 100); asks for pages' })),
  after: Type.Optional(Text(POSITION.source, 'the `next` of the previous page', { description: 'The `next` of the previous page' })),
}, { additionalProperties: false });
const ByStatus = Type.Partial(Type.Object(Object.fromEntries(STATUSES.map((s) => [s, Ids])) as Record<Status, typeof Ids>));
const Lists = Type.Object({
  ...ByStatus.properties,
  next: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Paged answers: where the next page starts, null on the last' })),
}, {
  description: 'Task ids by status, in enqueue order. Without parameters, every task of every status (seed 000); with '
    + '`status`, `limit` or `after`, one page of at most `limit` tasks over the statuses asked for, and `next`',
});
const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Problem')]));

export function registerTaskRoutes(app: App, engine: TaskEngine, clock: Clock, bus: EventBus): void {
  app.addSchema(Task);
  const tags = ['tasks'];

  app.get('/tasks', {
    schema: { tags, summary: 'Task ids by status', querystring: ListQuery, response: { 200: Lists } },
  }, async (request) => {
    const { status, limit, after } = request.query;
    if (status === undefined && limit === undefined && after === undefined) return everyId(engine.store);
    const statuses = status === undefined ? STATUSES : [...new Set(status.split(','))] as Status[];
    return page(engine.store, statuses, limit ?? 100, after);
  });

  app.get('/tasks/:id', {
    schema: {
      tags, summary: 'A task and its status', params: Id,
      response: { 200: Type.Object({ task: Type.Ref('Task'), status: Type.String() }), ...problems(400, 404) },
    },
  }, async (request) => {
    const record = await engine.store.get(request.params.id);
    if (!record) throw notFound(`Task ${request.params.id} does not exist`);
    return { task: record.task, status: record.status };
  });

  // A task's details carry its result, which may hold anything an operation returns.
  app.get('/tasks/:status/:id', {
    config: { access: 'private' },
    schema: {
      tags, summary: 'A task in a given status, with that status\'s details',
      params: Type.Object({ status: Type.Union(STATUSES.map((s) => Type.Literal(s))), id: Id.properties.id }),
      response: { 200: StatusView, ...problems(400, 404) },
    },
  }, async (request) => {
    const { status, id } = request.params;
    const record = await engine.store.get(id);
    if (!record) throw notFound(`There is no task ${id}`);
    if (record.status !== status) throw notFound(`Task ${id} is ${record.status}, not ${status}`);
    return statusView(record);
  });

  app.post('/tasks', {
    schema: {
      tags, summary: 'Schedule a task', body: TaskInput,
      response: { 201: StatusView, ...problems(400, 404) },
    },
  }, async (request, reply) => reply.code(201).send(statusView(await engine.submit(request.body))));

  app.delete('/tasks/:id', {
    schema: { tags, summary: 'Cancel a task', params: Id, response: { 200: StatusView, ...problems(400, 404, 409) } },
  }, async (request) => statusView(await engine.cancel(request.params.id)));

  app.post('/tasks/clean', {
    schema: {
      tags, summary: 'Remove finished tasks',
      description: 'Strategy `all` removes every finished task; `timedelta` {delta: ISO 8601 duration} those finished longer ago. '
        + 'A task that an unfinished task depends on is kept.',
      body: Type.Object({
        strategy: Type.Object({
          type: Type.String({ examples: ['all', 'timedelta'] }),
          parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        }, { additionalProperties: false }),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ removed: Type.Array(Type.String()) }), ...problems(400) },
    },
  }, async (request) => ({ removed: await clean(engine.store, bus, request.body.strategy, clock.now()) }));
}
