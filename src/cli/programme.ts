import { parseArgs } from 'node:util';
import { OnairClient } from './client.ts';
import type { Output } from './output.ts';
import { DAY, parseDateTime } from '../core/time.ts';

export const PROGRAMME_USAGE = `onair programme shows [--limit N] [--offset N]      shows, paged
onair programme show ID                             a show
onair programme add-show TITLE [--description TEXT] create a show
onair programme edit-show ID [--title T] [--description TEXT]
onair programme delete-show ID                      delete a show (it must have no events)
onair programme events [--show ID] [--type T]       events, paged (--limit, --offset)
onair programme event ID                            an event
onair programme add-event SHOW_ID TYPE START DURATION [--timezone TZ] [--rule RRULE] [--include T] [--exclude T] [--live-job JOB]
                                                    create an event: TYPE live|replay|prerecorded, START naive local
                                                    (2026-12-04T20:00:00), DURATION seconds or ISO 8601 (PT1H), TZ default UTC;
                                                    --include/--exclude repeatable local times (RDATE/EXDATE);
                                                    --live-job: the live job each instance opens (live events)
onair programme edit-event ID [--type T] [--start T] [--duration S] [--timezone TZ] [--rule RRULE|--no-rule]
                              [--live-job JOB|--no-live-job]
onair programme delete-event ID                     delete an event
onair programme schedule [--start T] [--end T] [--show ID] [--type T]
                                                    instances per event (default: the next 7 days; T in UTC
                                                    unless it has an offset)
onair programme instance EVENT_ID START             one instance of an event`;

const query = (values: Record<string, string | undefined>) => {
  const entries = Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries)}`;
};

const integer = (value: string | undefined) => (value === undefined ? undefined : Number(value));

interface Show { id: string; title: string }
interface Event { id: string; type: string; start: string; timezone: string }
const showSaid = (done: string) => (show: Show) => `show ${show.id} ${done}: ${show.title}`;
const eventSaid = (done: string) => (event: Event) => `event ${event.id} ${done}: ${event.type}, from ${event.start} ${event.timezone}`;

/** The schedule as one row per instance, in the order of the answer. */
const instances = (body: { count: number; schedules: Array<{ event: Event & { showId: string }; instances: Array<{ start: string; end: string }> }> }) => ({
  events: body.count,
  instances: body.schedules.flatMap(({ event, instances }) => instances.map(({ start, end }) => ({
    start, end, timezone: event.timezone, type: event.type, event: event.id, show: event.showId,
  }))),
});

export async function programmeCommand(args: string[], out: Output, client = new OnairClient()): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      limit: { type: 'string' }, offset: { type: 'string' }, show: { type: 'string' }, type: { type: 'string' },
      description: { type: 'string' }, title: { type: 'string' }, timezone: { type: 'string' }, rule: { type: 'string' },
      'no-rule': { type: 'boolean' }, include: { type: 'string', multiple: true }, exclude: { type: 'string', multiple: true },
      start: { type: 'string' }, end: { type: 'string' }, duration: { type: 'string' },
      'live-job': { type: 'string' }, 'no-live-job': { type: 'boolean' },
    },
  });
  const [verb, first, second, third, fourth] = positionals;
  const paging = { limit: values.limit, offset: values.offset };
  const recurrence = values.rule ? { rule: values.rule, include: values.include ?? [], exclude: values.exclude ?? [] } : undefined;
  switch (verb) {
    case 'shows':
      return out.print(await client.request('GET', `/shows${query(paging)}`));
    case 'show':
      if (!first) break;
      return out.print(await client.request('GET', `/shows/${encodeURIComponent(first)}`));
    case 'add-show':
      if (!first) break;
      return out.print(await client.request('POST', '/shows', { title: first, description: values.description }), showSaid('created'));
    case 'edit-show':
      if (!first) break;
      return out.print(await client.request('PATCH', `/shows/${encodeURIComponent(first)}`, { title: values.title, description: values.description }));
    case 'delete-show':
      if (!first) break;
      return out.print(await client.request('DELETE', `/shows/${encodeURIComponent(first)}`), showSaid('deleted'));
    case 'events':
      return out.print(await client.request('GET', `/events${query({ ...paging, show: values.show, type: values.type })}`));
    case 'event':
      if (!first) break;
      return out.print(await client.request('GET', `/events/${encodeURIComponent(first)}`));
    case 'add-event':
      if (!fourth) break;
      return out.print(await client.request('POST', '/events', {
        showId: first, type: second, start: third, duration: /^\d+$/.test(fourth ?? '') ? Number(fourth) : fourth, timezone: values.timezone ?? 'UTC', recurrence,
        liveJob: values['live-job'],
      }), eventSaid('created'));
    case 'edit-event':
      if (!first) break;
      return out.print(await client.request('PATCH', `/events/${encodeURIComponent(first)}`, {
        type: values.type, start: values.start, duration: integer(values.duration), timezone: values.timezone,
        recurrence: values['no-rule'] ? null : recurrence, liveJob: values['no-live-job'] ? null : values['live-job'],
      }));
    case 'delete-event':
      if (!first) break;
      return out.print(await client.request('DELETE', `/events/${encodeURIComponent(first)}`), eventSaid('deleted'));
    case 'schedule': {
      const start = values.start ?? new Date().toISOString();
      const from = parseDateTime(start);
      if (from === undefined) throw new Error(`--start must be an ISO 8601 date-time, got "${start}"`);
      const end = values.end ?? new Date(from + 7 * DAY).toISOString();
      return out.print(await client.request('GET', `/schedule${query({ start, end, ...paging, show: values.show, type: values.type })}`), instances);
    }
    case 'instance':
      if (!second) break;
      return out.print(await client.request('GET', `/instances/${encodeURIComponent(first!)}/${encodeURIComponent(second)}`));
  }
  process.stderr.write(`${PROGRAMME_USAGE}\n`);
  return 2;
}
