import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { Database } from '../core/db/database.ts';
import type { ArchiveKind } from './contract.ts';
import type { ArchiveRow, ArchiveTables } from './migrations.ts';

type Db = Kysely<ArchiveTables>;

/** Bounds on an instance start: naive local `start` text (same time zone within one event) or epoch ms. */
export interface StartBounds {
  after?: { naive: string } | { at: number };
  before?: { naive: string } | { at: number };
}

function normalized(row: ArchiveRow): ArchiveRow {
  return { ...row, starts_at: Number(row.starts_at), size: Number(row.size), duration: Number(row.duration), created_at: Number(row.created_at) };
}

/** All SQL of the archive; the same statements serve SQLite and PostgreSQL. */
export class ArchiveStore {
  readonly #db: Db;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
  }

  async get(kind: ArchiveKind, event: string, start: string): Promise<ArchiveRow | undefined> {
    const row = await this.#db.selectFrom('archive_files').selectAll()
      .where('kind', '=', kind).where('event', '=', event).where('start', '=', start).executeTakeFirst();
    return row && normalized(row);
  }

  /** Stores the row for its key and answers the file it replaced, if any. */
  async put(row: ArchiveRow): Promise<string | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const previous = await trx.selectFrom('archive_files').select('file')
        .where('kind', '=', row.kind).where('event', '=', row.event).where('start', '=', row.start).executeTakeFirst();
      await trx.insertInto('archive_files').values(row)
        .onConflict((oc) => oc.columns(['kind', 'event', 'start']).doUpdateSet({
          starts_at: row.starts_at, file: row.file, size: row.size, content_type: row.content_type,
          format: row.format, duration: row.duration, created_at: row.created_at,
        }))
        .execute();
      return previous?.file;
    });
  }

  /** Removes the row and answers its file, if there was one. */
  async delete(kind: ArchiveKind, event: string, start: string): Promise<string | undefined> {
    const row = await this.#db.deleteFrom('archive_files')
      .where('kind', '=', kind).where('event', '=', event).where('start', '=', start)
      .returning('file').executeTakeFirst();
    return row?.file;
  }

  async list(kind: ArchiveKind, event: string, bounds: StartBounds, limit: number, offset: number): Promise<{ count: number; rows: ArchiveRow[] }> {
    const scoped = (query: SelectQueryBuilder<ArchiveTables, 'archive_files', object>) => {
      let q = query.where('kind', '=', kind).where('event', '=', event);
      if (bounds.after) q = 'at' in bounds.after ? q.where('starts_at', '>=', bounds.after.at) : q.where('start', '>=', bounds.after.naive);
      if (bounds.before) q = 'at' in bounds.before ? q.where('starts_at', '<', bounds.before.at) : q.where('start', '<', bounds.before.naive);
      return q;
    };
    const { count } = await scoped(this.#db.selectFrom('archive_files'))
      .select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
    const rows = await scoped(this.#db.selectFrom('archive_files')).selectAll()
      .orderBy('starts_at').orderBy('start').limit(limit).offset(offset).execute();
    return { count: Number(count), rows: rows.map(normalized) };
  }

  /** The row with the newest instance start in [after, before) among `events`. */
  async latest(kind: ArchiveKind, events: string[], after: number, before: number): Promise<ArchiveRow | undefined> {
    if (events.length === 0) return undefined;
    const row = await this.#db.selectFrom('archive_files').selectAll()
      .where('kind', '=', kind).where('event', 'in', events)
      .where('starts_at', '>=', after).where('starts_at', '<', before)
      .orderBy('starts_at', 'desc').orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    return row && normalized(row);
  }

  /** Every file name the archive refers to for `kind`. */
  async files(kind: ArchiveKind): Promise<Set<string>> {
    const rows = await this.#db.selectFrom('archive_files').select('file').where('kind', '=', kind).execute();
    return new Set(rows.map((r) => r.file));
  }
}
