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

/** The offsets in force from each instant on (ascending), over one UTC year. */
interface YearOffsets {
  from: number[];
  offset: number[];
}

// Zones keep an offset for at least a day: a year's days, sampled at midnight UTC, show every change.
const MAX_TABLES = 20_000;

/**
 * UTC offsets of one zone, as a table of its changes per year, built from luxon's zone data on first use and then
 * read by binary search: schedules ask about the same years again and again, and luxon's lookups are slow.
 */
class ZoneOffsets {
  readonly #zone: IANAZone;
  readonly #years = new Map<number, YearOffsets>();

  constructor(name: string) {
    this.#zone = IANAZone.create(name);
  }

  /** The offset (ms) in force at `epoch`. */
  at(epoch: number): number {
    const { from, offset } = this.#year(new Date(epoch).getUTCFullYear());
    let low = 0;
    let high = from.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (from[middle]! <= epoch) low = middle;
      else high = middle - 1;
    }
    return offset[low]!;
  }

  #year(year: number): YearOffsets {
    let table = this.#years.get(year);
    if (table) return table;
    const offsetAt = (epoch: number) => this.#zone.offset(epoch) * 60_000;
    const start = Date.UTC(year, 0, 1);
    const last = Date.UTC(year + 1, 0, 1) - 1;
    table = { from: [start], offset: [offsetAt(start)] };
    for (let before = start; before < last;) {
      const sample = Math.min(before + DAY, last);
      if (offsetAt(sample) !== table.offset.at(-1)) {
        // The change lies in (before, sample]: halve the interval down to the millisecond.
        let low = before;
        let high = sample;
        while (high - low > 1) {
          const middle = Math.floor((low + high) / 2);
          if (offsetAt(middle) === table.offset.at(-1)) low = middle;
          else high = middle;
        }
        table.from.push(high);
        table.offset.push(offsetAt(high));
        before = high;
      } else {
        before = sample;
      }
    }
    if (this.#years.size >= MAX_TABLES) this.#years.clear();
    this.#years.set(year, table);
    return table;
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
