import type { Kysely } from 'kysely';
import type { Migrations } from '../core/db/database.ts';

export const liveMigrations: Migrations = {
  '2026-12-07-10-live-jobs': {
    async up(db: Kysely<any>) {
      // A live job with a static entry point: its ingest is the gate channel it names (key and port live there).
      await db.schema.createTable('live_jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull().unique())
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('region', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('record', 'integer', (c) => c.notNull())
        .addColumn('reconnect_time', 'integer', (c) => c.notNull())
        .addColumn('max_waiting_time', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('sep_state', 'text', (c) => c.notNull())
        // The gate session of the activation under way, and when it was activated (a restart opens it again).
        .addColumn('session', 'text')
        .addColumn('activated_at', 'bigint')
        // The programme instance of the activation under way, as JSON {event, start}.
        .addColumn('instance', 'text')
        .addColumn('history', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('live_jobs_state').on('live_jobs').columns(['state', 'created_at']).execute();
      // A jobstartstop workflow: each of its tasks is a task of the task engine (ids kept here, one per revision).
      await db.schema.createTable('live_workflows')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('notification_url', 'text')
        .addColumn('instance', 'text')
        .addColumn('activation_state', 'text', (c) => c.notNull())
        .addColumn('activation_at', 'bigint', (c) => c.notNull())
        .addColumn('activation_notification', 'integer')
        .addColumn('activation_fired_at', 'bigint')
        .addColumn('activation_error', 'text')
        .addColumn('deactivation_state', 'text', (c) => c.notNull())
        .addColumn('deactivation_at', 'bigint', (c) => c.notNull())
        .addColumn('deactivation_notification', 'integer')
        .addColumn('deactivation_fired_at', 'bigint')
        .addColumn('deactivation_error', 'text')
        // Moved on by every PUT: a task of an earlier revision finds itself stale and does nothing.
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('live_workflows_job').on('live_workflows').columns(['job_id', 'activation_at']).execute();
      await db.schema.createIndex('live_workflows_start').on('live_workflows').columns(['activation_at', 'id']).execute();
    },
  },
  '2026-12-07-11-live-workflow-webhook': {
    async up(db: Kysely<any>) {
      // The webhook that signs the notifications of the workflow's notification_url.
      await db.schema.alterTable('live_workflows').addColumn('notification_webhook', 'text').execute();
    },
  },
};

export interface JobRow {
  id: string;
  name: string;
  channel: string;
  node: string;
  region: string;
  format: string;
  record: number;
  reconnect_time: number;
  max_waiting_time: number;
  state: string;
  sep_state: string;
  session: string | null;
  activated_at: number | null;
  instance: string | null;
  /** JSON array of JobChange. */
  history: string;
  created_at: number;
  updated_at: number;
}

export interface WorkflowRow {
  id: string;
  job_id: string;
  description: string | null;
  notification_url: string | null;
  notification_webhook: string | null;
  instance: string | null;
  activation_state: string;
  /** Epoch ms (whole seconds: time_utc). */
  activation_at: number;
  activation_notification: number | null;
  activation_fired_at: number | null;
  activation_error: string | null;
  deactivation_state: string;
  deactivation_at: number;
  deactivation_notification: number | null;
  deactivation_fired_at: number | null;
  deactivation_error: string | null;
  revision: number;
  created_at: number;
  updated_at: number;
}

export interface LiveTables {
  live_jobs: JobRow;
  live_workflows: WorkflowRow;
}
