import { IANAZone } from 'luxon';

/**
 * Naive local date-times ("2026-12-04T20:00:00") are handled as "local ms": the epoch ms the same wall-clock
 * reading would have in UTC. Calendar arithmetic on them needs no zone; a zone only turns them into instants.
 */
export type LocalMs = number;

export const SECOND = 1000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

const NAIVE = /^([1-9]\d{3})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

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

export function formatLocal(local: LocalMs): string {
  return new Date(local).toISOString().slice(0, 19);
}

/** UTC offsets of one zone, memoised per hour: schedules ask about the same hours again and again. */
class ZoneOffsets {
  readonly #zone: IANAZone;
  readonly #hours = new Map<number, number>();

  constructor(name: string) {
    this.#zone = IANAZone.create(name);
  }

  /** The offset (ms) in force at `epoch`. */
  at(epoch: number): number {
    const hour = Math.floor(epoch / HOUR);
    let offset = this.#hours.get(hour);
    if (offset === undefined) {
      const first = this.#zone.offset(hour * HOUR);
      // Zones change offset at most once an hour: when the hour's ends agree, the whole hour has that offset.
      offset = first === this.#zone.offset(hour * HOUR + HOUR - 1) ? first * 60_000 : Number.NaN;
      if (this.#hours.size > 500_000) this.#hours.clear();
      this.#hours.set(hour, offset);
    }
    return Number.isNaN(offset) ? this.#zone.offset(epoch) * 60_000 : offset;
  }
}

const zones = new Map<string, ZoneOffsets>();

function offsets(zone: string): ZoneOffsets {
  let found = zones.get(zone);
  if (!found) {
    found = new ZoneOffsets(zone);
    zones.set(zone, found);
  }
  return found;
}

export function isZone(name: string): boolean {
  return IANAZone.isValidZone(name);
}

/**
 * The instant of a local time in `zone`. The one rule for both kinds of DST trouble: use the offset in force
 * before the transition. A nonexistent time (spring forward) therefore moves forward by the gap (02:30 -> 03:30),
 * as RFC 5545 says for DTSTART; a repeated time (fall back) is its first occurrence, at the earlier offset.
 */
export function toEpoch(local: LocalMs, zone: string): number {
  const zoneOffsets = offsets(zone);
  const before = zoneOffsets.at(local - DAY);
  const after = zoneOffsets.at(local + DAY);
  const early = local - before;
  if (before === after || early + zoneOffsets.at(early) === local) return early;
  const late = local - after;
  return late + zoneOffsets.at(late) === local ? late : early;
}

export function toLocal(epoch: number, zone: string): LocalMs {
  return epoch + offsets(zone).at(epoch);
}
