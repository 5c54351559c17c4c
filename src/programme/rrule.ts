import { civil, DAY, HOUR, MINUTE, SECOND, type LocalMs } from '../core/time.ts';
import { PAUSE, type Work } from './work.ts';

/**
 * RFC 5545 recurrence rules (RRULE), parsed and expanded over naive local time. Expansion walks the rule's
 * periods (years, months, weeks, days, hours, ...) one at a time, so a rule without end costs only the periods
 * of the window asked for.
 */

export const FREQUENCIES = ['YEARLY', 'MONTHLY', 'WEEKLY', 'DAILY', 'HOURLY', 'MINUTELY', 'SECONDLY'] as const;
const [YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY, SECONDLY] = [0, 1, 2, 3, 4, 5, 6];
const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
const UNIT_MS = [0, 0, 0, DAY, HOUR, MINUTE, SECOND];
/** Expansion stops at the end of year 9999, as other RRULE libraries do, so an impossible rule ends. */
const LAST_LOCAL = Date.UTC(9999, 11, 31, 23, 59, 59);

export interface WeekdayNum {
  /** 0 = Monday ... 6 = Sunday. */
  weekday: number;
  /** 0 = every such weekday of the period; n = the nth; -n = the nth from the end. */
  nth: number;
}

export interface Rule {
  freq: number;
  interval: number;
  count: number | undefined;
  /** A local UNTIL, or a UTC one (epoch ms) when it ends with Z. */
  until: { local: LocalMs } | { utc: number } | undefined;
  bySecond: number[] | undefined;
  byMinute: number[] | undefined;
  byHour: number[] | undefined;
  byDay: WeekdayNum[] | undefined;
  byMonthDay: number[] | undefined;
  byYearDay: number[] | undefined;
  byWeekNo: number[] | undefined;
  byMonth: number[] | undefined;
  bySetPos: number[] | undefined;
  wkst: number;
}

export class RuleError extends Error {}

const MAX_COUNT = 100_000;

function integers(name: string, value: string, min: number, max: number, signed: boolean): number[] {
  const list = value.split(',').map((item) => {
    const n = /^[+-]?\d{1,6}$/.test(item) ? Number(item) : Number.NaN;
    const ok = Number.isInteger(n) && (signed ? n !== 0 && Math.abs(n) >= min && Math.abs(n) <= max : n >= min && n <= max);
    if (!ok) throw new RuleError(`${name} value "${item}" must be ${signed ? `±${min}..${max}` : `${min}..${max}`}`);
    return n;
  });
  return [...new Set(list)].sort((a, b) => a - b);
}

function weekday(name: string, text: string): number {
  const index = WEEKDAYS.indexOf(text);
  if (index === -1) throw new RuleError(`${name} value "${text}" is not a weekday (MO, TU, WE, TH, FR, SA, SU)`);
  return index;
}

function weekdayNums(value: string): WeekdayNum[] {
  return value.split(',').map((item) => {
    const match = /^([+-]?\d{1,2})?([A-Z]{2})$/.exec(item);
    if (!match) throw new RuleError(`BYDAY value "${item}" is not a weekday with an optional ordinal (e.g. FR, 1FR, -1SU)`);
    const nth = match[1] === undefined ? 0 : Number(match[1]);
    if (match[1] !== undefined && (nth === 0 || Math.abs(nth) > 53)) throw new RuleError(`BYDAY ordinal in "${item}" must be ±1..53`);
    return { weekday: weekday('BYDAY', match[2]!), nth };
  });
}

function until(value: string): Rule['until'] {
  const match = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/.exec(value);
  const [year, month, day, hour, minute, second] = (match?.slice(1, 7) ?? []).map((part) => Number(part ?? 0));
  const local = match ? Date.UTC(year!, month! - 1, day!, hour!, minute!, second!) : Number.NaN;
  const date = new Date(local);
  if (!match || Number.isNaN(local) || date.getUTCDate() !== day || date.getUTCHours() !== hour || date.getUTCSeconds() !== second) {
    throw new RuleError(`UNTIL "${value}" must be a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, optionally with Z)`);
  }
  if (match[7]) return { utc: local };
  // A date alone includes the whole of that local day.
  return { local: match[4] === undefined ? local + DAY - SECOND : local };
}

/** Parses RRULE text ("FREQ=WEEKLY;BYDAY=FR", an "RRULE:" prefix allowed); throws RuleError naming the part at fault. */
export function parseRule(text: string): Rule {
  const parts = new Map<string, string>();
  for (const part of text.trim().replace(/^RRULE:/i, '').split(';')) {
    const [name, value, ...rest] = part.split('=');
    if (!name || value === undefined || value === '' || rest.length > 0) throw new RuleError(`"${part}" is not NAME=VALUE`);
    const key = name.toUpperCase();
    if (parts.has(key)) throw new RuleError(`${key} appears twice`);
    parts.set(key, value.toUpperCase());
  }
  const take = <T>(name: string, read: (value: string) => T): T | undefined => {
    const value = parts.get(name);
    parts.delete(name);
    return value === undefined ? undefined : read(value);
  };
  const freqText = take('FREQ', (v) => v);
  if (freqText === undefined) throw new RuleError('FREQ is required');
  const freq = (FREQUENCIES as readonly string[]).indexOf(freqText);
  if (freq === -1) throw new RuleError(`FREQ "${freqText}" must be one of ${FREQUENCIES.join(', ')}`);
  const rule: Rule = {
    freq,
    interval: take('INTERVAL', (v) => integers('INTERVAL', v, 1, 9999, false)[0]!) ?? 1,
    count: take('COUNT', (v) => integers('COUNT', v, 1, MAX_COUNT, false)[0]!),
    until: take('UNTIL', until),
    bySecond: take('BYSECOND', (v) => integers('BYSECOND', v, 0, 59, false)),
    byMinute: take('BYMINUTE', (v) => integers('BYMINUTE', v, 0, 59, false)),
    byHour: take('BYHOUR', (v) => integers('BYHOUR', v, 0, 23, false)),
    byDay: take('BYDAY', weekdayNums),
    byMonthDay: take('BYMONTHDAY', (v) => integers('BYMONTHDAY', v, 1, 31, true)),
    byYearDay: take('BYYEARDAY', (v) => integers('BYYEARDAY', v, 1, 366, true)),
    byWeekNo: take('BYWEEKNO', (v) => integers('BYWEEKNO', v, 1, 53, true)),
    byMonth: take('BYMONTH', (v) => integers('BYMONTH', v, 1, 12, false)),
    bySetPos: take('BYSETPOS', (v) => integers('BYSETPOS', v, 1, 366, true)),
    wkst: take('WKST', (v) => weekday('WKST', v)) ?? 0,
  };
  const [unknown] = parts.keys();
  if (unknown !== undefined) throw new RuleError(`${unknown} is not a recurrence rule part`);
  checkCombinations(rule);
  return rule;
}

function checkCombinations(rule: Rule): void {
  const freq = FREQUENCIES[rule.freq];
  if (rule.count !== undefined && rule.until !== undefined) throw new RuleError('COUNT and UNTIL must not both be given');
  if (rule.byDay?.some((d) => d.nth !== 0) && (rule.freq > MONTHLY || (rule.freq === YEARLY && rule.byWeekNo))) {
    throw new RuleError(`BYDAY ordinals (like 1FR) need FREQ=MONTHLY or YEARLY without BYWEEKNO, not ${freq}`);
  }
  if (rule.byMonthDay && rule.freq === WEEKLY) throw new RuleError('BYMONTHDAY must not be used with FREQ=WEEKLY');
  if (rule.byYearDay && rule.freq >= MONTHLY && rule.freq <= DAILY) throw new RuleError(`BYYEARDAY must not be used with FREQ=${freq}`);
  if (rule.byWeekNo && rule.freq !== YEARLY) throw new RuleError('BYWEEKNO needs FREQ=YEARLY');
  const other = rule.bySecond ?? rule.byMinute ?? rule.byHour ?? rule.byDay ?? rule.byMonthDay ?? rule.byYearDay ?? rule.byWeekNo ?? rule.byMonth;
  if (rule.bySetPos && !other) throw new RuleError('BYSETPOS needs another BYxxx part');
}

/** The rule is finite: it has COUNT or UNTIL. */
export const isFinite = (rule: Rule): boolean => rule.count !== undefined || rule.until !== undefined;

const dayNumber = (year: number, month: number, day: number) => Date.UTC(year, month - 1, day) / DAY;
const weekdayOf = (day: number) => (((day + 3) % 7) + 7) % 7;
const yearLength = (year: number) => (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 366 : 365);

/** Everything the BYxxx filters ask about one day. */
interface DayFacts {
  number: number;
  year: number;
  month: number;
  day: number;
  weekday: number;
}

function facts(number: number): DayFacts {
  return { number, ...civil(number), weekday: weekdayOf(number) };
}

const inList = (list: number[], value: number, length: number) => list.includes(value) || list.includes(value - length - 1);

/** The expansion of one rule from one DTSTART; stateless between calls, so one compiled rule serves many windows. */
export class Expansion {
  readonly #rule: Rule;
  readonly #start: LocalMs;
  readonly #byHour: number[] | undefined;
  readonly #byMinute: number[] | undefined;
  readonly #bySecond: number[] | undefined;
  readonly #byMonth: number[] | undefined;
  readonly #byMonthDay: number[] | undefined;
  readonly #byDay: WeekdayNum[] | undefined;
  /** Offsets into a day (ms) of the times each day yields, for FREQ=DAILY and coarser. */
  readonly #times: number[];
  readonly #weekOne = new Map<number, number>();
  #lastDay: { number: number; skip: LocalMs | undefined } | undefined;
  /** Weeks are numbered from the first WKST on or after 1970-01-01, so that week k starts on day 7k + shift. */
  readonly #weekShift: number;

  constructor(rule: Rule, start: LocalMs) {
    this.#rule = rule;
    this.#start = start;
    this.#weekShift = (rule.wkst - weekdayOf(0) + 7) % 7;
    const first = new Date(start);
    const s = facts(Math.floor(start / DAY));
    this.#byHour = rule.byHour ?? (rule.freq < HOURLY ? [first.getUTCHours()] : undefined);
    this.#byMinute = rule.byMinute ?? (rule.freq < MINUTELY ? [first.getUTCMinutes()] : undefined);
    this.#bySecond = rule.bySecond ?? (rule.freq < SECONDLY ? [first.getUTCSeconds()] : undefined);
    this.#byMonth = rule.byMonth;
    this.#byMonthDay = rule.byMonthDay;
    this.#byDay = rule.byDay;
    if (!rule.byWeekNo && !rule.byYearDay && !rule.byMonthDay && !rule.byDay) {
      if (rule.freq === YEARLY) {
        this.#byMonth ??= [s.month];
        this.#byMonthDay = [s.day];
      } else if (rule.freq === MONTHLY) {
        this.#byMonthDay = [s.day];
      } else if (rule.freq === WEEKLY) {
        this.#byDay = [{ weekday: s.weekday, nth: 0 }];
      }
    }
    this.#times = rule.freq <= DAILY ? this.#product(this.#byHour!, HOUR, this.#product(this.#byMinute!, MINUTE, this.#bySecond!.map((x) => x * SECOND))) : [];
  }

  #product(outer: number[], unit: number, inner: number[]): number[] {
    return outer.flatMap((value) => inner.map((rest) => value * unit + rest));
  }

  /**
   * Occurrences in ascending order: DTSTART first (it always counts, as RFC 5545 says), then the rule's, up to
   * COUNT or UNTIL, and none after `stop`. `from` lets a rule without COUNT skip the periods before it. Every so
   * many steps it yields PAUSE, so that its consumer can let the event loop breathe.
   */
  *occurrences(from: LocalMs, stop: LocalMs, beyondUntil: (local: LocalMs) => boolean, work: Work): Generator<LocalMs | typeof PAUSE> {
    const rule = this.#rule;
    let period = this.#periodOf(this.#start);
    const target = this.#periodOf(from);
    const jump = rule.count === undefined && target > period ? Math.floor((target - period) / rule.interval) : 0;
    let emitted = 0;
    if (jump === 0) {
      yield this.#start;
      emitted = 1;
      if (emitted === rule.count) return;
    }
    period += jump * rule.interval;
    const last = Math.min(stop, LAST_LOCAL);
    while (this.#periodStart(period) <= last) {
      work.step();
      if (work.pauseDue()) yield PAUSE;
      const skipTo = this.#skip(period);
      if (skipTo !== undefined) {
        period += Math.max(1, Math.ceil((this.#periodOf(skipTo) - period) / rule.interval)) * rule.interval;
        continue;
      }
      for (const candidate of this.#setPositions(this.#candidates(period, work))) {
        if (candidate <= this.#start) continue;
        if (candidate > last || beyondUntil(candidate)) return;
        yield candidate;
        emitted += 1;
        if (emitted === rule.count) return;
      }
      period += rule.interval;
    }
  }

  /** The index of the period (of FREQ) containing a local time. */
  #periodOf(local: LocalMs): number {
    const freq = this.#rule.freq;
    if (freq >= DAILY) return Math.floor(local / UNIT_MS[freq]!);
    const day = facts(Math.floor(local / DAY));
    if (freq === YEARLY) return day.year;
    if (freq === MONTHLY) return day.year * 12 + day.month - 1;
    return (day.number - ((day.weekday - this.#rule.wkst + 7) % 7) - this.#weekShift) / 7;
  }

  #periodStart(period: number): LocalMs {
    const freq = this.#rule.freq;
    if (freq === YEARLY) return Date.UTC(period, 0, 1);
    if (freq === MONTHLY) return Date.UTC(Math.floor(period / 12), period % 12, 1);
    if (freq === WEEKLY) return (period * 7 + this.#weekShift) * DAY;
    return period * UNIT_MS[freq]!;
  }

  /** For daily and finer rules: where the next period that can match begins, when this one's month, day, hour or minute cannot. */
  #skip(period: number): LocalMs | undefined {
    const freq = this.#rule.freq;
    if (freq < DAILY) return undefined;
    const at = this.#periodStart(period);
    const skipDay = this.#daySkip(Math.floor(at / DAY));
    if (skipDay !== undefined || freq <= HOURLY) return skipDay;
    const hour = Math.floor(at / HOUR);
    if (this.#byHour && !this.#byHour.includes(hour % 24)) return (hour + 1) * HOUR;
    const minute = Math.floor(at / MINUTE);
    if (this.#byMinute && !this.#byMinute.includes(minute % 60)) return (minute + 1) * MINUTE;
    return undefined;
  }

  /** Where to go when no period of this day can match (its month, or for sub-daily rules the day itself); the last day is remembered. */
  #daySkip(number: number): LocalMs | undefined {
    if (this.#lastDay?.number === number) return this.#lastDay.skip;
    const day = facts(number);
    let skip: LocalMs | undefined;
    if (this.#byMonth && !this.#byMonth.includes(day.month)) skip = Date.UTC(day.year, day.month, 1);
    else if (this.#rule.freq > DAILY && !this.#dayMatches(day)) skip = (number + 1) * DAY;
    this.#lastDay = { number, skip };
    return skip;
  }

  /** Every candidate time of one period, ascending, before BYSETPOS. */
  #candidates(period: number, work: Work): LocalMs[] {
    const freq = this.#rule.freq;
    const at = this.#periodStart(period);
    if (freq === HOURLY) {
      const hour = new Date(at).getUTCHours();
      if (this.#byHour && !this.#byHour.includes(hour)) return [];
      work.step(this.#byMinute!.length * this.#bySecond!.length);
      return this.#product(this.#byMinute!, MINUTE, this.#bySecond!.map((x) => x * SECOND)).map((offset) => at + offset);
    }
    if (freq === MINUTELY) {
      work.step(this.#bySecond!.length);
      return this.#bySecond!.map((second) => at + second * SECOND);
    }
    if (freq === SECONDLY) {
      return !this.#bySecond || this.#bySecond.includes(new Date(at).getUTCSeconds()) ? [at] : [];
    }
    const found: LocalMs[] = [];
    const days = this.#days(period);
    work.step(days.length);
    for (const day of days) {
      if (!this.#dayMatches(day)) continue;
      work.step(this.#times.length);
      for (const time of this.#times) found.push(day.number * DAY + time);
    }
    return found;
  }

  #days(period: number): DayFacts[] {
    const freq = this.#rule.freq;
    if (freq === DAILY) return [facts(period)];
    if (freq === WEEKLY) return Array.from({ length: 7 }, (_, i) => facts(period * 7 + this.#weekShift + i));
    const [year, months] = freq === YEARLY
      ? [period, this.#byMonth ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]]
      : [Math.floor(period / 12), [(period % 12) + 1]];
    const days: DayFacts[] = [];
    for (const month of months) {
      if (this.#byMonth && !this.#byMonth.includes(month)) continue;
      const first = dayNumber(year, month, 1);
      const length = dayNumber(year, month + 1, 1) - first;
      for (let i = 0; i < length; i++) days.push({ number: first + i, year, month, day: i + 1, weekday: weekdayOf(first + i) });
    }
    return days;
  }

  #dayMatches(day: DayFacts): boolean {
    const rule = this.#rule;
    if (this.#byMonth && !this.#byMonth.includes(day.month)) return false;
    const monthLength = dayNumber(day.year, day.month + 1, 1) - dayNumber(day.year, day.month, 1);
    if (this.#byMonthDay && !inList(this.#byMonthDay, day.day, monthLength)) return false;
    if (rule.byYearDay && !inList(rule.byYearDay, day.number - dayNumber(day.year, 1, 1) + 1, yearLength(day.year))) return false;
    if (rule.byWeekNo && !this.#weekMatches(day.number, rule.byWeekNo)) return false;
    return !this.#byDay || this.#byDay.some((wanted) => this.#weekdayMatches(wanted, day, monthLength));
  }

  #weekdayMatches(wanted: WeekdayNum, day: DayFacts, monthLength: number): boolean {
    if (wanted.weekday !== day.weekday) return false;
    if (wanted.nth === 0) return true;
    const inMonth = this.#rule.freq === MONTHLY || this.#rule.byMonth !== undefined;
    const [index, length] = inMonth ? [day.day, monthLength] : [day.number - dayNumber(day.year, 1, 1) + 1, yearLength(day.year)];
    return wanted.nth > 0 ? Math.floor((index - 1) / 7) + 1 === wanted.nth : -(Math.floor((length - index) / 7) + 1) === wanted.nth;
  }

  /** Week 1 of a year is the first week (starting on WKST) with at least four of its days in that year. */
  #weekOneStart(year: number): number {
    let start = this.#weekOne.get(year);
    if (start === undefined) {
      const january1 = dayNumber(year, 1, 1);
      const back = (weekdayOf(january1) - this.#rule.wkst + 7) % 7;
      start = january1 - back + (7 - back >= 4 ? 0 : 7);
      this.#weekOne.set(year, start);
    }
    return start;
  }

  #weekMatches(day: number, weeks: number[]): boolean {
    let year = facts(day).year;
    if (day < this.#weekOneStart(year)) year -= 1;
    else if (day >= this.#weekOneStart(year + 1)) year += 1;
    const week = Math.floor((day - this.#weekOneStart(year)) / 7) + 1;
    const count = (this.#weekOneStart(year + 1) - this.#weekOneStart(year)) / 7;
    return inList(weeks, week, count);
  }

  #setPositions(candidates: LocalMs[]): LocalMs[] {
    const positions = this.#rule.bySetPos;
    if (!positions || candidates.length === 0) return candidates;
    const chosen = new Set<LocalMs>();
    for (const position of positions) {
      const candidate = candidates[position > 0 ? position - 1 : candidates.length + position];
      if (candidate !== undefined) chosen.add(candidate);
    }
    return [...chosen].sort((a, b) => a - b);
  }
}
