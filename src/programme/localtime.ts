import { IANAZone } from 'luxon';
import { DAY, type LocalMs } from '../core/time.ts';

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
