import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/**
 * Makes one onair process the only user of a data directory (SQLite has no leases across processes). The lock is
 * an exclusive SQLite lock on `onair.lock`, a POSIX record lock underneath: the kernel drops it the moment its holder
 * exits, however it exits, so a restart right after kill -9 or a power loss never finds a stale lock, and no pid is
 * trusted. `onair.pid` beside it only names the holder in the message.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const pidFile = join(dataDir, 'onair.pid');
  const lock = new DatabaseSync(join(dataDir, 'onair.lock'), { timeout: 0 });
  lock.exec('PRAGMA locking_mode = EXCLUSIVE');
  // A holder killed a moment ago lets go once its last thread has exited: give it a little time.
  for (const deadline = Date.now() + EXIT_GRACE_MS; !tryLock(lock);) {
    if (Date.now() > deadline) {
      lock.close();
      throw new Error(`another onair${holder(pidFile)} is using ${dataDir}; stop it, or give this one its own ONAIR_DATA_DIR`);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  writeFileSync(pidFile, String(process.pid));
  return () => {
    rmSync(pidFile, { force: true });
    lock.close();
  };
}

const EXIT_GRACE_MS = 500;

function tryLock(lock: DatabaseSync): boolean {
  try {
    lock.exec('BEGIN EXCLUSIVE');
    return true;
  } catch (error) {
    if (/locked|busy/i.test((error as Error).message)) return false;
    throw error;
  }
}

function holder(pidFile: string): string {
  try {
    const pid = readFileSync(pidFile, 'utf8').trim();
    return /^\d+$/.test(pid) ? ` (pid ${pid})` : '';
  } catch {
    return '';
  }
}
