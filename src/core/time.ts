import { DateTime } from 'luxon';
import { invalid } from './errors.ts';
import { Text } from './http/validation.ts';

/**
 * Naive local date-times ("2026-12-04T20:00:00") are handled as "local ms": the epoch ms the same wall-clock
 * reading would have in UTC. Calendar arithmetic on them needs no zone; a zone only turns them into instants.
 */
export type LocalMs = number;

export const SECOND = 1000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

const NAIVE = /^([1-9]\d{3})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** The one schema of a naive local date-time in every request: its shape here, a real calendar time by parseLocal. */
export function NaiveLocal(description: string) {
  return Text(NAIVE.source, 'a local date-time without an offset, such as 2026-12-04T20:00:00 (seconds may be left out)', {
    description, examples: ['2026-12-04T20:00:00'],
  });
}

/** Parses a naive local date-time (seconds optional); undefined unless it names a real calendar time. */
export function parseLocal(text: string): LocalMs | undefined {
  const match = NAIVE.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0));
  const local = Date.UTC(year!, month! - 1, day!, hour!, minute!, second);
  const back = new Date(local);
  const exact = back.getUTCMonth() === month! - 1 && back.getUTCDate() === day! && back.getUTCHours() === hour!
    && back.getUTCMinutes() === minute! && back.getUTCSeconds() === second;
  return exact ? local : undefined;
}

/** The calendar date of a day number (days since 1970-01-01), by Howard Hinnant's civil_from_days. */
export function civil(dayNumber: number): { year: number; month: number; day: number } {
  const z = dayNumber + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shifted = Math.floor((5 * dayOfYear + 2) / 153);
  const month = shifted < 10 ? shifted + 3 : shifted - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day: dayOfYear - Math.floor((153 * shifted + 2) / 5) + 1 };
}

const [ZERO, DASH, T, COLON] = ['0', '-', 'T', ':'].map((c) => c.charCodeAt(0)) as [number, number, number, number];
const tens = (n: number) => ZERO + Math.floor(n / 10);
const units = (n: number) => ZERO + (n % 10);

/**
 * "2026-12-04T20:00:00" for years 1000 to 9999, without going through Date (schedules format many of them). Built
 * from its characters as one flat string: a template of eleven parts is a tree of string pieces that every later
 * comparison walks and every garbage collection traces (a quarter of the CPU of the automation's steady sync at
 * 30,000 instances).
 */
export function formatLocal(local: LocalMs): string {
  const dayNumber = Math.floor(local / DAY);
  const { year, month, day } = civil(dayNumber);
  const seconds = Math.floor((local - dayNumber * DAY) / SECOND);
  const [hh, mm, ss] = [Math.floor(seconds / 3600), Math.floor(seconds / 60) % 60, seconds % 60];
  const century = Math.floor(year / 100);
  return String.fromCharCode(tens(century), units(century), tens(year % 100), units(year), DASH, tens(month), units(month), DASH,
    tens(day), units(day), T, tens(hh), units(hh), COLON, tens(mm), units(mm), COLON, tens(ss), units(ss));
}

/** A naive local date-time in its one spelling (seconds written out), or undefined unless it is a real one. */
export function normalLocal(text: string): string | undefined {
  const local = parseLocal(text);
  return local === undefined ? undefined : formatLocal(local);
}

/** `text` as a naive local date-time in its one spelling; a 400 naming `field` unless it is a real one. */
export function localField(field: string, text: string): string {
  const normal = normalLocal(text);
  if (normal === undefined) throw invalid(field, `"${text}" is not a real local date-time such as 2026-12-04T20:00:00`);
  return normal;
}

const NAIVE_OR_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;

/** Parses ISO 8601 date-times strictly (no 30 February); one without an offset is UTC, as the seed service takes it. */
export function parseDateTime(value: string): number | undefined {
  if (!NAIVE_OR_OFFSET.test(value)) return undefined;
  const parsed = DateTime.fromISO(value.replace(' ', 'T'), { zone: 'utc' });
  return parsed.isValid ? parsed.toMillis() : undefined;
}
