import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { lockDataDir } from '../../src/core/lock.ts';
import { tempDir } from '../support/onair.ts';

const LOCK = new URL('../../src/core/lock.ts', import.meta.url).href;

/** The state letter of a process (R, S, Z, ...) from /proc, or undefined once it is reaped. */
function state(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Threads of a process not yet exited: a killed process is a zombie once all of them are gone. */
const threads = (pid: number) => readdirSync(`/proc/${pid}/task`).length;

describe('the data-dir lock', () => {
  test('a second onair on the same data dir is refused, naming the holder; after unlock it is free again', () => {
    const dir = tempDir();
    try {
      const unlock = lockDataDir(dir);
      assert.throws(() => lockDataDir(dir), new RegExp(`another onair \\(pid ${process.pid}\\) is using ${dir}`));
      unlock();
      lockDataDir(dir)();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a holder killed with kill -9 frees the lock at once, while it is still a zombie', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['--input-type=module', '-e',
      `import { lockDataDir } from ${JSON.stringify(LOCK)}; lockDataDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 60_000);`],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(child.stdout!, 'data');
      assert.throws(() => lockDataDir(dir), /another onair/);
      const pid = child.pid!;
      child.kill('SIGKILL');
      // Synchronously, so that this process cannot reap its child: the killed holder stays a zombie meanwhile.
      const deadline = Date.now() + 5000;
      while (state(pid) !== 'Z' || threads(pid) > 1) assert.ok(Date.now() < deadline, `pid ${pid} did not become a zombie`);
      const unlock = lockDataDir(dir);
      assert.equal(state(pid), 'Z', 'the lock was taken while the killed holder was a zombie');
      unlock();
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const [who, pid] of [['PID 1 (onair itself in a container)', 1], ['this very process', process.pid]] as const) {
    test(`a pid file left by a crash naming ${who} does not refuse the start`, () => {
      const dir = tempDir();
      try {
        writeFileSync(join(dir, 'onair.pid'), String(pid));
        const unlock = lockDataDir(dir);
        assert.equal(readFileSync(join(dir, 'onair.pid'), 'utf8'), String(process.pid));
        unlock();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
