import { resolve } from 'node:path';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  http: { host: string; port: number; bodyLimit: number };
  dataDir: string;
  /** Unset: SQLite file in the data dir. */
  databaseUrl: string | undefined;
  apiKey: string | undefined;
  logLevel: LogLevel;
  tasks: {
    leaseMs: number;
    cleanRetention: string;
    cleanTime: string;
  };
  srt: { portStart: number };
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function matching(env: Env, name: string, fallback: string, pattern: RegExp, what: string): string {
  const raw = read(env, name) ?? fallback;
  if (!pattern.test(raw)) throw new ConfigError(`${name} must be ${what}, got "${raw}"`);
  return raw;
}

function databaseUrl(env: Env): string | undefined {
  const raw = read(env, 'ONAIR_DATABASE_URL');
  if (raw === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) {
    throw new ConfigError('ONAIR_DATABASE_URL must start with postgres:// (leave it unset for SQLite)');
  }
  return raw;
}

/** Reads every ONAIR_* setting, applying defaults; a bad value throws a ConfigError naming it. */
export function loadConfig(env: Env = process.env): Config {
  const apiKey = read(env, 'ONAIR_API_KEY');
  if (apiKey !== undefined && apiKey.length < 16) {
    throw new ConfigError('ONAIR_API_KEY must be at least 16 characters long');
  }
  return {
    http: {
      host: read(env, 'ONAIR_HTTP_HOST') ?? '127.0.0.1',
      port: integer(env, 'ONAIR_HTTP_PORT', 10800, 0, 65535),
      bodyLimit: integer(env, 'ONAIR_HTTP_BODY_LIMIT', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    },
    dataDir: resolve(read(env, 'ONAIR_DATA_DIR') ?? './data'),
    databaseUrl: databaseUrl(env),
    apiKey,
    logLevel: oneOf(env, 'ONAIR_LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    tasks: {
      leaseMs: integer(env, 'ONAIR_TASKS_LEASE_MS', 10_000, 1_000, 3_600_000),
      cleanRetention: matching(env, 'ONAIR_TASKS_CLEAN_RETENTION', 'P30D', /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/,
        'an ISO 8601 duration such as P30D'),
      cleanTime: matching(env, 'ONAIR_TASKS_CLEAN_TIME', '03:30', /^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day HH:MM (UTC)'),
    },
    srt: { portStart: integer(env, 'ONAIR_SRT_PORT_START', 10300, 1024, 65000) },
  };
}
