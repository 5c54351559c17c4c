import { DAY, HOUR, MINUTE, SECOND } from '../core/time.ts';

/** Standard Webhooks' example schedule: the delay before each attempt, the first at once. */
export const SCHEDULE = [0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR];
/** Each delay moves by up to this share either way, so that many messages failing together do not come back together. */
const JITTER = 0.1;
/** A subscription whose deliveries all failed for this long is disabled. */
export const FAILING_FOR = 5 * DAY;
const LONGEST_RETRY_AFTER = DAY;

/** When the attempt after attempt `made` is due, or undefined when the schedule is over; `random` is in [0, 1). */
export function nextAttemptAt(made: number, now: number, random: () => number, retryAfterMs?: number): number | undefined {
  const delay = SCHEDULE[made];
  if (delay === undefined) return undefined;
  if (retryAfterMs !== undefined) return now + Math.min(retryAfterMs, LONGEST_RETRY_AFTER);
  return now + Math.round(delay * (1 + JITTER * (2 * random() - 1)));
}

/** A Retry-After header's wait in milliseconds: seconds, or an HTTP date; undefined when absent or unreadable. */
export function retryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * SECOND;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
