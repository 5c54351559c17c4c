import { DateTime } from 'luxon';
import type { Instance, ProgrammeEvent } from './programme.ts';

/** Rules whose instances start at other times of day than the event's start: their planned times are not known here. */
const OTHER_TIMES = /BYHOUR|BYMINUTE|BYSECOND|FREQ=(HOURLY|MINUTELY|SECONDLY)/i;
/** Longer than any change of a zone's offset. */
const AFTER_CHANGE = { hours: 3 };

/** An instant read in a zone (luxon's zone data): formatting only, never a local time turned into an instant. */
const inZone = (instant: string, zone: string) => DateTime.fromISO(instant, { zone });

/**
 * The warnings of the DST change days an event's instances fall on, from the instants onair computed: a planned
 * start that does not exist that day (onair moves it forward by the gap), and one that happens twice (the first).
 */
export function dstWarnings(event: ProgrammeEvent, instances: Instance[]): string[] {
  if (OTHER_TIMES.test(event.recurrence?.rule ?? '')) return [];
  const planned = event.start.slice(11, 16);
  const warnings = instances.flatMap((instance) => {
    const at = inZone(instance.startsAt, event.timezone);
    const [date, wall] = [at.toISODate(), at.toFormat('HH:mm')];
    const included = (event.recurrence?.include ?? []).filter((local) => local.startsWith(`${date}T`)).map((local) => local.slice(11, 16));
    const expected = [planned, ...included];
    if (!expected.includes(wall)) {
      const moved = expected.filter((time) => time < wall).sort().at(-1) ?? planned;
      return [`${moved} does not exist on ${date} in ${event.timezone}; the show will start at ${wall}`];
    }
    // The zone's shift at a change after this instant: read the wall clock that much later; the same reading is the second time.
    const shift = at.offset - at.plus(AFTER_CHANGE).offset;
    if (shift > 0 && at.plus({ minutes: shift }).toFormat('HH:mm') === wall) {
      return [`${wall} happens twice on ${date} in ${event.timezone}; the show will start at the first (UTC${at.toFormat('Z')})`];
    }
    return [];
  });
  return [...new Set(warnings)];
}
