import { sql, type Generated, type Kysely } from 'kysely';
import type { Migrations } from '../core/db/database.ts';

export const taskMigrations: Migrations = {
  '2026-11-25-01-tasks': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('operation_type', 'text', (c) => c.notNull())
        .addColumn('operation_parameters', 'text', (c) => c.notNull())
        .addColumn('condition_type', 'text', (c) => c.notNull())
        .addColumn('condition_parameters', 'text', (c) => c.notNull())
        .addColumn('dependencies', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('due_at', 'bigint', (c) => c.notNull())
        .addColumn('enqueued_at', 'bigint', (c) => c.notNull())
        .addColumn('dequeued_at', 'bigint')
        .addColumn('slept_at', 'bigint')
        .addColumn('started_at', 'bigint')
        .addColumn('cancelled_at', 'bigint')
        .addColumn('failed_at', 'bigint')
        .addColumn('completed_at', 'bigint')
        .addColumn('error', 'text')
        .addColumn('result', 'text')
        .addColumn('progress', 'text')
        .addColumn('owner', 'text')
        .addColumn('lease_expires_at', 'bigint')
        .addColumn('epoch', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('tasks_status_due').on('tasks').columns(['status', 'due_at']).execute();
      await db.schema.createIndex('tasks_status').on('tasks').columns(['status', 'enqueued_at']).execute();
      await db.schema.createIndex('tasks_running_owner').on('tasks').columns(['owner', 'lease_expires_at'])
        .where(sql.ref('status'), '=', 'running').execute();
      await db.schema.createTable('task_dependencies')
        .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('dependency_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('task_dependencies_pk', ['task_id', 'name'])
        .execute();
      await db.schema.createIndex('task_dependencies_dependency').on('task_dependencies').column('dependency_id').execute();
      await db.schema.createTable('task_engines')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '2026-12-02-01-tasks-affinity-and-lists': {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('tasks').addColumn('node', 'text').execute();
      // The lists page through each status in enqueue order reading the index alone.
      await db.schema.dropIndex('tasks_status').execute();
      await db.schema.createIndex('tasks_status').on('tasks').columns(['status', 'enqueued_at', 'id']).execute();
    },
  },
};

export interface TaskRow {
  id: string;
  operation_type: string;
  operation_parameters: string;
  condition_type: string;
  condition_parameters: string;
  dependencies: string;
  status: string;
  due_at: number;
  enqueued_at: number;
  dequeued_at: number | null;
  slept_at: number | null;
  started_at: number | null;
  cancelled_at: number | null;
  failed_at: number | null;
  completed_at: number | null;
  error: string | null;
  result: string | null;
  progress: string | null;
  owner: string | null;
  lease_expires_at: number | null;
  epoch: Generated<number>;
  /** The node that must run the task, if any. */
  node: string | null;
}

export interface TaskTables {
  tasks: TaskRow;
  task_dependencies: { task_id: string; name: string; dependency_id: string };
  task_engines: { id: string; started_at: number; heartbeat_at: number };
}
