import { DURATION_WORDS, parseDuration } from './duration.ts';

/**
 * The hook applications of ONAIR_HOOK_APPS (seed 004's REST hooks): the station's backends that onair asks before a
 * source or listener is let in and tells of every stream's status. They come from the configuration only, never from a
 * request, so they may point at private addresses.
 */

export const AUTHORIZATIONS = ['connect', 'publishStream', 'playStream'] as const;
export const NOTIFICATIONS = ['StreamStatusEvent', 'ConnectionStatusEvent', 'StreamKeepAliveEvent'] as const;
export const HOOK_METHODS = [...AUTHORIZATIONS, ...NOTIFICATIONS] as const;
export type Authorization = typeof AUTHORIZATIONS[number];
export type Notification = typeof NOTIFICATIONS[number];
export type HookMethod = typeof HOOK_METHODS[number];

export type RestPolicy = 'NOTIFY' | 'OVERWRITE' | 'DISABLED';
export type RestOnError = 'LOG' | 'FAIL';

/** One method's restClientConfig, as the real server has it. */
export interface MethodConfig {
  /** Fields of the body not sent to the backend. */
  restExclude: string[];
  /** Fields of the backend's answer never taken under OVERWRITE. */
  clientExclude: string[];
  restOnError: RestOnError;
  restPolicy: RestPolicy;
  /** Under OVERWRITE: the fields taken from the answer. */
  restOverwrite: string[];
  /** How long an authorization's answer is kept for the same credential, unless the answer says `cacheTtl`. */
  cacheTtlMs: number;
}

export interface HookApp {
  name: string;
  appKey: string;
  /** Methods are posted to `{url}/{Method}`. */
  url: string;
  /** Every method when the configuration lists none. */
  methods: HookMethod[];
  restClientConfig: Record<HookMethod, MethodConfig>;
  timeoutMs: number;
}

/** A hook application's name (seed 004's appKey), and the one of channels that name none. */
export const APP_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
export const DEFAULT_APP = 'defaultApp';
const DEFAULT_TIMEOUT = 'PT15S';
/** A source waits for publishStream's answer with what it sends held in memory: no backend makes it wait longer. */
const MAX_TIMEOUT_MS = 60_000;
/** A player asks for every HLS playlist again and again: a few seconds of its answer spare the backend. */
const PLAY_CACHE_MS = 5_000;

type Fail = (message: string) => never;

function record(value: unknown, at: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${at} must be an object`);
  return value as Record<string, unknown>;
}

function known(value: Record<string, unknown>, names: readonly string[], at: string, fail: Fail): void {
  const unknown = Object.keys(value).find((name) => !names.includes(name));
  if (unknown !== undefined) fail(`${at}.${unknown} is not a field (${names.join(', ')})`);
}

/** Field names, as an array or comma-separated as the real server writes them. */
function fields(value: unknown, at: string, fail: Fail): string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? value.split(',').map((name) => name.trim()).filter(Boolean) : value;
  if (!Array.isArray(list) || list.some((name) => typeof name !== 'string')) fail(`${at} must be field names, as an array or comma-separated`);
  return list as string[];
}

function choice<T extends string>(value: unknown, allowed: readonly T[], fallback: T, at: string, fail: Fail): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) fail(`${at} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** Whole milliseconds or an ISO 8601 duration, from `min` up to `max`. */
function milliseconds(value: unknown, fallback: string, [min, max]: [number, number?], at: string, fail: Fail): number {
  const parsed = typeof value === 'number' && Number.isInteger(value) ? value
    : typeof value === 'string' || value === undefined ? parseDuration(value ?? fallback) : undefined;
  if (parsed === undefined || parsed < min || (max !== undefined && parsed > max)) {
    fail(`${at} must be whole milliseconds from ${min}${max === undefined ? '' : ` to ${max}`}, or ${DURATION_WORDS}`);
  }
  return parsed!;
}

const METHOD_FIELDS = ['restExclude', 'clientExclude', 'restOnError', 'restPolicy', 'restOverwrite', 'cacheTtl'] as const;

function methodConfig(value: unknown, method: HookMethod, at: string, fail: Fail): MethodConfig {
  const given = record(value ?? {}, at, fail);
  known(given, METHOD_FIELDS, at, fail);
  const policy = choice(given.restPolicy, ['NOTIFY', 'OVERWRITE', 'DISABLED', 'DISABLE'], 'NOTIFY', `${at}.restPolicy`, fail);
  return {
    restExclude: fields(given.restExclude, `${at}.restExclude`, fail),
    clientExclude: fields(given.clientExclude, `${at}.clientExclude`, fail),
    restOnError: choice(given.restOnError, ['LOG', 'FAIL'], 'LOG', `${at}.restOnError`, fail),
    restPolicy: policy === 'DISABLE' ? 'DISABLED' : policy,
    restOverwrite: fields(given.restOverwrite, `${at}.restOverwrite`, fail),
    cacheTtlMs: given.cacheTtl === undefined ? (method === 'playStream' ? PLAY_CACHE_MS : 0) : milliseconds(given.cacheTtl, 'PT0S', [0], `${at}.cacheTtl`, fail),
  };
}

function url(value: unknown, at: string, fail: Fail): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(String(value));
  } catch { /* said below */ }
  if (typeof value !== 'string' || !parsed || !['http:', 'https:'].includes(parsed.protocol)) fail(`${at} must be an http:// or https:// URL`);
  return (value as string).replace(/\/+$/, '');
}

const APP_FIELDS = ['name', 'appKey', 'url', 'methods', 'restClientConfig', 'timeout'] as const;

function app(value: unknown, at: string, fail: Fail): HookApp {
  const given = record(value, at, fail);
  known(given, APP_FIELDS, at, fail);
  const { name, appKey = DEFAULT_APP, methods = HOOK_METHODS, restClientConfig = {} } = given;
  for (const [field, text] of [['name', name], ['appKey', appKey]] as const) {
    if (typeof text !== 'string' || !APP_KEY.test(text)) fail(`${at}.${field} must be 1 to 64 letters, digits, ., _ or -`);
  }
  if (!Array.isArray(methods) || methods.some((method) => !HOOK_METHODS.includes(method))) fail(`${at}.methods must be a list of ${HOOK_METHODS.join(', ')}`);
  const configs = record(restClientConfig, `${at}.restClientConfig`, fail);
  known(configs, HOOK_METHODS, `${at}.restClientConfig`, fail);
  return {
    name: name as string,
    appKey: appKey as string,
    url: url(given.url, `${at}.url`, fail),
    methods: [...new Set(methods as HookMethod[])],
    restClientConfig: Object.fromEntries(HOOK_METHODS.map((method) => [method, methodConfig(configs[method], method, `${at}.restClientConfig.${method}`, fail)])) as Record<HookMethod, MethodConfig>,
    timeoutMs: milliseconds(given.timeout, DEFAULT_TIMEOUT, [1, MAX_TIMEOUT_MS], `${at}.timeout`, fail),
  };
}

/**
 * ONAIR_HOOK_APPS: a JSON array of {name, appKey?, url, methods?, restClientConfig?, timeout?}; `fail` throws naming
 * what is wrong. Names and app keys are unique: a stream's appKey names the one app that decides on it.
 */
export function hookApps(raw: string | undefined, fail: Fail): HookApp[] {
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    fail('must be JSON, e.g. [{"name":"backend","appKey":"defaultApp","url":"http://127.0.0.1:8081/rest/my_api"}]');
  }
  if (!Array.isArray(parsed)) fail('must be a JSON array of applications');
  const apps = (parsed as unknown[]).map((item, index) => app(item, `[${index}]`, fail));
  for (const field of ['name', 'appKey'] as const) {
    const seen = apps.map((a) => a[field]);
    if (new Set(seen).size !== seen.length) fail(`has two applications with the same ${field}`);
  }
  return apps;
}
