import { Type, type Static } from 'typebox';
import { invalid } from '../core/errors.ts';
import type { ProgrammeEvent } from './contract.ts';
import { isZone } from './localtime.ts';
import { localField, NaiveLocal } from '../core/time.ts';
import { durationField } from '../core/duration.ts';
import { Text } from '../core/http/validation.ts';

export const EVENT_TYPES = ['live', 'replay', 'prerecorded'] as const;

const naive = (what: string) => NaiveLocal(`${what}: naive local date-time in the event's time zone (ISO 8601 without offset)`);

export const Show = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  description: Type.String(),
}, { $id: 'Show' });
export type Show = Static<typeof Show>;

export const ShowInput = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 500 }),
  description: Type.Optional(Type.String({ maxLength: 10_000 })),
}, { additionalProperties: false });

export const ShowPatch = Type.Partial(ShowInput, { additionalProperties: false });

const Recurrence = Type.Object({
  rule: Type.String({ minLength: 1, maxLength: 1000, description: 'RFC 5545 RRULE', examples: ['FREQ=WEEKLY;BYDAY=FR'] }),
  include: Type.Optional(Type.Array(naive('An extra instance (RDATE)'), { maxItems: 1000 })),
  exclude: Type.Optional(Type.Array(naive('A cancelled instance (EXDATE)'), { maxItems: 1000 })),
}, { additionalProperties: false });

const EventType = Type.Union([Type.Literal('live'), Type.Literal('replay'), Type.Literal('prerecorded')]);

const MAX_DURATION_S = 366 * 86_400;

const eventFields = {
  showId: Type.String({ format: 'uuid' }),
  type: EventType,
  start: naive('The first instance'),
  duration: Type.Integer({ minimum: 1, maximum: MAX_DURATION_S, description: 'Seconds of each instance' }),
  timezone: Type.String({ minLength: 1, maxLength: 100, description: 'IANA time zone', examples: ['Europe/Warsaw'] }),
};

/** On input a duration may also be an ISO 8601 duration, as every other duration in onair; it is kept in seconds. */
const DurationInput = Type.Union([
  eventFields.duration,
  Type.String({ maxLength: 40, description: 'ISO 8601 duration of whole seconds', examples: ['PT1H30M'] }),
], { description: 'Seconds of each instance, or an ISO 8601 duration (PT1H30M); answers give seconds' });

const LIVE_JOB_DESCRIPTION = 'A live event\'s job, opened for each instance by the automation; null when none (and on other event types)';

export const EventInput = Type.Object({
  ...eventFields,
  duration: DurationInput,
  recurrence: Type.Optional(Type.Union([Recurrence, Type.Null()])),
  liveJob: Type.Optional(Type.Union([Text('^[0-9a-f]{32}$', 'a job id: 32 lowercase hexadecimal digits'), Type.Null()], { description: LIVE_JOB_DESCRIPTION })),
}, { additionalProperties: false });
export type EventInput = Static<typeof EventInput>;

export const EventPatch = Type.Partial(EventInput, { additionalProperties: false });
export type EventPatch = Static<typeof EventPatch>;

export const Event = Type.Object({
  id: Type.String({ format: 'uuid' }),
  ...eventFields,
  recurrence: Type.Union([
    Type.Object({ rule: Type.String(), include: Type.Array(Type.String()), exclude: Type.Array(Type.String()) }),
    Type.Null(),
  ]),
  liveJob: Type.Union([Type.String(), Type.Null()], { description: LIVE_JOB_DESCRIPTION }),
}, { $id: 'ProgrammeEvent' });

function locals(field: string, texts: string[] | undefined): string[] {
  return [...new Set((texts ?? []).map((text, i) => localField(`${field}.${i}`, text)))].sort();
}

/** Seconds of an event's duration given as seconds or as an ISO 8601 duration of whole seconds. */
function seconds(duration: number | string): number {
  if (typeof duration === 'number') return duration;
  const ms = durationField('duration', duration, 1000);
  if (ms % 1000 !== 0 || ms > MAX_DURATION_S * 1000) throw invalid('duration', `must be whole seconds, at most ${MAX_DURATION_S} (366 days)`);
  return ms / 1000;
}

/** An event from input: times in one spelling, the zone known. The rule is checked where it is expanded. */
export function normalizeEvent(id: string, input: EventInput): ProgrammeEvent {
  if (!isZone(input.timezone)) throw invalid('timezone', `"${input.timezone}" is not an IANA time zone`);
  const liveJob = input.liveJob ?? null;
  if (liveJob !== null && input.type !== 'live') throw invalid('body.liveJob', `only a live event names a job; this one is ${input.type} (give null)`);
  const recurrence = input.recurrence
    ? { rule: input.recurrence.rule.trim(), include: locals('recurrence.include', input.recurrence.include), exclude: locals('recurrence.exclude', input.recurrence.exclude) }
    : null;
  return {
    id, showId: input.showId, type: input.type, start: localField('start', input.start), duration: seconds(input.duration),
    timezone: input.timezone, recurrence, liveJob,
  };
}
