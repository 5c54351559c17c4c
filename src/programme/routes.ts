import { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { Clock } from '../core/clock.ts';
import { invalid, notFound } from '../core/errors.ts';
import type { App } from '../core/http/server.ts';
import { DAY, localField, NaiveLocal, parseDateTime } from '../core/time.ts';
import type { EventType } from './contract.ts';
import { calendar } from './ical.ts';
import { EVENT_TYPES, Event, EventInput, EventPatch, Show, ShowInput, ShowPatch } from './model.ts';
import type { Programme } from './service.ts';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
const FEED_BEHIND = 30 * DAY;
const FEED_AHEAD = 90 * DAY;

const tags = ['programme'];
const Id = Type.Object({ id: Type.String({ format: 'uuid' }) });
const paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, description: `Page size (default ${DEFAULT_LIMIT})` })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'Items to skip (default 0)' })),
};
const filters = {
  type: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Array(Type.String({ maxLength: 200 }), { maxItems: 10 })], {
    description: 'Event types: repeat the parameter or separate them with commas',
  })),
  show: Type.Optional(Type.String({ format: 'uuid', description: 'Only events of this show' })),
};
const instant = (what: string) => Type.String({ maxLength: 40, description: `${what}: ISO 8601; without an offset it is UTC`, examples: ['2026-12-04T00:00:00'] });
const Instance = Type.Object({
  start: Type.String({ description: 'Naive local start in the event\'s time zone' }),
  end: Type.String({ description: 'Naive local end in the event\'s time zone' }),
  startsAt: Type.String({ format: 'date-time', description: 'The instant it starts (UTC): a local start that does not exist (DST) moves forward by the gap, one that happens twice is the first' }),
  endsAt: Type.String({ format: 'date-time', description: 'The instant it ends (UTC)' }),
}, { description: 'An instance: its local times in the event\'s time zone, and the instants they are' });

const instanceView = ({ start, end, startsAt, endsAt }: { start: string; end: string; startsAt: number; endsAt: number }) =>
  ({ start, end, startsAt: new Date(startsAt).toISOString(), endsAt: new Date(endsAt).toISOString() });
const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Problem')]));
const listOf = (name: string, item: string) => Type.Object({
  count: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(), [name]: Type.Array(Type.Ref(item)),
});

function types(value: string | string[] | undefined): EventType[] | undefined {
  if (value === undefined) return undefined;
  const names = [value].flat().flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const name of names) {
    if (!(EVENT_TYPES as readonly string[]).includes(name)) throw invalid('type', `"${name}" is not one of ${EVENT_TYPES.join(', ')}`);
  }
  return names.length === 0 ? undefined : names as EventType[];
}

function instantOf(field: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = parseDateTime(value);
  if (parsed === undefined) throw invalid(field, `"${value}" is not an ISO 8601 date-time`);
  return parsed;
}

function window(start: string | undefined, end: string | undefined, fallback: { from: number; to: number }) {
  const from = instantOf('start', start, fallback.from);
  const to = instantOf('end', end, fallback.to);
  if (to <= from) throw invalid('end', 'must be after start');
  return { from, to };
}

const page = (q: { limit?: number; offset?: number }) => ({ limit: q.limit ?? DEFAULT_LIMIT, offset: q.offset ?? 0 });

export function registerProgrammeRoutes(app: App, programme: Programme, clock: Clock): void {
  app.addSchema(Show);
  app.addSchema(Event);
  const ShowRef = Type.Ref('Show');
  const EventRef = Type.Ref('ProgrammeEvent');

  app.post('/shows', {
    schema: { tags, summary: 'Create a show', body: ShowInput, response: { 201: ShowRef, ...problems(400) } },
  }, async (request, reply) => reply.code(201).send(await programme.createShow(request.body)));

  app.get('/shows', {
    config: { access: 'public' },
    schema: { tags, summary: 'Shows, paged', querystring: Type.Object(paging), response: { 200: listOf('shows', 'Show'), ...problems(400) } },
  }, async (request) => {
    const paged = page(request.query);
    return { ...paged, ...(await programme.store.listShows(paged)) };
  });

  app.get('/shows/:id', {
    config: { access: 'public' },
    schema: { tags, summary: 'A show', params: Id, response: { 200: ShowRef, ...problems(400, 404) } },
  }, async (request) => programme.show(request.params.id));

  app.patch('/shows/:id', {
    schema: { tags, summary: 'Change a show', params: Id, body: ShowPatch, response: { 200: ShowRef, ...problems(400, 404) } },
  }, async (request) => programme.updateShow(request.params.id, request.body));

  app.delete('/shows/:id', {
    schema: { tags, summary: 'Delete a show without events', params: Id, response: { 200: ShowRef, ...problems(400, 404, 409) } },
  }, async (request) => programme.deleteShow(request.params.id));

  app.post('/events', {
    schema: { tags, summary: 'Create an event', body: EventInput, response: { 201: EventRef, ...problems(400) } },
  }, async (request, reply) => reply.code(201).send(await programme.createEvent(request.body)));

  app.get('/events', {
    schema: {
      tags, summary: 'Events, paged', querystring: Type.Object({ ...paging, ...filters }),
      response: { 200: listOf('events', 'ProgrammeEvent'), ...problems(400) },
    },
  }, async (request) => {
    const paged = page(request.query);
    const filter = { show: request.query.show, types: types(request.query.type) };
    return { ...paged, ...(await programme.store.listEvents(filter, paged)) };
  });

  app.get('/events/:id', {
    schema: { tags, summary: 'An event', params: Id, response: { 200: EventRef, ...problems(400, 404) } },
  }, async (request) => programme.event(request.params.id));

  app.patch('/events/:id', {
    schema: { tags, summary: 'Change an event (recurrence: null removes it)', params: Id, body: EventPatch, response: { 200: EventRef, ...problems(400, 404) } },
  }, async (request) => programme.updateEvent(request.params.id, request.body));

  app.delete('/events/:id', {
    schema: { tags, summary: 'Delete an event', params: Id, response: { 200: EventRef, ...problems(400, 404) } },
  }, async (request) => programme.deleteEvent(request.params.id));

  app.get('/schedule', {
    config: { access: 'public' },
    schema: {
      tags, summary: 'Per event, the instances overlapping a window',
      description: 'Events are paged, ordered by their first instance in the window; `count` is how many events have instances there. '
        + 'Instance times are naive local times in the event\'s time zone.',
      querystring: Type.Object({ start: instant('Window start'), end: instant('Window end'), ...paging, ...filters }),
      response: {
        200: Type.Object({
          count: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(),
          schedules: Type.Array(Type.Object({ event: EventRef, instances: Type.Array(Instance) })),
        }),
        ...problems(400),
      },
    },
  }, async (request) => {
    const { from, to } = window(request.query.start, request.query.end, { from: 0, to: 0 });
    const paged = page(request.query);
    const filter = { show: request.query.show, types: types(request.query.type) };
    const { count, schedules } = await programme.schedule(from, to, filter, paged);
    return {
      count, ...paged,
      schedules: schedules.map(({ event, instances }) => ({ event, instances: instances.map(instanceView) })),
    };
  });

  app.get('/schedule.ics', {
    config: { access: 'public' },
    schema: {
      tags, summary: 'The schedule as an iCalendar feed to subscribe to',
      description: 'One VEVENT per instance, times in UTC. Default window: 30 days back to 90 days ahead.',
      querystring: Type.Object({ start: Type.Optional(instant('Window start')), end: Type.Optional(instant('Window end')), ...filters }),
      produces: ['text/calendar'],
      response: { ...problems(400) },
    },
  }, async (request, reply) => {
    const now = clock.now();
    const { from, to } = window(request.query.start, request.query.end, { from: now - FEED_BEHIND, to: now + FEED_AHEAD });
    const filter = { show: request.query.show, types: types(request.query.type) };
    const schedules = await programme.feed(from, to, filter);
    const shows = await programme.store.showsById([...new Set(schedules.map((s) => s.event.showId))]);
    return reply.type('text/calendar; charset=utf-8').header('content-disposition', 'inline; filename="onair.ics"')
      .send(Readable.from(calendar(schedules, shows, now)));
  });

  app.get('/instances/:eventId/:start', {
    config: { access: 'public' },
    schema: {
      tags, summary: 'One instance of an event',
      params: Type.Object({ eventId: Type.String({ format: 'uuid' }), start: NaiveLocal('Naive local start') }),
      response: { 200: Type.Object({ event: EventRef, instance: Instance }), ...problems(400, 404) },
    },
  }, async (request) => {
    const { eventId } = request.params;
    const start = localField('params.start', request.params.start);
    const found = await programme.getInstance(eventId, start);
    if (!found) throw notFound(`Event ${eventId} has no instance starting at ${start}`);
    return { event: found.event, instance: instanceView(found.instance) };
  });
}
