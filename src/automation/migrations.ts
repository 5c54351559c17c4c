import type { Kysely } from 'kysely';
import type { Migrations } from '../core/db/database.ts';

export const automationMigrations: Migrations = {
  '2026-11-25-10-automation-broadcasts': {
    async up(db: Kysely<any>) {
      // One row per automated broadcast: its primary key is the claim that lets one synchronizer only create its task.
      await db.schema.createTable('automation_broadcasts')
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('instance_start', 'text', (c) => c.notNull())
        .addColumn('starts_at', 'bigint', (c) => c.notNull())
        .addColumn('task_id', 'text')
        .addColumn('claimed_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('automation_broadcasts_pk', ['event_id', 'instance_start', 'starts_at'])
        .execute();
      await db.schema.createIndex('automation_broadcasts_starts_at').on('automation_broadcasts').column('starts_at').execute();
    },
  },
};

export interface BroadcastRow {
  event_id: string;
  /** Naive local start, as in the programme. */
  instance_start: string;
  starts_at: number;
  /** Null while the synchronizer that claimed the row has not created the task yet. */
  task_id: string | null;
  claimed_at: number;
}

export interface AutomationTables {
  automation_broadcasts: BroadcastRow;
}
