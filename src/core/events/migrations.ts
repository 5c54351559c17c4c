import { PostgresAdapter, sql, type Generated, type Kysely } from 'kysely';
import type { Migrations } from '../db/database.ts';

export const eventMigrations: Migrations = {
  '2026-12-02-01-events': {
    async up(db: Kysely<any>) {
      // Ids come from a sequence that never goes back, even once the oldest events are removed: SQLite's
      // AUTOINCREMENT keeps its high-water mark (a bare INTEGER PRIMARY KEY would hand out ids again after a clean).
      const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
      await db.schema.createTable('onair_events')
        .addColumn('id', postgres ? 'bigint' : 'integer', (c) => (postgres ? c.generatedAlwaysAsIdentity() : c.autoIncrement()).primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('onair_events_created_at').on('onair_events').column('created_at').execute();
      if (!postgres) return;
      // The highest id every writer holding the order lock (core/events/bus.ts) is done with, in one round trip.
      await sql`CREATE FUNCTION onair_events_settled(lock bigint) RETURNS bigint VOLATILE LANGUAGE sql AS $$
        SELECT pg_advisory_xact_lock(lock);
        SELECT max(id) FROM onair_events;
      $$`.execute(db);
    },
  },
  '2026-12-06-01-events-horizon': {
    async up(db: Kysely<any>) {
      // The highest id the daily clean has removed: a client resuming from before it is told that it missed events.
      await db.schema.createTable('onair_events_horizon')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('cleaned_through', 'bigint', (c) => c.notNull())
        .execute();
      await db.insertInto('onair_events_horizon').values({ id: 1, cleaned_through: 0 }).execute();
    },
  },
};

export interface EventRow {
  id: Generated<number>;
  type: string;
  origin: string;
  created_at: number;
  data: string;
}

export interface EventTables {
  onair_events: EventRow;
  onair_events_horizon: { id: number; cleaned_through: number };
}
