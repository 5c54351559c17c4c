import type { Instance, ProgrammeEvent } from './contract.ts';
import { DAY, HOUR, formatLocal, parseLocal, type LocalMs } from '../core/time.ts';
import { toEpoch, toLocal } from './localtime.ts';
import { Expansion, isFinite, parseRule, type Rule } from './rrule.ts';
import { ExpansionLimit, PAUSE, Work } from './work.ts';

/**
 * What expanding one event may cost (about 30 ms at most on the project's machines), and what one request may cost
 * over all its events. More instances than this in one window means the window is too wide to answer.
 */
export const EVENT_LIMITS = { steps: 200_000, instances: 10_000 };
export const REQUEST_LIMITS = { steps: 1_000_000, instances: 25_000 };

/** Says in a person's words which limit an expansion reached. */
export function limitMessage(error: ExpansionLimit, eventId: string): string {
  if (error.scope === 'request') {
    return error.limit === 'instances'
      ? `this window holds more than ${REQUEST_LIMITS.instances} instances; ask for a narrower one`
      : 'this window takes too much work to expand; ask for a narrower one';
  }
  return error.limit === 'instances'
    ? `event ${eventId} has more than ${EVENT_LIMITS.instances} instances in this window; ask for a narrower one`
    : `expanding event ${eventId} over this window takes too much work; ask for a narrower one`;
}

/** Local times lie within -12 h .. +14 h of their instant, and a spring-forward gap moves them by up to 2 h. */
const ZONE_MARGIN = DAY + 4 * HOUR;
const GAP_MARGIN = 2 * HOUR;

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
  async between(from: number, to: number, work?: Work): Promise<Instance[]> {
    const shared = this.#share(work);
    const starts = new Set<number>();
    await this.#collect(from, to, shared, starts);
    return this.#instances(starts, shared);
  }

  /** The first instance overlapping [from, to), if any: the expansion stops soon after it. */
  async firstBetween(from: number, to: number, work?: Work): Promise<Instance | undefined> {
    const shared = this.#share(work);
    const starts = new Set<number>();
    await this.#collect(from, to, shared, starts, true);
    return starts.size === 0 ? undefined : this.#instance(Math.min(...starts));
  }

  /** As `between`, but when a limit is reached it answers the instances found so far and the limit (`cut`). */
  async betweenAtMost(from: number, to: number, work?: Work): Promise<{ instances: Instance[]; cut?: ExpansionLimit }> {
    const shared = this.#share(work);
    const starts = new Set<number>();
    try {
      await this.#collect(from, to, shared, starts);
      return { instances: await this.#instances(starts, shared) };
    } catch (error) {
      if (!(error instanceof ExpansionLimit)) throw error;
      return { instances: await this.#instances(starts, shared), cut: error };
    }
  }

  /** The instance starting at a local time, if there is one (a nonexistent time matches its shifted instance). */
  async find(start: LocalMs): Promise<Instance | undefined> {
    const epoch = toEpoch(start, this.event.timezone);
    return (await this.between(epoch, epoch + 1)).find((instance) => instance.startsAt === epoch);
  }

  /** The first start and the last end (null when endless), epoch ms, so that storage can skip events outside a window. */
  async bounds(): Promise<{ firstStart: number; lastEnd: number | null }> {
    const zone = this.event.timezone;
    const starts = [this.#start, ...this.#include].map((candidate) => toEpoch(candidate, zone));
    const rule = this.#rule;
    if (rule && !isFinite(rule)) return { firstStart: Math.min(...starts), lastEnd: null };
    if (rule?.until) starts.push('utc' in rule.until ? rule.until.utc : toEpoch(rule.until.local, zone));
    else if (rule) {
      let last = this.#start;
      const work = new Work(EVENT_LIMITS, 'event');
      for (const occurrence of this.#occurrences(this.#start, Number.POSITIVE_INFINITY, work)) {
        if (occurrence === PAUSE) await work.breathe();
        else last = occurrence;
      }
      starts.push(toEpoch(last, zone));
    }
    return { firstStart: Math.min(...starts), lastEnd: Math.max(...starts) + this.#durationMs };
  }

  #share(work: Work | undefined): Work {
    return work ? work.share(EVENT_LIMITS) : new Work(EVENT_LIMITS, 'event');
  }

  /**
   * Adds to `starts` the instances overlapping [from, to). With `firstOnly`, only the earliest: the rule's occurrences
   * come in local-time order, which is time order but for a spring-forward gap moving a local time forward, so they
   * are followed only the largest gap past the first instance found.
   */
  async #collect(from: number, to: number, work: Work, starts: Set<number>, firstOnly = false): Promise<void> {
    const first = from - this.#durationMs - ZONE_MARGIN;
    let last = to + ZONE_MARGIN;
    const add = (candidate: LocalMs) => {
      if (candidate < first || candidate > last) return;
      const epoch = toEpoch(candidate, this.event.timezone);
      if (epoch >= to || epoch + this.#durationMs <= from || this.#excluded.has(epoch) || starts.has(epoch)) return;
      if (firstOnly && starts.size > 0) {
        if (epoch > Math.min(...starts)) return;
        starts.clear();
      } else {
        work.instance();
        if (firstOnly) last = Math.min(last, candidate + GAP_MARGIN);
      }
      starts.add(epoch);
    };
    for (const occurrence of this.#occurrences(first, last, work)) {
      if (occurrence === PAUSE) await work.breathe();
      else if (occurrence > last) break;
      else add(occurrence);
    }
    for (const extra of this.#include) add(extra);
  }

  async #instances(starts: Set<number>, work: Work): Promise<Instance[]> {
    const instances: Instance[] = [];
    for (const epoch of [...starts].sort((a, b) => a - b)) {
      if (instances.length % 1024 === 1023) await work.breathe();
      instances.push(this.#instance(epoch));
    }
    return instances;
  }

  *#occurrences(from: LocalMs, to: LocalMs, work: Work): Generator<LocalMs | typeof PAUSE> {
    if (!this.#expansion) {
      yield this.#start;
      return;
    }
    const until = this.#rule!.until;
    const zone = this.event.timezone;
    const beyond = until === undefined ? () => false
      : 'utc' in until ? (candidate: LocalMs) => toEpoch(candidate, zone) > until.utc
        : (candidate: LocalMs) => candidate > until.local;
    yield* this.#expansion.occurrences(from, to, beyond, work);
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
