import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const CACHED_STATEMENTS = 500;

/** Adapts Node's built-in `node:sqlite` to the interface Kysely's SqliteDialect drives, reusing prepared statements. */
export function openSqlite(path: string): SqliteDatabase {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 10000');
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA cache_size = -65536');
  // Checkpoints run on a thread of their own (checkpointer.ts); a WAL reset keeps at most 64 MiB of file.
  db.exec('PRAGMA wal_autocheckpoint = 0');
  db.exec('PRAGMA journal_size_limit = 67108864');
  const cache = new Map<string, SqliteStatement>();
  const wrap = (statement: StatementSync): SqliteStatement => {
    const args = (parameters: ReadonlyArray<unknown>) => parameters as SQLInputValue[];
    return {
      reader: statement.columns().length > 0,
      all: (parameters) => statement.all(...args(parameters)),
      run: (parameters) => statement.run(...args(parameters)),
      iterate: (parameters) => statement.iterate(...args(parameters)),
    };
  };
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let statement = cache.get(sql);
      if (statement) {
        // Map order is insertion order: re-inserting keeps the most recently used last.
        cache.delete(sql);
      } else {
        statement = wrap(db.prepare(sql));
        if (cache.size >= CACHED_STATEMENTS) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}
