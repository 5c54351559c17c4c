import type { Kysely, SelectQueryBuilder } from 'kysely';
import { chunks, type Database, type Dialect } from '../core/db/database.ts';
import type { Announce } from '../core/events/bus.ts';
import type { EventType, ProgrammeEvent } from './contract.ts';
import type { EventRow, ProgrammeTables, ShowRow } from './migrations.ts';
import type { Show } from './model.ts';

type Db = Kysely<ProgrammeTables>;

export interface EventFilter {
  show?: string;
  types?: EventType[];
  /** Only live events that name a live job. */
  liveJobs?: boolean;
}

export interface Page {
  limit: number;
  offset: number;
}

export interface Bounds {
  firstStart: number;
  lastEnd: number | null;
}

const toShow = (row: ShowRow): Show => ({ id: row.id, title: row.title, description: row.description });

function toEvent(row: EventRow): ProgrammeEvent {
  return {
    id: row.id, showId: row.show_id, type: row.type as EventType, start: row.start, duration: Number(row.duration), timezone: row.timezone,
    recurrence: row.rule === null ? null : { rule: row.rule, include: JSON.parse(row.include), exclude: JSON.parse(row.exclude) },
    liveJob: row.live_job ?? null,
  };
}

function eventColumns(event: ProgrammeEvent, bounds: Bounds) {
  return {
    show_id: event.showId, type: event.type, start: event.start, duration: event.duration, timezone: event.timezone,
    rule: event.recurrence?.rule ?? null,
    include: JSON.stringify(event.recurrence?.include ?? []),
    exclude: JSON.stringify(event.recurrence?.exclude ?? []),
    first_start: bounds.firstStart, last_end: bounds.lastEnd, live_job: event.liveJob,
  };
}

/** All SQL of the programme; the same statements serve SQLite and PostgreSQL. */
export class ProgrammeStore {
  readonly #db: Db;
  readonly #dialect: Dialect;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
    this.#dialect = database.dialect;
  }

  async insertShow(show: Show, now: number, announce: Announce): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('programme_shows').values({ ...show, created_at: now }).execute();
      await announce(trx);
    });
  }

  async getShow(id: string): Promise<Show | undefined> {
    const row = await this.#db.selectFrom('programme_shows').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toShow(row);
  }

  async showsById(ids: string[]): Promise<Map<string, Show>> {
    const shows = new Map<string, Show>();
    for (const run of chunks(ids, 1000)) {
      const rows = await this.#db.selectFrom('programme_shows').selectAll().where('id', 'in', run).execute();
      for (const row of rows) shows.set(row.id, toShow(row));
    }
    return shows;
  }

  async listShows(page: Page): Promise<{ count: number; shows: Show[] }> {
    const counted = await this.#db.selectFrom('programme_shows').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const rows = await this.#db.selectFrom('programme_shows').selectAll().orderBy('created_at').orderBy('id')
      .limit(page.limit).offset(page.offset).execute();
    return { count: Number(counted?.n ?? 0), shows: rows.map(toShow) };
  }

  async updateShow(show: Show, announce: Announce): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const result = await trx.updateTable('programme_shows').set({ title: show.title, description: show.description })
        .where('id', '=', show.id).executeTakeFirst();
      const updated = Number(result.numUpdatedRows) === 1;
      if (updated) await announce(trx);
      return updated;
    });
  }

  /** Deletes a show that has no events; answers 'missing', 'busy' (it has events) or 'deleted'. */
  async deleteShow(id: string, announce: Announce): Promise<'missing' | 'busy' | 'deleted'> {
    return this.#db.transaction().execute(async (trx) => {
      const show = await trx.selectFrom('programme_shows').select('id').where('id', '=', id)
        .$if(this.#dialect === 'postgres', (q) => q.forUpdate()).executeTakeFirst();
      if (!show) return 'missing';
      const event = await trx.selectFrom('programme_events').select('id').where('show_id', '=', id).limit(1).executeTakeFirst();
      if (event) return 'busy';
      await trx.deleteFrom('programme_shows').where('id', '=', id).execute();
      await announce(trx);
      return 'deleted';
    });
  }

  /** Inserts or updates an event, as long as its show exists (locked meanwhile, so that it cannot go away). */
  async saveEvent(event: ProgrammeEvent, bounds: Bounds, now: number, mode: 'create' | 'update', announce: Announce): Promise<'saved' | 'no-show' | 'missing'> {
    return this.#db.transaction().execute(async (trx) => {
      const show = await trx.selectFrom('programme_shows').select('id').where('id', '=', event.showId)
        .$if(this.#dialect === 'postgres', (q) => q.forShare()).executeTakeFirst();
      if (!show) return 'no-show';
      if (mode === 'create') {
        await trx.insertInto('programme_events').values({ id: event.id, ...eventColumns(event, bounds), created_at: now }).execute();
      } else {
        const result = await trx.updateTable('programme_events').set(eventColumns(event, bounds)).where('id', '=', event.id).executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) return 'missing';
      }
      await announce(trx);
      return 'saved';
    });
  }

  async getEvent(id: string): Promise<ProgrammeEvent | undefined> {
    const row = await this.#db.selectFrom('programme_events').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toEvent(row);
  }

  async listEvents(filter: EventFilter, page: Page): Promise<{ count: number; events: ProgrammeEvent[] }> {
    const counted = await this.#filtered(filter).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const rows = await this.#filtered(filter).selectAll().orderBy('created_at').orderBy('id')
      .limit(page.limit).offset(page.offset).execute();
    return { count: Number(counted?.n ?? 0), events: rows.map(toEvent) };
  }

  /** Events that may have instances overlapping [from, to): their bounds say so. */
  async eventsWithin(from: number, to: number, filter: EventFilter): Promise<ProgrammeEvent[]> {
    const rows = await this.#filtered(filter).selectAll()
      .where('first_start', '<', to)
      .where((eb) => eb.or([eb('last_end', 'is', null), eb('last_end', '>', from)]))
      .orderBy('id').execute();
    return rows.map(toEvent);
  }

  async deleteEvent(id: string, announce: Announce): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('programme_events').where('id', '=', id).executeTakeFirst();
      const deleted = Number(result.numDeletedRows) === 1;
      if (deleted) await announce(trx);
      return deleted;
    });
  }

  #filtered(filter: EventFilter): SelectQueryBuilder<ProgrammeTables, 'programme_events', {}> {
    return this.#db.selectFrom('programme_events')
      .$if(filter.show !== undefined, (q) => q.where('show_id', '=', filter.show!))
      .$if(filter.types !== undefined, (q) => q.where('type', 'in', filter.types!))
      .$if(filter.liveJobs === true, (q) => q.where('live_job', 'is not', null));
  }
}
