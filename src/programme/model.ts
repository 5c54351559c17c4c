import { Type, type Static } from 'typebox';
import { invalid } from '../core/errors.ts';
import type { ProgrammeEvent } from './contract.ts';
import { formatLocal, isZone, parseLocal } from './localtime.ts';

export const EVENT_TYPES = ['live', 'replay', 'prerecorded'] as const;

const naive = (what: string) => Type.String({
  maxLength: 40, description: `${what}: naive local date-time in the event's time zone (ISO 8601 without offset)`,
  examples: ['2026-12-04T20:00:00'],
});

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

const eventFields = {
  showId: Type.String({ format: 'uuid' }),
  type: EventType,
  start: naive('The first instance'),
  duration: Type.Integer({ minimum: 1, maximum: 366 * 86_400, description: 'Seconds of each instance' }),
  timezone: Type.String({ minLength: 1, maxLength: 100, description: 'IANA time zone', examples: ['Europe/Warsaw'] }),
};

export const EventInput = Type.Object({
  ...eventFields,
  recurrence: Type.Optional(Type.Union([Recurrence, Type.Null()])),
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
}, { $id: 'ProgrammeEvent' });

function local(field: string, text: string): string {
  const parsed = parseLocal(text);
  if (parsed === undefined) throw invalid(field, `"${text}" is not a naive local date-time like 2026-12-04T20:00:00`);
  return formatLocal(parsed);
}

function locals(field: string, texts: string[] | undefined): string[] {
  return [...new Set((texts ?? []).map((text, i) => local(`${field}[${i}]`, text)))].sort();
}

/** An event from input: times in one spelling, the zone known. The rule is checked where it is expanded. */
export function normalizeEvent(id: string, input: EventInput): ProgrammeEvent {
  if (!isZone(input.timezone)) throw invalid('timezone', `"${input.timezone}" is not an IANA time zone`);
  const recurrence = input.recurrence
    ? { rule: input.recurrence.rule.trim(), include: locals('recurrence.include', input.recurrence.include), exclude: locals('recurrence.exclude', input.recurrence.exclude) }
    : null;
  return {
    id, showId: input.showId, type: input.type, start: local('start', input.start), duration: input.duration,
    timezone: input.timezone, recurrence,
  };
}
