import { sql, type Kysely } from 'kysely';
import type { Migrations } from '../core/db/database.ts';

export const recordingMigrations: Migrations = {
  '2026-11-25-10-recordings': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('archive_files')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('start', 'text', (c) => c.notNull())
        .addColumn('starts_at', 'bigint', (c) => c.notNull())
        .addColumn('file', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('duration', 'double precision', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('archive_files_pk', ['kind', 'event', 'start'])
        .execute();
      await db.schema.createIndex('archive_files_starts_at').on('archive_files').columns(['kind', 'event', 'starts_at']).execute();
    },
  },
  '2026-12-01-10-recording-parts': {
    async up(db: Kysely<any>) {
      // Several files per key: every gate session of an instance adds a part. SQLite cannot change a primary key in
      // place, so the table is built anew (the same statements on PostgreSQL); every file so far is part 1.
      await db.schema.createTable('archive_parts')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('start', 'text', (c) => c.notNull())
        .addColumn('part', 'integer', (c) => c.notNull())
        .addColumn('starts_at', 'bigint', (c) => c.notNull())
        .addColumn('file', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('duration', 'double precision', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('archive_files_part_pk', ['kind', 'event', 'start', 'part'])
        .execute();
      await sql`INSERT INTO archive_parts (kind, event, start, part, starts_at, file, size, content_type, format, duration, created_at)
        SELECT kind, event, start, 1, starts_at, file, size, content_type, format, duration, created_at FROM archive_files`.execute(db);
      await db.schema.dropTable('archive_files').execute();
      await db.schema.alterTable('archive_parts').renameTo('archive_files').execute();
      await db.schema.createIndex('archive_files_starts_at').on('archive_files').columns(['kind', 'event', 'starts_at']).execute();
    },
  },
  '2026-12-02-10-archive-nodes': {
    async up(db: Kysely<any>) {
      // Every node's marker: the token it last wrote into the archive's nodes/ directory, and when it last checked.
      await db.schema.createTable('archive_nodes')
        .addColumn('node', 'text', (c) => c.primaryKey())
        .addColumn('token', 'text', (c) => c.notNull())
        .addColumn('seen_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
};

export interface ArchiveNodeRow {
  node: string;
  token: string;
  seen_at: number;
}

export interface ArchiveRow {
  kind: string;
  event: string;
  start: string;
  /** Its number among the files of the key, from 1, in the order they were stored. */
  part: number;
  starts_at: number;
  /** The file's name under the kind's directory (`<node>/<uuid>.<ext>`); unique per stored version, so it doubles as the ETag. */
  file: string;
  size: number;
  content_type: string;
  format: string;
  duration: number;
  created_at: number;
}

export interface ArchiveTables {
  archive_files: ArchiveRow;
  archive_nodes: ArchiveNodeRow;
}
