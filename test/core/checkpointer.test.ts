import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { sql } from 'kysely';
import { pino } from 'pino';
import { startCheckpointer } from '../../src/core/db/checkpointer.ts';
import { openDatabase } from '../../src/core/db/database.ts';
import { tempDir, waitFor } from '../support/onair.ts';

const logger = pino({ level: 'silent' });

test('SQLite writes land in the WAL and a worker thread checkpoints them into the database file', async () => {
  const dataDir = tempDir();
  const database = await openDatabase({ url: undefined, dataDir, logger });
  try {
    const { kysely } = database;
    const setting = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(kysely);
    assert.equal(setting.rows[0]!.wal_autocheckpoint, 0, 'the serving connection does not checkpoint');
    await sql`CREATE TABLE filler (data TEXT NOT NULL)`.execute(kysely);
    const file = join(dataDir, 'onair.sqlite');
    const before = statSync(file).size;
    // About 4 MiB, far more than the database file held before.
    await kysely.transaction().execute(async (trx) => {
      for (let i = 0; i < 64; i++) await sql`INSERT INTO filler (data) VALUES (${'x'.repeat(64 * 1024)})`.execute(trx);
    });
    await waitFor(() => statSync(file).size > before + 4 * 1024 * 1024, 'the checkpoint to copy the WAL into the database file');
  } finally {
    await database.close();
  }
});

test('under steady writes the WAL stays bounded: the checkpoint thread makes it start over', async () => {
  const dataDir = tempDir();
  const database = await openDatabase({ url: undefined, dataDir, logger });
  try {
    const { kysely } = database;
    await sql`CREATE TABLE filler (data TEXT NOT NULL)`.execute(kysely);
    const wal = join(dataDir, 'onair.sqlite-wal');
    let largest = 0;
    // 96 MiB in 64 KiB transactions, one every 4 ms (16 MiB/s, six checkpoint intervals), all of which the WAL would
    // keep if nothing ever finished a checkpoint between two writes.
    for (let written = 0; written < 96 * 1024 * 1024; written += 64 * 1024) {
      await sql`INSERT INTO filler (data) VALUES (${'x'.repeat(64 * 1024)})`.execute(kysely);
      largest = Math.max(largest, statSync(wal).size);
      await new Promise((resolve) => setTimeout(resolve, 4));
    }
    assert.ok(largest < 48 * 1024 * 1024, `the WAL reached ${(largest / 1048576).toFixed(1)} MiB`);
  } finally {
    await database.close();
  }
});

test('when the checkpoint thread fails, checkpoints go back to the serving connection', async () => {
  let fellBack = false;
  const checkpointer = startCheckpointer(join(tempDir(), 'missing', 'onair.sqlite'), {
    intervalMs: 10, restartFrames: 4096, logger, fallBack: () => { fellBack = true; },
  });
  await waitFor(() => fellBack, 'the fallback');
  await checkpointer.stop();
});

test('closing a SQLite database waits for the checkpoint thread without letting the process end first', async () => {
  const script = join(tempDir(), 'close.mjs');
  const database = pathToFileURL(join(import.meta.dirname, '../../src/core/db/database.ts')).href;
  writeFileSync(script, `import { pino } from '${import.meta.resolve('pino')}';
import { openDatabase } from '${database}';
const database = await openDatabase({ url: undefined, dataDir: process.argv[2], logger: pino({ level: 'silent' }) });
await database.close();
console.log('closed');
`);
  const { stdout } = await promisify(execFile)(process.execPath, [script, tempDir()]);
  assert.equal(stdout.trim(), 'closed');
});
