import { DateTime } from 'luxon';

const NAIVE_OR_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;

/** Parses ISO 8601 date-times strictly (no 30 February); one without an offset is UTC, as the seed service takes it. */
export function parseDateTime(value: string): number | undefined {
  if (!NAIVE_OR_OFFSET.test(value)) return undefined;
  const parsed = DateTime.fromISO(value.replace(' ', 'T'), { zone: 'utc' });
  return parsed.isValid ? parsed.toMillis() : undefined;
}
