import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, reserveNow, untilAnswering } from '../support/process.ts';
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

const INSTALLED = '/opt/onair';
const installedHere = (text: string) => text.replaceAll(INSTALLED, ROOT);

interface Start {
  name: string; command: string; args: string[]; cwd: string; env(dataDir: string): Record<string, string>;
  /** How it is stopped: the unit's KillSignal=, the image's STOPSIGNAL; by hand, SIGTERM or Ctrl-C. */
  signals: NodeJS.Signals[];
}

/** The systemd unit's ExecStart= as written, with its Environment= (%S, the state dirs' root, in a temporary dir). */
function systemdUnit(): Start {
  const unit = readFileSync(join(ROOT, 'deploy/onair.service'), 'utf8');
  const values = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1]!);
  const [command, ...args] = installedHere(values('ExecStart')[0]!).split(' ');
  const settings = values('Environment').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]);
  return {
    name: `deploy/onair.service: ${values('ExecStart')[0]}`, command: command!, args, cwd: installedHere(values('WorkingDirectory')[0]!),
    env: (dataDir) => Object.fromEntries(settings.map(([name, value]) => [name, value.replaceAll('%S', dataDir)])),
    signals: [values('KillSignal')[0] as NodeJS.Signals],
  };
}

/** The Dockerfile's CMD as written, in its WORKDIR (the repository), with its ENV but a temporary data dir: its last stage, the image. */
function dockerImage(): Start & { healthcheck: string[] } {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, '').split(/^FROM /m).at(-1)!;
  const instruction = (name: string) => new RegExp(`^${name} (.*)$`, 'm').exec(dockerfile)![1]!;
  const [command, ...args] = JSON.parse(instruction('CMD')) as string[];
  const settings = Object.fromEntries(instruction('ENV').split(' ').map((pair) => pair.split('=', 2) as [string, string]));
  return {
    name: `Dockerfile: CMD ${instruction('CMD')}`, command: command!, args, cwd: installedHere(instruction('WORKDIR')),
    env: (dataDir) => ({ ...settings, ONAIR_DATA_DIR: dataDir }),
    signals: [instruction('STOPSIGNAL') as NodeJS.Signals],
    healthcheck: JSON.parse(/CMD (\[.*\])$/.exec(instruction('HEALTHCHECK'))![1]!),
  };
}

const documented = (command: string, args: string[]): Start => ({
  name: `${command} ${args.join(' ')}`, command, args, cwd: ROOT, env: (dataDir) => ({ ONAIR_DATA_DIR: dataDir }), signals: ['SIGTERM', 'SIGINT'],
});

/** Runs a command of the image (the health check) in the repository, as the image runs it in its WORKDIR. */
function runIn(cwd: string, [command, ...args]: string[], env: Record<string, string>): Promise<number | null> {
  const child = spawn(command!, args, { cwd, env: { ...process.env, ...env }, stdio: 'ignore' });
  return once(child, 'exit').then(([code]) => code as number | null);
}

const commandName = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** Starts `start` on free ports with a temporary data dir, and waits until it answers /ping. */
async function launch(start: Start) {
  const dataDir = tempDir();
  const port = await freePort();
  const env = { ...start.env(dataDir), ONAIR_HTTP_PORT: String(port), ONAIR_SRT_PORT_START: String(await freePort()) };
  const child = spawn(start.command, start.args, { cwd: start.cwd, stdio: 'ignore', env: { ...process.env, ...env } });
  const close = () => {
    for (const pid of descendants(child.pid!)) process.kill(pid, 'SIGKILL');
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  await untilAnswering(url).catch((error: unknown) => {
    close();
    throw error;
  });
  return { child, url, env, close };
}

describe('the documented start commands stop cleanly on a signal to the process that was started', () => {
  const starts = [documented('npm', ['start']), documented('./bin/onair', ['serve']), systemdUnit(), dockerImage()];
  for (const start of starts) {
    for (const signal of start.signals) {
      test(`${start.name}, ${signal}: everything gone within 2 s, its ffmpeg too`, async () => {
        const { child, url, close } = await launch(start);
        try {
          await reserveNow(url);
          const family = await waitFor(() => {
            const all = [child.pid!, ...descendants(child.pid!)];
            return all.some((pid) => commandName(pid) === 'ffmpeg') ? all : undefined;
          }, 'the relay\'s ffmpeg to run');
          child.kill(signal);
          await waitFor(() => family.every((pid) => !alive(pid)), `${family.join(', ')} to end`, 2000);
        } finally {
          close();
        }
      });
    }
  }

  test('the image\'s health check passes while onair answers /ping, and fails once it has stopped', async () => {
    const image = dockerImage();
    const { child, env, close } = await launch(image);
    try {
      assert.equal(await runIn(image.cwd, image.healthcheck, env), 0);
      child.kill('SIGTERM');
      await once(child, 'exit');
      assert.equal(await runIn(image.cwd, image.healthcheck, env), 1);
    } finally {
      close();
    }
  });
});
