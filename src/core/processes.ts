import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Supervised {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is reaped. */
  stop(graceMs?: number): Promise<Exit>;
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks, which tells a reused pid from the process we started. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process `pid` started at `started` still runs (a zombie holds none of its sockets and files any more). */
function stillRuns(pid: number, started: string): boolean {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ...rest] = fields.slice(fields.lastIndexOf(')') + 2).split(' ');
    return state !== 'Z' && rest[18] === started;
  } catch {
    return false;
  }
}

/** How long a killed leftover may take to exit before the start goes on regardless. */
const REAP_WAIT_MS = 2000;

/** User plus system CPU time of a process in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
export function processCpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * Starts child processes with argument arrays (no shell) and keeps one pid file per child in `dir`, so that
 * a later run can kill what a killed run left behind. Every child is reaped; `stopAll` ends them all.
 */
export class ProcessSupervisor {
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #running = new Map<string, Supervised>();

  constructor(options: { dir: string; logger: Logger }) {
    this.#dir = options.dir;
    this.#logger = options.logger;
    mkdirSync(this.#dir, { recursive: true });
  }

  /**
   * Kills the children a previous run left (pid files whose process still runs with the same start time) and waits
   * until they have exited, so that the ports and files they held are free; answers their names.
   */
  async reapLeftovers(): Promise<string[]> {
    const names: string[] = [];
    const killed: Array<{ pid: number; started: string }> = [];
    for (const file of readdirSync(this.#dir).filter((f) => f.endsWith('.pid'))) {
      const name = file.slice(0, -4);
      if (this.#running.has(name)) continue;
      const [pid, started] = readFileSync(join(this.#dir, file), 'utf8').trim().split(' ');
      if (started !== undefined && stillRuns(Number(pid), started)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
          killed.push({ pid: Number(pid), started });
          this.#logger.warn({ name, pid: Number(pid) }, 'killed a child process left by a previous run');
        } catch { /* gone meanwhile */ }
      }
      rmSync(join(this.#dir, file), { force: true });
      names.push(name);
    }
    const deadline = Date.now() + REAP_WAIT_MS;
    while (killed.some((k) => stillRuns(k.pid, k.started)) && Date.now() < deadline) await sleep(5);
    return names;
  }

  /** `name` must be unique among running children and safe as a file name. */
  spawn(name: string, command: string, args: string[], stdio: StdioOptions = ['ignore', 'pipe', 'pipe']): Supervised {
    if (this.#running.has(name)) throw new Error(`a child named ${name} is already running`);
    const child = spawn(command, args, { stdio });
    const pidFile = join(this.#dir, `${name}.pid`);
    const exited = new Promise<Exit>((resolve) => {
      child.once('error', (err) => {
        // Failed to start: there will be no 'exit'.
        if (child.pid === undefined) {
          this.#logger.error({ err, name, command }, 'could not start child process');
          resolve({ code: null, signal: null });
        }
      });
      child.once('exit', (code, signal) => resolve({ code, signal }));
    }).then((exit) => {
      this.#running.delete(name);
      rmSync(pidFile, { force: true });
      return exit;
    });
    const pid = child.pid ?? -1;
    if (pid > 0) writeFileSync(pidFile, `${pid} ${processStartTime(pid) ?? ''}`);
    const supervised: Supervised = {
      name, pid, child, exited,
      stop: (graceMs = 2000) => {
        if (child.exitCode === null && child.signalCode === null && pid > 0) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          void exited.then(() => clearTimeout(timer));
        }
        return exited;
      },
    };
    this.#running.set(name, supervised);
    return supervised;
  }

  get running(): Supervised[] {
    return [...this.#running.values()];
  }

  async stopAll(graceMs?: number): Promise<void> {
    await Promise.all(this.running.map((child) => child.stop(graceMs)));
  }
}
