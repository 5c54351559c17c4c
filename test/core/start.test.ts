import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/process.ts';
import { tempDir, waitFor } from '../support/onair.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every process descending from `pid`, found through the parent ids in /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone */ }
  }
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length > 0;) {
    frontier = [...parents].filter(([, parent]) => frontier.includes(parent)).map(([child]) => child);
    found.push(...frontier);
  }
  return found;
}

/** Whether a process still runs (a zombie has ended: only its parent's reaping is left). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

describe('the documented start commands stop cleanly on a signal to the process that was started', () => {
  for (const [command, args] of [['npm', ['start']], ['./bin/onair', ['serve']]] as const) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      test(`${command} ${args.join(' ')}, ${signal}: everything gone within 2 s`, async () => {
        const dataDir = tempDir();
        const port = await freePort();
        const started = spawn(command, args, {
          cwd: ROOT, stdio: 'ignore',
          env: { ...process.env, ONAIR_DATA_DIR: dataDir, ONAIR_HTTP_PORT: String(port), ONAIR_SRT_PORT_START: String(await freePort()) },
        });
        try {
          await waitFor(() => fetch(`http://127.0.0.1:${port}/ping`).then((r) => r.status === 204, () => false), 'onair to answer', 30_000, 50);
          const family = [started.pid!, ...descendants(started.pid!)];
          started.kill(signal);
          await waitFor(() => family.every((pid) => !alive(pid)), `${family.join(', ')} to end`, 2000);
        } finally {
          for (const pid of descendants(started.pid!)) process.kill(pid, 'SIGKILL');
          started.kill('SIGKILL');
          rmSync(dataDir, { recursive: true, force: true });
        }
      });
    }
  }
});
