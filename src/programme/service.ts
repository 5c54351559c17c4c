import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Announce, EventBus } from '../core/events/bus.ts';
import { conflict, invalid, notFound } from '../core/errors.ts';
import type { EventType, Instance, ProgrammeChanged, ProgrammeEvent, ProgrammeReader, ScheduledInstance } from './contract.ts';
import { parseLocal } from '../core/time.ts';
import { normalizeEvent, type EventInput, type EventPatch, type Show } from './model.ts';
import { EVENT_LIMITS, EventSchedule, limitMessage, REQUEST_LIMITS } from './recurrence.ts';
import { RuleError } from './rrule.ts';
import { ExpansionLimit, Work } from './work.ts';
import { ProgrammeStore, type EventFilter, type Page } from './store.ts';
import type { Core } from '../core/area.ts';

declare module '../core/events/bus.ts' {
  interface EventMap {
    'programme-changed': ProgrammeChanged;
  }
}

export type ProgrammeDeps = Pick<Core, 'database' | 'bus' | 'clock' | 'logger'>;

export interface Schedule {
  event: ProgrammeEvent;
  instances: ScheduledInstance['instance'][];
}

/** The event's first start and last end; a rule that does not parse, or costs too much to reach its COUNT, is the client's mistake. */
async function boundsOf(event: ProgrammeEvent) {
  try {
    return await compile(event).bounds();
  } catch (error) {
    if (!(error instanceof ExpansionLimit)) throw error;
    throw invalid('recurrence.rule', `reaching its COUNT takes more than ${EVENT_LIMITS.steps} steps of expansion: `
      + 'the rule hardly ever occurs; give it an UNTIL or a rule that occurs more often');
  }
}

/** Compiles an event for expansion; a rule that does not parse is the client's mistake. */
function compile(event: ProgrammeEvent): EventSchedule {
  try {
    return new EventSchedule(event);
  } catch (error) {
    if (error instanceof RuleError) throw invalid('recurrence.rule', error.message);
    throw error;
  }
}

/** Shows, events and their instances: the programme's service, behind its routes and its reader. */
export class Programme implements ProgrammeReader {
  readonly store: ProgrammeStore;
  readonly #bus: EventBus;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(deps: ProgrammeDeps) {
    this.store = new ProgrammeStore(deps.database);
    this.#bus = deps.bus;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
  }

  async createShow(input: { title: string; description?: string }): Promise<Show> {
    const show = { id: crypto.randomUUID(), title: input.title, description: input.description ?? '' };
    await this.store.insertShow(show, this.#clock.now(), this.#changed('show', show.id, 'created'));
    return show;
  }

  async show(id: string): Promise<Show> {
    const show = await this.store.getShow(id);
    if (!show) throw notFound(`Show ${id} does not exist`);
    return show;
  }

  async updateShow(id: string, patch: { title?: string; description?: string }): Promise<Show> {
    const show = { ...(await this.show(id)), ...patch };
    if (!(await this.store.updateShow(show, this.#changed('show', id, 'updated')))) throw notFound(`Show ${id} does not exist`);
    return show;
  }

  async deleteShow(id: string): Promise<Show> {
    const show = await this.show(id);
    const outcome = await this.store.deleteShow(id, this.#changed('show', id, 'deleted'));
    if (outcome === 'missing') throw notFound(`Show ${id} does not exist`);
    if (outcome === 'busy') throw conflict(`Show ${id} still has events; delete its events first`);
    return show;
  }

  /** `id`: given where the event is known by its id already (seed 002's examples name theirs); random otherwise. */
  async createEvent(input: EventInput, id: string = crypto.randomUUID()): Promise<ProgrammeEvent> {
    return this.#save(normalizeEvent(id, input), 'create', this.#changed('event', id, 'created'));
  }

  async event(id: string): Promise<ProgrammeEvent> {
    const event = await this.store.getEvent(id);
    if (!event) throw notFound(`Event ${id} does not exist`);
    return event;
  }

  async updateEvent(id: string, patch: EventPatch): Promise<ProgrammeEvent> {
    const current = await this.event(id);
    const merged = { ...current, ...patch, recurrence: patch.recurrence === undefined ? current.recurrence : patch.recurrence };
    return this.#save(normalizeEvent(id, merged), 'update', this.#changed('event', id, 'updated'));
  }

  async deleteEvent(id: string): Promise<ProgrammeEvent> {
    const event = await this.event(id);
    if (!(await this.store.deleteEvent(id, this.#changed('event', id, 'deleted')))) throw notFound(`Event ${id} does not exist`);
    return event;
  }

  async #save(event: ProgrammeEvent, mode: 'create' | 'update', announce: Announce): Promise<ProgrammeEvent> {
    const bounds = await boundsOf(event);
    const outcome = await this.store.saveEvent(event, bounds, this.#clock.now(), mode, announce);
    if (outcome === 'no-show') throw invalid('showId', `show ${event.showId} does not exist`);
    if (outcome === 'missing') throw notFound(`Event ${event.id} does not exist`);
    return event;
  }

  /**
   * Per event, its instances overlapping [from, to), events ordered by their first instance there; `count`
   * is how many events have any. The whole window is bounded in work: past a limit the answer is a 400 naming `end`.
   */
  async schedule(from: number, to: number, filter: EventFilter, page: Page): Promise<{ count: number; schedules: Schedule[] }> {
    const work = new Work(REQUEST_LIMITS);
    const bounded = async <T>(event: ProgrammeEvent, expand: () => Promise<T>): Promise<T> => {
      try {
        return await expand();
      } catch (error) {
        if (error instanceof ExpansionLimit) throw invalid('end', limitMessage(error, event.id));
        throw error;
      }
    };
    // Ordering and counting need each event's first instance only; the events of the page alone are expanded whole.
    const firsts = await this.#expand(from, to, filter, work, async (event) => {
      const first = await bounded(event, () => compile(event).firstBetween(from, to, work));
      return first ? [first] : [];
    });
    const schedules: Schedule[] = [];
    for (const { event } of firsts.slice(page.offset, page.offset + page.limit)) {
      schedules.push({ event, instances: await bounded(event, () => compile(event).between(from, to, work)) });
    }
    return { count: firsts.length, schedules };
  }

  /**
   * The schedule for a calendar feed, which must never fail as a whole: an event with too many instances keeps
   * those found first, and once the request's work is spent the feed ends there (both logged).
   */
  async feed(from: number, to: number, filter: EventFilter): Promise<Schedule[]> {
    const work = new Work(REQUEST_LIMITS);
    let spent = false;
    return this.#expand(from, to, filter, work, async (event) => {
      if (spent) return [];
      const { instances, cut } = await compile(event).betweenAtMost(from, to, work);
      if (cut) {
        spent = cut.scope === 'request';
        this.#logger.warn({ event: event.id, instances: instances.length, reason: limitMessage(cut, event.id) }, 'calendar feed cut short');
      }
      return instances;
    });
  }

  async #expand(from: number, to: number, filter: EventFilter, work: Work, expand: (event: ProgrammeEvent) => Promise<Instance[]>): Promise<Schedule[]> {
    const events = await this.store.eventsWithin(from, to, filter);
    const schedules: Schedule[] = [];
    for (const event of events) {
      await work.breathe();
      const instances = await expand(event);
      if (instances.length > 0) schedules.push({ event, instances });
    }
    return schedules.sort((a, b) => a.instances[0]!.startsAt - b.instances[0]!.startsAt || (a.event.id < b.event.id ? -1 : 1));
  }

  async getEvent(id: string): Promise<ProgrammeEvent | undefined> {
    return this.store.getEvent(id);
  }

  async getInstance(eventId: string, start: string): Promise<ScheduledInstance | undefined> {
    const local = parseLocal(start);
    const event = local === undefined ? undefined : await this.store.getEvent(eventId);
    const instance = event && await compile(event).find(local!);
    return instance && { event: event!, instance };
  }

  instancesBetween(from: number, to: number, types?: EventType[]): Promise<ScheduledInstance[]> {
    return this.#instances(from, to, { types });
  }

  liveJobInstancesBetween(from: number, to: number): Promise<ScheduledInstance[]> {
    return this.#instances(from, to, { types: ['live'], liveJobs: true });
  }

  showInstancesBetween(showId: string, from: number, to: number, types?: EventType[]): Promise<ScheduledInstance[]> {
    return this.#instances(from, to, { show: showId, types });
  }

  /** For other areas: an event that cannot be expanded over the window is left out and logged, the others answered. */
  async #instances(from: number, to: number, filter: EventFilter): Promise<ScheduledInstance[]> {
    const work = new Work({ steps: Number.POSITIVE_INFINITY, instances: Number.POSITIVE_INFINITY });
    const schedules = await this.#expand(from, to, filter, work, async (event) => {
      try {
        return await compile(event).between(from, to, work);
      } catch (error) {
        if (!(error instanceof ExpansionLimit)) throw error;
        this.#logger.warn({ event: event.id, reason: limitMessage(error, event.id) }, 'event left out of the instances asked for');
        return [];
      }
    });
    return schedules.flatMap(({ event, instances }) => instances.map((instance) => ({ event, instance })))
      .sort((a, b) => a.instance.startsAt - b.instance.startsAt);
  }

  /** Announces a change in the transaction that makes it. */
  #changed(kind: ProgrammeChanged['kind'], id: string, change: ProgrammeChanged['change']): Announce {
    return (trx) => this.#bus.record(trx, 'programme-changed', [{ kind, id, change }]);
  }
}
