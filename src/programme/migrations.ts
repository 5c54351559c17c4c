import type { Kysely } from 'kysely';
import type { Migrations } from '../core/db/database.ts';

export const programmeMigrations: Migrations = {
  '2026-11-25-10-programme': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('programme_shows')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createTable('programme_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('show_id', 'text', (c) => c.notNull().references('programme_shows.id'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('start', 'text', (c) => c.notNull())
        .addColumn('duration', 'integer', (c) => c.notNull())
        .addColumn('timezone', 'text', (c) => c.notNull())
        .addColumn('rule', 'text')
        .addColumn('include', 'text', (c) => c.notNull())
        .addColumn('exclude', 'text', (c) => c.notNull())
        // Bounds of all instances (epoch ms; last_end null when endless), so that a window skips events in SQL.
        .addColumn('first_start', 'bigint', (c) => c.notNull())
        .addColumn('last_end', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('programme_events_show').on('programme_events').column('show_id').execute();
      await db.schema.createIndex('programme_events_bounds').on('programme_events').columns(['first_start', 'last_end']).execute();
    },
  },
  '2026-12-07-20-programme-live-job': {
    async up(db: Kysely<any>) {
      // The live job a live event opens for each of its instances (the automation schedules it).
      await db.schema.alterTable('programme_events').addColumn('live_job', 'text').execute();
    },
  },
};

export interface ShowRow {
  id: string;
  title: string;
  description: string;
  created_at: number;
}

export interface EventRow {
  id: string;
  show_id: string;
  type: string;
  start: string;
  duration: number;
  timezone: string;
  rule: string | null;
  include: string;
  exclude: string;
  first_start: number;
  last_end: number | null;
  live_job: string | null;
  created_at: number;
}

export interface ProgrammeTables {
  programme_shows: ShowRow;
  programme_events: EventRow;
}
