import { sql, type Kysely } from 'kysely';
import type { Migrations } from '../core/db/database.ts';

export const webhookMigrations: Migrations = {
  '2026-12-06-20-webhooks': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('webhook_subscriptions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('types', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('previous_secret', 'text')
        .addColumn('previous_until', 'bigint')
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('disabled_reason', 'text')
        .addColumn('failing_since', 'bigint')
        .addColumn('after_event', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      // One message per subscription and event: its id is the webhook-id of every attempt and replay.
      await db.schema.createTable('webhook_messages')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('subscription', 'text', (c) => c.notNull().references('webhook_subscriptions.id').onDelete('cascade'))
        .addColumn('event_id', 'bigint')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('plan', 'integer', (c) => c.notNull())
        .addColumn('next_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('webhook_messages_event', ['subscription', 'event_id'])
        .execute();
      await db.schema.createIndex('webhook_messages_status').on('webhook_messages').columns(['status', 'subscription', 'created_at']).execute();
      // The last outbox id handed to the subscriptions: one row, moved on by one instance at a time.
      await db.schema.createTable('webhook_cursor')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('through', 'bigint', (c) => c.notNull())
        .execute();
      await sql`INSERT INTO webhook_cursor (id, through) SELECT 1, COALESCE(MAX(id), 0) FROM onair_events`.execute(db);
    },
  },
};

export interface SubscriptionRow {
  id: string;
  url: string;
  /** JSON array of event types, or ["*"]. */
  types: string;
  description: string;
  secret: string;
  /** The secret before the last rotation: it signs too until `previous_until`. */
  previous_secret: string | null;
  previous_until: number | null;
  enabled: number;
  disabled_reason: string | null;
  /** The first failure since the last success: five days of failures disable the subscription. */
  failing_since: number | null;
  /** The outbox id delivered where it was made: events up to it were recorded before it, and are not its. */
  after_event: number;
  created_at: number;
  updated_at: number;
}

export type MessageStatus = 'pending' | 'delivered' | 'failed' | 'aborted' | 'dropped';

export interface MessageRow {
  /** msg_...: the webhook-id. */
  id: string;
  subscription: string;
  /** The outbox id of the event; null for a test message. */
  event_id: number | null;
  type: string;
  /** The signed body, `{type, timestamp, data}`, the same for every attempt. */
  body: string;
  status: MessageStatus;
  attempts: number;
  /** The number of the task planned for the next attempt; a task of another number is stale. */
  plan: number;
  next_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface WebhookTables {
  webhook_subscriptions: SubscriptionRow;
  webhook_messages: MessageRow;
  webhook_cursor: { id: number; through: number };
}
