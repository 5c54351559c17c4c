import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, PostgresDialect, sql, SqliteDialect } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import pg from 'pg';
import type { Logger } from 'pino';
import { startCheckpointer } from './checkpointer.ts';
import { openSqlite } from './sqlite.ts';
import { localNotifier, PostgresNotifier, type Notifier } from './notifier.ts';

export type Dialect = 'sqlite' | 'postgres';

/** The storage every area shares: a Kysely handle, which dialect it speaks, and cross-instance notifications. */
export interface Database {
  readonly kysely: Kysely<any>;
  readonly dialect: Dialect;
  readonly notifier: Notifier;
  /** Where the database lives, without credentials, for logs. */
  readonly description: string;
  close(): Promise<void>;
}

export type Migrations = Record<string, Migration>;

const INT8_OID = 20;
// Often enough that the WAL stays small, rarely enough that an idle database costs nothing worth measuring.
const CHECKPOINT_INTERVAL_MS = 1000;
// 16 MiB of WAL: only writes too steady for a passive checkpoint ever to finish make it that long.
const RESTART_FRAMES = 4096;

function postgresPool(url: string): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max: 10,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
}

export async function openDatabase(options: { url: string | undefined; dataDir: string; logger: Logger }): Promise<Database> {
  if (options.url === undefined) {
    mkdirSync(options.dataDir, { recursive: true });
    const file = join(options.dataDir, 'onair.sqlite');
    const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: openSqlite(file) }) });
    const checkpointer = startCheckpointer(file, {
      intervalMs: CHECKPOINT_INTERVAL_MS, restartFrames: RESTART_FRAMES, logger: options.logger,
      fallBack: () => void sql`PRAGMA wal_autocheckpoint = 1000`.execute(kysely).catch(() => {}),
    });
    return {
      kysely, dialect: 'sqlite', notifier: localNotifier(), description: `sqlite:${file}`,
      close: async () => {
        await checkpointer.stop();
        await kysely.destroy();
      },
    };
  }
  const pool = postgresPool(options.url);
  pool.on('error', (error) => options.logger.error({ err: error }, 'idle PostgreSQL connection failed'));
  const kysely = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  const notifier = new PostgresNotifier(pool, options.url, options.logger);
  await notifier.start();
  const url = new URL(options.url);
  return {
    kysely, dialect: 'postgres', notifier, description: `postgres://${url.host}${url.pathname}`,
    close: async () => {
      await notifier.stop();
      await kysely.destroy();
    },
  };
}

/** Applies every area's migrations in name order; names start with a date so areas interleave in history. */
export async function migrate(db: Database, ...areas: Migrations[]): Promise<void> {
  const all: Migrations = Object.assign({}, ...areas);
  const migrator = new Migrator({
    db: db.kysely,
    provider: { getMigrations: async () => all },
    migrationTableName: 'onair_migrations',
    migrationLockTableName: 'onair_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${String(error)}`, { cause: error });
  }
}

/** Whether a statement failed because a row with the same key exists (SQLite's primary key or unique constraint, PostgreSQL's 23505). */
export function isUniqueViolation(error: unknown): boolean {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  return code === '23505' || (code === 'ERR_SQLITE_ERROR' && (errcode === 1555 || errcode === 2067));
}

/** Splits `items` into runs of at most `size`, to stay under the bound-parameter limits of one statement. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const runs: T[][] = [];
  for (let i = 0; i < items.length; i += size) runs.push(items.slice(i, i + size));
  return runs;
}

// Characters JSON writes as escapes that PostgreSQL would read otherwise: controls, and surrogates (lone ones are escaped).
const NOT_LIKE_JSON = /[\u0000-\u001f\ud800-\udfff]/;

/**
 * `values` as one PostgreSQL text[] parameter. JSON quotes a string as PostgreSQL quotes an array element (\" and \\)
 * unless it holds a character of NOT_LIKE_JSON, so the literal is JSON.stringify's; pg's own serialisation, used
 * otherwise, took 75 ms for 30,000 task ids.
 */
export function textArray(values: string[]): string | string[] {
  return values.some((v) => NOT_LIKE_JSON.test(v)) ? values : `{${JSON.stringify(values).slice(1, -1)}}`;
}
