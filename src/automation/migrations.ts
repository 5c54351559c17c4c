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
  '2026-11-25-11-automation-task-chosen-at-claim': {
    async up(db: Kysely<any>) {
      // Task ids are now chosen with the claim; a claim left without one is let go, and the next sync claims it anew.
      await db.deleteFrom('automation_broadcasts').where('task_id', 'is', null).execute();
    },
  },
  '2026-12-01-10-automation-task-created': {
    async up(db: Kysely<any>) {
      // Set once the claim's task was seen to exist: a task missing after that was removed, and the key is free at once.
      await db.schema.alterTable('automation_broadcasts').addColumn('task_created', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  '2026-12-07-30-automation-live-windows': {
    async up(db: Kysely<any>) {
      // One row per live instance naming a job: the key is the claim, as for broadcasts (a moved start is a new window).
      await db.schema.createTable('automation_live_windows')
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('instance_start', 'text', (c) => c.notNull())
        .addColumn('starts_at', 'bigint', (c) => c.notNull())
        .addColumn('ends_at', 'bigint', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('claim', 'text', (c) => c.notNull())
        .addColumn('claimed_at', 'bigint', (c) => c.notNull())
        .addColumn('workflow_id', 'text')
        .addColumn('error', 'text')
        .addPrimaryKeyConstraint('automation_live_windows_pk', ['event_id', 'instance_start', 'starts_at'])
        .execute();
    },
  },
};

export interface BroadcastRow {
  event_id: string;
  /** Naive local start, as in the programme. */
  instance_start: string;
  starts_at: number;
  /** Chosen with the claim; the task itself is created right after. */
  task_id: string;
  claimed_at: number;
  /** 1 once the task was seen to exist. */
  task_created: number;
}

export interface LiveWindowRow {
  event_id: string;
  instance_start: string;
  starts_at: number;
  ends_at: number;
  job_id: string;
  /** A token set anew by every claim and change: changes compare and set it. */
  claim: string;
  claimed_at: number;
  /** Null while the claimer makes the workflow, or when the scheduler refused it. */
  workflow_id: string | null;
  /** Why the scheduler refused the window (an unknown or cancelled job). */
  error: string | null;
}

export interface AutomationTables {
  automation_broadcasts: BroadcastRow;
  automation_live_windows: LiveWindowRow;
}
