import { Cron } from 'croner';
import { IANAZone } from 'luxon';
import { Type, type Static, type TSchema } from 'typebox';
import { invalid } from '../core/errors.ts';
import { checkParameters } from './schema-check.ts';
import { parseDateTime } from '../core/time.ts';

/** A condition decides when a task becomes due; `after` is the earliest time it may be due from. */
interface Condition<S extends TSchema = TSchema> {
  parameters: S;
  dueAt(parameters: Static<S>, after: number): number;
  /** For recurring conditions: when the next occurrence after this one is due. */
  next?(parameters: Static<S>, after: number): number;
}

const AtParameters = Type.Object({
  datetime: Type.String({ description: 'ISO 8601; without an offset it is UTC', examples: ['2026-12-24T18:00:00+01:00'] }),
}, { additionalProperties: false });

const CronParameters = Type.Object({
  expression: Type.String({ minLength: 1, maxLength: 200, examples: ['0 20 * * 5'] }),
  timezone: Type.String({ default: 'UTC', description: 'IANA time zone the expression is read in' }),
}, { additionalProperties: false });

function cron(parameters: Static<typeof CronParameters>): Cron {
  if (!IANAZone.isValidZone(parameters.timezone)) {
    throw invalid('condition.parameters.timezone', `"${parameters.timezone}" is not an IANA time zone`);
  }
  try {
    return new Cron(parameters.expression, { timezone: parameters.timezone, paused: true });
  } catch (error) {
    throw invalid('condition.parameters.expression', (error as Error).message);
  }
}

function nextOccurrence(parameters: Static<typeof CronParameters>, after: number): number {
  const next = cron(parameters).nextRun(new Date(after));
  if (next === null) throw invalid('condition.parameters.expression', 'never occurs');
  return next.getTime();
}

const conditions: Record<string, Condition<any>> = {
  now: { parameters: Type.Object({}, { additionalProperties: false }), dueAt: (_p, after) => after },
  at: {
    parameters: AtParameters,
    dueAt(parameters: Static<typeof AtParameters>) {
      const at = parseDateTime(parameters.datetime);
      if (at === undefined) throw invalid('condition.parameters.datetime', 'must be an ISO 8601 date-time');
      return at;
    },
  } satisfies Condition<typeof AtParameters>,
  cron: { parameters: CronParameters, dueAt: nextOccurrence, next: nextOccurrence } satisfies Condition<typeof CronParameters>,
};

export const CONDITION_TYPES = Object.keys(conditions);

function conditionOf(type: string): Condition {
  const condition = conditions[type];
  if (!condition) throw invalid('condition.type', `unknown condition "${type}"; known: ${CONDITION_TYPES.join(', ')}`);
  return condition;
}

/** Validates a condition (400 naming the field); answers its parameters with their defaults and when it is first due. */
export function firstDue(type: string, given: Record<string, unknown>, now: number): { parameters: Record<string, unknown>; dueAt: number } {
  const condition = conditionOf(type);
  const parameters = checkParameters(condition.parameters, given, 'condition.parameters');
  return { parameters, dueAt: condition.dueAt(parameters, now) };
}

/** For a recurring condition, when its next occurrence after `after` is due; undefined for one-off ones. */
export function nextDue(type: string, parameters: Record<string, unknown>, after: number): number | undefined {
  return conditions[type]?.next?.(parameters, after);
}
