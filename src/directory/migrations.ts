import type { Kysely } from 'kysely';
import type { Migrations } from '../core/db/database.ts';

export const directoryMigrations: Migrations = {
  '2026-12-08-10-directory': {
    async up(db: Kysely<any>) {
      // Every node of the registry as it last reported; roles and its report are JSON.
      await db.schema.createTable('directory_nodes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('geozone', 'text')
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('capacity', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('drained', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('reported_at', 'bigint', (c) => c.notNull())
        .addColumn('state_changed_at', 'bigint', (c) => c.notNull())
        .addColumn('report', 'text', (c) => c.notNull())
        .execute();
      // A programme instance's listeners, per minute and node: listener-milliseconds and the most at once.
      await db.schema.createTable('directory_audience')
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('start', 'text', (c) => c.notNull())
        .addColumn('minute', 'bigint', (c) => c.notNull())
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('listener_ms', 'bigint', (c) => c.notNull())
        .addColumn('peak', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('directory_audience_key', ['event', 'start', 'minute', 'node'])
        .execute();
      await db.schema.createIndex('directory_audience_minute').on('directory_audience').columns(['minute']).execute();
    },
  },
};
