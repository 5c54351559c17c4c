import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Clock } from '../../src/core/clock.ts';
import { loadConfig, type Config } from '../../src/core/config.ts';
import { createOnair, type Onair } from '../../src/onair.ts';
import type { LiveScheduler } from '../../src/live/contract.ts';
import type { TestDatabase } from './databases.ts';

export interface Running {
  onair: Onair;
  url: string;
  config: Config;
  /** Sends a JSON request; answers status, headers and the parsed body. */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  stop(): Promise<void>;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/**
 * Tests hear a session's stream end with the session; they run without the fallback between sessions, which has tests
 * of its own (test/gate/fallback.test.ts) that ask for it.
 */
export const NO_FALLBACK = { ONAIR_GATE_FALLBACK: 'none' };

export function tempDir(prefix = 'onair-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function requestJson(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch { /* keep text */ }
  return { status: response.status, headers: response.headers, body: parsed };
}

/**
 * Starts a whole onair in this process on a free port, with its own data dir and database; a data dir or database
 * given is the caller's, kept when it stops (to start again on them).
 */
export async function startOnair(options: {
  database: TestDatabase;
  clock?: Clock;
  env?: Record<string, string>;
  databaseUrl?: string;
  /** Runs before the areas start (e.g. to register an operation the test needs from the first claim). */
  prepare?: (onair: Onair) => void;
  dataDir?: string;
  logger?: Logger;
  /** In [0, 1): the jitter of webhook retries. */
  random?: () => number;
  /** The scheduler the automation uses instead of the live area's. */
  liveScheduler?: LiveScheduler;
}): Promise<Running> {
  const dataDir = options.dataDir ?? tempDir();
  const databaseUrl = options.databaseUrl ?? (await options.database.create());
  const config = loadConfig({
    // The gate's own HTTP port is tested where it is meant (env ONAIR_GATE_HTTP_PORT: '' gives its default).
    ONAIR_HTTP_PORT: '0', ONAIR_GATE_HTTP_PORT: 'off', ONAIR_DATA_DIR: dataDir, ONAIR_LOG_LEVEL: 'silent', ...NO_FALLBACK,
    ...(databaseUrl ? { ONAIR_DATABASE_URL: databaseUrl } : {}),
    ...options.env,
  });
  const logger = options.logger ?? pino({ level: process.env.ONAIR_TEST_LOG_LEVEL ?? 'silent' });
  const onair = await createOnair(config, { clock: options.clock, logger, random: options.random, liveScheduler: options.liveScheduler });
  options.prepare?.(onair);
  const url = await onair.start();
  return {
    onair, url, config,
    request: (method, path, body, headers) => requestJson(url, method, path, body, headers),
    async stop() {
      await onair.stop();
      if (!options.databaseUrl) await options.database.drop(databaseUrl);
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
