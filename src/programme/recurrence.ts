import type { Instance, ProgrammeEvent } from './contract.ts';
import { DAY, HOUR, formatLocal, parseLocal, toEpoch, toLocal, type LocalMs } from './localtime.ts';
import { Expansion, isFinite, parseRule, type Rule } from './rrule.ts';

/** How many instances one event may yield for one window; more means the window is too wide to answer. */
export const MAX_INSTANCES = 10_000;

export class WindowTooWide extends Error {}

/** Local times lie within -12 h .. +14 h of their instant, and a spring-forward gap moves them by up to 2 h. */
const ZONE_MARGIN = DAY + 4 * HOUR;

const local = (text: string): LocalMs => {
  const parsed = parseLocal(text);
  if (parsed === undefined) throw new Error(`"${text}" is not a naive local date-time`);
  return parsed;
};

/**
 * One event's instances: DTSTART, the rule's occurrences and the RDATEs, less the EXDATEs, each placed in the
 * event's zone (see toEpoch for nonexistent and repeated local times). Instances last `duration` real seconds.
 */
export class EventSchedule {
  readonly event: ProgrammeEvent;
  readonly #start: LocalMs;
  readonly #durationMs: number;
  readonly #rule: Rule | undefined;
  readonly #expansion: Expansion | undefined;
  readonly #include: LocalMs[];
  readonly #excluded: Set<number>;

  constructor(event: ProgrammeEvent) {
    this.event = event;
    this.#start = local(event.start);
    this.#durationMs = event.duration * 1000;
    this.#rule = event.recurrence ? parseRule(event.recurrence.rule) : undefined;
    this.#expansion = this.#rule && new Expansion(this.#rule, this.#start);
    this.#include = (event.recurrence?.include ?? []).map(local);
    this.#excluded = new Set((event.recurrence?.exclude ?? []).map((text) => toEpoch(local(text), event.timezone)));
  }

  /** Instances overlapping [from, to) (epoch ms), those already running at `from` included; by start. */
  between(from: number, to: number): Instance[] {
    const first = from - this.#durationMs - ZONE_MARGIN;
    const last = to + ZONE_MARGIN;
    const starts = new Set<number>();
    const add = (candidate: LocalMs) => {
      if (candidate < first || candidate > last) return;
      const epoch = toEpoch(candidate, this.event.timezone);
      if (epoch >= to || epoch + this.#durationMs <= from || this.#excluded.has(epoch)) return;
      starts.add(epoch);
      if (starts.size > MAX_INSTANCES) {
        throw new WindowTooWide(`event ${this.event.id} has more than ${MAX_INSTANCES} instances in this window; ask for a narrower one`);
      }
    };
    for (const occurrence of this.#occurrences(first, last)) add(occurrence);
    for (const extra of this.#include) add(extra);
    return [...starts].sort((a, b) => a - b).map((epoch) => this.#instance(epoch));
  }

  /** The instance starting at a local time, if there is one (a nonexistent time matches its shifted instance). */
  find(start: LocalMs): Instance | undefined {
    const epoch = toEpoch(start, this.event.timezone);
    return this.between(epoch, epoch + 1).find((instance) => instance.startsAt === epoch);
  }

  /** The first start and the last end (null when endless), epoch ms, so that storage can skip events outside a window. */
  bounds(): { firstStart: number; lastEnd: number | null } {
    const zone = this.event.timezone;
    const starts = [this.#start, ...this.#include].map((candidate) => toEpoch(candidate, zone));
    const rule = this.#rule;
    if (rule && !isFinite(rule)) return { firstStart: Math.min(...starts), lastEnd: null };
    if (rule?.until) starts.push('utc' in rule.until ? rule.until.utc : toEpoch(rule.until.local, zone));
    else if (rule) {
      let last = this.#start;
      for (const occurrence of this.#occurrences(this.#start, Number.POSITIVE_INFINITY)) last = occurrence;
      starts.push(toEpoch(last, zone));
    }
    return { firstStart: Math.min(...starts), lastEnd: Math.max(...starts) + this.#durationMs };
  }

  *#occurrences(from: LocalMs, to: LocalMs): Generator<LocalMs> {
    if (!this.#expansion) {
      yield this.#start;
      return;
    }
    const until = this.#rule!.until;
    const zone = this.event.timezone;
    const beyond = until === undefined ? () => false
      : 'utc' in until ? (candidate: LocalMs) => toEpoch(candidate, zone) > until.utc
        : (candidate: LocalMs) => candidate > until.local;
    yield* this.#expansion.occurrences(from, to, beyond);
  }

  #instance(startsAt: number): Instance {
    const endsAt = startsAt + this.#durationMs;
    const zone = this.event.timezone;
    return {
      eventId: this.event.id,
      start: formatLocal(toLocal(startsAt, zone)),
      end: formatLocal(toLocal(endsAt, zone)),
      startsAt,
      endsAt,
    };
  }
}
