import type { Kysely } from 'kysely';
import type { Migrations } from '../db/database.ts';

export const outboundMigrations: Migrations = {
  '2026-12-06-20-outbound-deliveries': {
    async up(db: Kysely<any>) {
      // One row per attempt of any outgoing call that asked to be logged (webhooks and REST hooks alike). Ids begin
      // with the time, so that ordering by id is newest first and `before` pages.
      await db.schema.createTable('onair_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subscriber', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('event_id', 'bigint')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('request_headers', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('response_headers', 'text', (c) => c.notNull())
        .addColumn('excerpt', 'text')
        .execute();
      await db.schema.createIndex('onair_deliveries_subscriber').on('onair_deliveries').columns(['kind', 'subscriber', 'id']).execute();
      await db.schema.createIndex('onair_deliveries_message').on('onair_deliveries').columns(['message']).execute();
      await db.schema.createIndex('onair_deliveries_at').on('onair_deliveries').column('at').execute();
    },
  },
};

export interface DeliveryRow {
  id: string;
  kind: string;
  subscriber: string;
  message: string | null;
  event_id: number | null;
  type: string;
  attempt: number;
  at: number;
  url: string;
  request_headers: string;
  status: number | null;
  duration_ms: number;
  error: string | null;
  response_headers: string;
  excerpt: string | null;
}

export interface DeliveryTables {
  onair_deliveries: DeliveryRow;
}
