import { invalid } from './errors.ts';
import { DAY, HOUR, MINUTE, SECOND } from './time.ts';

/**
 * ISO 8601 durations of fixed length: weeks, days, hours, minutes and seconds (to the millisecond). Years and months
 * have no fixed length, so they are refused rather than read as 365 or 30 days.
 */
const FIXED = /^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;
const UNIT_MS = [7 * DAY, DAY, HOUR, MINUTE, SECOND];

export const DURATION_WORDS = 'an ISO 8601 duration of weeks, days, hours, minutes and seconds, such as P7D, PT1H30M or PT0.5S';

/** Milliseconds of a fixed-length ISO 8601 duration; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = FIXED.exec(text);
  if (!match) return undefined;
  return Math.round(match.slice(1).reduce((sum, part, i) => sum + (part === undefined ? 0 : Number(part) * UNIT_MS[i]!), 0));
}

/** Why `text` is not a fixed-length duration, in words. */
export function durationProblem(text: string): string {
  const calendar = /^P[^T]*\d[YM]/.test(text);
  return calendar
    ? `"${text}" uses years or months, which have no fixed length: write days instead (P30D)`
    : `"${text}" must be ${DURATION_WORDS}`;
}

/** `value` as milliseconds, at least `min`; a 400 naming `field` otherwise. */
export function durationField(field: string, value: unknown, min = 0): number {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined) throw invalid(field, typeof value === 'string' ? durationProblem(value) : `must be ${DURATION_WORDS}`);
  if (ms < min) throw invalid(field, `must be at least ${min / 1000} s`);
  return ms;
}
