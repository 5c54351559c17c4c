import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { NO_FALLBACK, requestJson, waitFor, type Answer } from './onair.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
/** The command users run (bin/onair), which runs the project's own Node. */
export const ONAIR = fileURLToPath(new URL('../../bin/onair', import.meta.url));

export interface Ran { code: number; stdout: string; stderr: string }

/** Runs the `onair` command as a user would, against `url`; killed after 20 s, so a command that hangs fails. */
export function runOnair(url: string, ...args: string[]): Promise<Ran> {
  return runOnairWith({ ONAIR_URL: url }, ...args);
}

export function runOnairWith(env: Record<string, string>, ...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(ONAIR, args, { env: { ...process.env, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface OnairProcess {
  url: string;
  child: ChildProcess;
  request(method: string, path: string, body?: unknown): Promise<Answer>;
  /** kill -9: no cleanup of any kind. */
  crash(): Promise<void>;
  /** SIGTERM, waiting for a clean exit. */
  stop(): Promise<number | null>;
  output(): string;
}

/** Runs `onair serve` as its own process, the way a user does, and waits until it answers. */
export async function spawnOnair(env: Record<string, string>): Promise<OnairProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN, 'serve'], {
    env: { ...process.env, ONAIR_HTTP_PORT: String(port), ONAIR_GATE_HTTP_PORT: 'off', ONAIR_LOG_LEVEL: 'warn', ...NO_FALLBACK, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const exited = once(child, 'exit');
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`onair exited with ${child.exitCode}: ${output}`);
      return fetch(`${url}/ping`).then((r) => r.status === 204, () => false);
    }, 'onair to answer /ping', 30_000, 50);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url, child,
    request: (method, path, body) => requestJson(url, method, path, body),
    async crash() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      const [code] = await exited;
      return code as number | null;
    },
    output: () => output,
  };
}

/** Waits until onair answers /ping at `url`. */
export async function untilAnswering(url: string): Promise<void> {
  await waitFor(() => fetch(`${url}/ping`).then((r) => r.status === 204, () => false), 'onair to answer /ping', 30_000, 50);
}

/** A live event on now, and the default channel reserved for it: the relay's ffmpeg listens. */
export async function reserveNow(url: string): Promise<string> {
  const show = await requestJson(url, 'POST', '/shows', { title: 'Live now' });
  const start = new Date().toISOString().slice(0, 19);
  const event = await requestJson(url, 'POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
  const reserved = await requestJson(url, 'POST', '/reserve', { event: event.body.id });
  if (reserved.status !== 201) throw new Error(`POST /reserve answered ${reserved.status}: ${JSON.stringify(reserved.body)}`);
  return reserved.body.url;
}
