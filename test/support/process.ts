import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { NO_FALLBACK, requestJson, waitFor, type Answer } from './onair.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

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
    env: { ...process.env, ONAIR_HTTP_PORT: String(port), ONAIR_LOG_LEVEL: 'warn', ...NO_FALLBACK, ...env },
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
