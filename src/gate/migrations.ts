import type { Kysely } from 'kysely';
import { DEFAULT_APP } from '../core/config.ts';
import type { Migrations } from '../core/db/database.ts';

export const gateMigrations: Migrations = {
  '2026-11-25-10-gate-sessions': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('gate_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('mode', 'text', (c) => c.notNull())
        .addColumn('event', 'text')
        .addColumn('instance_start', 'text')
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('record', 'integer', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('who', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reserved_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint')
        .addColumn('published_at', 'bigint')
        .addColumn('ended_at', 'bigint')
        .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('duration_ms', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('codec', 'text')
        .addColumn('pid', 'integer')
        .addColumn('exit_code', 'integer')
        .addColumn('reason', 'text')
        .execute();
      await db.schema.createIndex('gate_sessions_channel').on('gate_sessions').columns(['channel', 'reserved_at']).execute();
      // One row per channel while a session holds it: the primary key is what keeps reservations exclusive,
      // across concurrent requests and across instances sharing the database.
      await db.schema.createTable('gate_slots')
        .addColumn('channel', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
  '2026-12-01-10-gate-session-attempts': {
    async up(db: Kysely<any>) {
      // Failed connection attempts of a session's sources (JSON list of {at, error}).
      await db.schema.alterTable('gate_sessions').addColumn('attempts', 'text', (c) => c.notNull().defaultTo('[]')).execute();
    },
  },
  '2026-12-01-11-gate-session-outputs': {
    async up(db: Kysely<any>) {
      // The session's push outputs and how they fared (JSON list of {type, url without credentials, state, error}).
      await db.schema.alterTable('gate_sessions').addColumn('outputs', 'text', (c) => c.notNull().defaultTo('[]')).execute();
    },
  },
  '2026-12-02-10-gate-channels': {
    async up(db: Kysely<any>) {
      // Channels made at run time (those of ONAIR_CHANNELS live in the configuration). The unique port index is what
      // keeps two channels off one port, across concurrent requests and instances sharing the database.
      await db.schema.createTable('gate_channels')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('gate_channels_port').on('gate_channels').column('port').unique().execute();
    },
  },
  '2026-12-06-10-gate-channel-fallback': {
    async up(db: Kysely<any>) {
      // A run-time channel's own fallback, as ONAIR_CHANNELS writes it (JSON of FallbackForm); null: ONAIR_GATE_FALLBACK.
      await db.schema.alterTable('gate_channels').addColumn('fallback', 'text').execute();
    },
  },
  '2026-12-06-11-gate-app-key': {
    async up(db: Kysely<any>) {
      // The hook application (seed 004's appKey) of a run-time channel's sessions, and the one a session was decided by.
      await db.schema.alterTable('gate_channels').addColumn('app_key', 'text', (c) => c.notNull().defaultTo(DEFAULT_APP)).execute();
      await db.schema.alterTable('gate_sessions').addColumn('app_key', 'text', (c) => c.notNull().defaultTo(DEFAULT_APP)).execute();
    },
  },
};

export interface SessionRow {
  id: string;
  channel: string;
  mode: string;
  event: string | null;
  instance_start: string | null;
  format: string;
  record: number;
  metadata: string;
  who: string;
  owner: string;
  state: string;
  reserved_at: number;
  expires_at: number | null;
  published_at: number | null;
  ended_at: number | null;
  bytes: number;
  duration_ms: number;
  codec: string | null;
  pid: number | null;
  exit_code: number | null;
  reason: string | null;
  /** JSON list of the session's failed connection attempts, {at (epoch ms), error}. */
  attempts: string;
  /** JSON list of the session's push outputs (OutputState: URL without credentials). */
  outputs: string;
  /** The hook application that decided on it. */
  app_key: string;
}

export interface ChannelRow {
  name: string;
  port: number;
  /** The stream key (SRT passphrase) of static mode: a secret, stored because every relay needs it. */
  key: string;
  /** JSON of its FallbackForm; null: the global fallback (ONAIR_GATE_FALLBACK). */
  fallback: string | null;
  app_key: string;
  created_at: number;
  updated_at: number;
}

export interface GateTables {
  gate_channels: ChannelRow;
  gate_sessions: SessionRow;
  gate_slots: { channel: string; session_id: string; owner: string; heartbeat_at: number };
}
