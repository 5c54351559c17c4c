import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { Database } from '../core/db/database.ts';
import type { Announce } from '../core/events/bus.ts';
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

  /** Records the marker `node` has just written, and that it is alive. */
  async markNode(node: string, token: string, now: number): Promise<void> {
    await this.#db.insertInto('archive_nodes').values({ node, token, seen_at: now })
      .onConflict((oc) => oc.column('node').doUpdateSet({ token, seen_at: now })).execute();
  }

  /** The markers of the other nodes seen since `since`. */
  async otherNodes(node: string, since: number): Promise<Array<{ node: string; token: string }>> {
    return this.#db.selectFrom('archive_nodes').select(['node', 'token']).where('node', '<>', node).where('seen_at', '>=', since).execute();
  }

  /** Part `part` of a key, or its first part when `part` is not given. */
  async get(kind: ArchiveKind, event: string, start: string, part?: number): Promise<ArchiveRow | undefined> {
    const row = await this.#key(kind, event, start).$if(part !== undefined, (q) => q.where('part', '=', part!))
      .orderBy('part').limit(1).executeTakeFirst();
    return row && normalized(row);
  }

  /** Whether the archive holds any file of `event` (its event may be gone from the programme). */
  async holds(kind: ArchiveKind, event: string): Promise<boolean> {
    return (await this.#db.selectFrom('archive_files').select('part').where('kind', '=', kind).where('event', '=', event).limit(1).executeTakeFirst()) !== undefined;
  }

  /** Every part of a key, in order. */
  async parts(kind: ArchiveKind, event: string, start: string): Promise<ArchiveRow[]> {
    return (await this.#key(kind, event, start).orderBy('part').execute()).map(normalized);
  }

  /** Makes `row` the only file of its key (as part 1) and answers the files it replaced. */
  async put(row: Omit<ArchiveRow, 'part'>, announce: Announce<string[]>): Promise<string[]> {
    return this.#db.transaction().execute(async (trx) => {
      const previous = await trx.deleteFrom('archive_files')
        .where('kind', '=', row.kind).where('event', '=', row.event).where('start', '=', row.start).returning('file').execute();
      await trx.insertInto('archive_files').values({ ...row, part: 1 }).execute();
      const files = previous.map((p) => p.file);
      await announce(trx, files);
      return files;
    });
  }

  /** Adds `row` as the next part of its key and answers its number; a part taken meanwhile (another instance) moves it on. */
  async add(row: Omit<ArchiveRow, 'part'>, announce: Announce<number>): Promise<number> {
    for (;;) {
      const added = await this.#db.transaction().execute(async (trx) => {
        const last = await trx.selectFrom('archive_files').select((eb) => eb.fn.max('part').as('last'))
          .where('kind', '=', row.kind).where('event', '=', row.event).where('start', '=', row.start).executeTakeFirst();
        const part = Number(last?.last ?? 0) + 1;
        const inserted = await trx.insertInto('archive_files').values({ ...row, part })
          .onConflict((oc) => oc.doNothing()).executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) return undefined;
        await announce(trx, part);
        return part;
      });
      if (added !== undefined) return added;
    }
  }

  /** Removes part `part` of a key, or every part; answers the files removed. */
  async delete(kind: ArchiveKind, event: string, start: string, part: number | undefined, announce: Announce): Promise<string[]> {
    return this.#db.transaction().execute(async (trx) => {
      const rows = await trx.deleteFrom('archive_files')
        .where('kind', '=', kind).where('event', '=', event).where('start', '=', start)
        .$if(part !== undefined, (q) => q.where('part', '=', part!))
        .returning('file').execute();
      if (rows.length > 0) await announce(trx);
      return rows.map((r) => r.file);
    });
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
      .orderBy('starts_at').orderBy('start').orderBy('part').limit(limit).offset(offset).execute();
    return { count: Number(count), rows: rows.map(normalized) };
  }

  /** The parts of the key with the newest instance start in [after, before) among `events`. */
  async latest(kind: ArchiveKind, events: string[], after: number, before: number): Promise<ArchiveRow[]> {
    if (events.length === 0) return [];
    const newest = await this.#db.selectFrom('archive_files').select(['event', 'start'])
      .where('kind', '=', kind).where('event', 'in', events)
      .where('starts_at', '>=', after).where('starts_at', '<', before)
      .orderBy('starts_at', 'desc').orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    return newest ? this.parts(kind, newest.event, newest.start) : [];
  }

  #key(kind: ArchiveKind, event: string, start: string) {
    return this.#db.selectFrom('archive_files').selectAll().where('kind', '=', kind).where('event', '=', event).where('start', '=', start);
  }

  /** Every file name the archive refers to for `kind`. */
  async files(kind: ArchiveKind): Promise<Set<string>> {
    const rows = await this.#db.selectFrom('archive_files').select('file').where('kind', '=', kind).execute();
    return new Set(rows.map((r) => r.file));
  }
}
