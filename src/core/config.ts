import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { IANAZone } from 'luxon';
import { durationProblem, parseDuration } from './duration.ts';
import { FALLBACK_EXAMPLE, fallbackOf, type Fallback } from './fallback.ts';
import { APP_KEY, DEFAULT_APP, hookApps, type HookApp } from './hook-apps.ts';

export type { Fallback } from './fallback.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** auto: human-readable lines on a terminal, JSON elsewhere. */
export type LogFormat = 'auto' | 'json' | 'pretty';

export type NodeRole = 'origin' | 'edge';

/** What a node id may be: it names the node in logs, tables and the directory. */
export const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Channel names fit in paths; stream keys are SRT passphrases. */
export const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
// A hook application's name (seed 004's appKey), and the one of channels that name none: defined with the apps.
export { APP_KEY, DEFAULT_APP } from './hook-apps.ts';
export const STREAM_KEY = /^[\x21-\x7e]{10,79}$/;

export interface Config {
  http: {
    host: string;
    port: number;
    bodyLimit: number;
    /** How long a client may take to send a whole request (the archive's uploads have their own, longer one). */
    requestTimeoutMs: number;
    /** How many server-sent event streams may be open at once. */
    sseMaxClients: number;
    /** Routes open without the API key (core/http/auth.ts); unset: those the areas mark public. */
    publicRoutes: string[] | undefined;
    /** Addresses and CIDR ranges of the proxies whose forwarded client address onair believes. */
    trustProxy: string[];
  };
  dataDir: string;
  /** This instance among several; the id defaults to one kept in the data dir (core/node.ts). */
  node: { id: string | undefined; region: string; roles: NodeRole[] };
  /** Unset: SQLite file in the data dir. */
  databaseUrl: string | undefined;
  apiKey: string | undefined;
  /** The station's time zone (IANA): the dashboard shows the programme in it, and its forms start there. */
  timezone: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** The outbox of durable events: the daily clean removes those older than `retentionMs`. */
  events: { retentionMs: number };
  tasks: {
    leaseMs: number;
    cleanRetention: string;
    cleanTime: string;
    /** For crash tests: registers the `probe` operation, which appends each task id it runs to this file. */
    probeFile: string | undefined;
  };
  /** The UDP ports of SRT listeners: configured channels default to the first ones, run-time channels take free ones. */
  srt: { portStart: number; portEnd: number };
  /** The recordings archive: an upload that sends nothing for `uploadIdleTimeoutMs`, or is not whole after `uploadTimeoutMs`, is given up. */
  recordings: {
    uploadIdleTimeoutMs: number; uploadTimeoutMs: number;
    /** The archive's files: one file system shared by every node on one database (default: under the data dir). */
    archiveDir: string;
  };
  gate: {
    /** Host name put into the srt:// URLs handed to sources. */
    publicHost: string;
    reservationTtlMs: number;
    channels: ChannelConfig[];
    /** TCP port that serves the gate's routes too, for seed 002's clients; undefined: off, or the API's port already. */
    httpPort: number | undefined;
    /** The fallback of channels that do not name their own: those made at run time, and of ONAIR_CHANNELS. */
    fallback: Fallback;
  };
  /** Automated broadcasts; every figure in milliseconds. */
  automation: {
    leadMs: number; reserveLeadMs: number; streamLeadMs: number; windowMs: number; intervalMs: number; reserveTimeoutMs: number;
    /** How long before the start the recording is fed to the player, to make up for the SRT and relay delay. */
    outputDelayMs: number;
  };
  /** Outgoing calls (core/outbound): the refused ranges that URLs from the API may lead to all the same. */
  outbound: { allowedPrivate: string[] };
  /** REST hooks (seed 004): the station's backends, and how often a live stream's keep-alive is posted. */
  hooks: { apps: HookApp[]; keepAliveMs: number };
  /**
   * Live jobs and their scheduler (seed 001). `accountId`: the workflows' account_id. A live event naming a job opens it
   * `leadMs` before each instance and closes it `graceMs` after the end. `openLeadMs`: a scheduled activation starts
   * this much before its time_utc, so that the ingest is open at that second (opening takes an ffmpeg start).
   */
  live: { accountId: string; leadMs: number; graceMs: number; openLeadMs: number };
  /** The base URL listeners and clients reach this instance's HTTP API at (playback URLs). */
  publicUrl: string;
  /**
   * The directory (seed 003): this node as clients and the other nodes see it. `address`: handed to clients as
   * serverAddress; `url`: where edges pull this node's streams (undefined: the address the API listens on);
   * `capacity`: listeners at most. Reports every `reportIntervalMs`; a node silent for `faultAfterMs` is in FAULT; an
   * edge's relay stops `edgeLingerMs` after its last listener left. `adminToken`: the stream manager's accessToken
   * (the API key works too). Streams are named `scope`/channel.
   */
  directory: {
    geozone: string | undefined; address: string; url: string | undefined; capacity: number;
    reportIntervalMs: number; faultAfterMs: number; edgeLingerMs: number; adminToken: string | undefined; scope: string;
  };
}

export type OutputType = 'icecast' | 'srt' | 'rtmp';

export interface ChannelConfig {
  name: string;
  /** UDP port of the channel's SRT listener. */
  port: number;
  /** Fixed stream key for static mode (live scheduler); reservations use one-time tokens instead. */
  key: string | undefined;
  outputs: Array<{ type: OutputType; url: string }>;
  fallback: Fallback;
  /** The hook application that decides on its sessions unless a request names one. */
  appKey: string;
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

function list(env: Env, name: string): string[] | undefined {
  return read(env, name)?.split(',').map((item) => item.trim()).filter(Boolean);
}

function routes(env: Env, name: string): string[] | undefined {
  const found = list(env, name);
  const bad = found?.find((route) => !/^\/\S*$/.test(route));
  if (bad !== undefined) throw new ConfigError(`${name} must be comma-separated routes such as /ping,/listen,/schedule, got "${bad}"`);
  return found;
}

/** IP addresses and CIDR ranges, IPv4 or IPv6 (127.0.0.1/32, ::1, 10.0.0.0/8). */
function cidrs(env: Env, name: string): string[] {
  const found = list(env, name) ?? [];
  const bad = found.find((entry) => {
    const [address = '', bits, ...rest] = entry.split('/');
    const version = isIP(address);
    return version === 0 || rest.length > 0 || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128)));
  });
  if (bad !== undefined) throw new ConfigError(`${name} must be comma-separated IP addresses or CIDR ranges such as 127.0.0.1/32,::1, got "${bad}"`);
  return found;
}

/** A fixed-length ISO 8601 duration (P1D, PT15M, PT0.5S), as milliseconds from `min` up. */
function duration(env: Env, name: string, fallback: string, min: number): number {
  const raw = read(env, name) ?? fallback;
  const parsed = parseDuration(raw);
  if (parsed === undefined) throw new ConfigError(`${name}: ${durationProblem(raw)}`);
  if (parsed < min) throw new ConfigError(`${name} must be at least ${min} ms, such as ${fallback}, got "${raw}"`);
  return parsed;
}

/** A fixed-length ISO 8601 duration kept as written: the daily clean hands it on as a strategy's delta. */
function durationText(env: Env, name: string, fallback: string): string {
  duration(env, name, fallback, 0);
  return read(env, name) ?? fallback;
}

/** Whole milliseconds (310) or an ISO 8601 duration (PT0.31S), from `min` up. */
function millisOrDuration(env: Env, name: string, fallback: string, min: number): number {
  const raw = read(env, name);
  return raw !== undefined && /^\d+$/.test(raw) ? integer(env, name, 0, min, 3_600_000) : duration(env, name, fallback, min);
}

function automation(env: Env): Config['automation'] {
  const settings = {
    leadMs: duration(env, 'ONAIR_AUTOMATION_LEAD', 'PT15M', 0),
    reserveLeadMs: duration(env, 'ONAIR_AUTOMATION_RESERVE_LEAD', 'PT10S', 0),
    streamLeadMs: duration(env, 'ONAIR_AUTOMATION_STREAM_LEAD', 'PT1S', 0),
    windowMs: duration(env, 'ONAIR_AUTOMATION_WINDOW', 'P1D', 60_000),
    intervalMs: duration(env, 'ONAIR_AUTOMATION_INTERVAL', 'PT1M', 1_000),
    reserveTimeoutMs: duration(env, 'ONAIR_AUTOMATION_RESERVE_TIMEOUT', 'PT5M', 0),
    outputDelayMs: millisOrDuration(env, 'ONAIR_AUTOMATION_OUTPUT_DELAY', 'PT0.31S', 0),
  };
  if (settings.reserveLeadMs > settings.leadMs) throw new ConfigError('ONAIR_AUTOMATION_RESERVE_LEAD must not be longer than ONAIR_AUTOMATION_LEAD');
  if (settings.streamLeadMs > settings.reserveLeadMs) throw new ConfigError('ONAIR_AUTOMATION_STREAM_LEAD must not be longer than ONAIR_AUTOMATION_RESERVE_LEAD');
  // The player starts at the stream lead: it cannot be fed earlier than that.
  if (settings.outputDelayMs > settings.streamLeadMs) throw new ConfigError('ONAIR_AUTOMATION_OUTPUT_DELAY must not be longer than ONAIR_AUTOMATION_STREAM_LEAD');
  return settings;
}

function openLead(env: Env): number {
  const lead = millisOrDuration(env, 'ONAIR_LIVE_OPEN_LEAD', 'PT0.25S', 0);
  if (lead > 10_000) throw new ConfigError('ONAIR_LIVE_OPEN_LEAD must be at most 10 s (PT10S): an ingest opened earlier is opened too soon');
  return lead;
}

/** ONAIR_PUBLIC_URL without a trailing slash; by default the SRT public host on the HTTP port. */
function publicUrl(env: Env, httpPort: number): string {
  if (read(env, 'ONAIR_PUBLIC_URL') === undefined) return `http://${read(env, 'ONAIR_SRT_PUBLIC_HOST') ?? '127.0.0.1'}:${httpPort}`;
  return httpUrl(env, 'ONAIR_PUBLIC_URL');
}

/** A base URL setting (http or https, no query, fragment or user), without a trailing slash. */
function httpUrl(env: Env, name: string): string {
  const raw = read(env, name)!;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an http or https URL such as https://radio.example.org, got "${raw}"`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new ConfigError(`${name} must be an http or https URL without query, fragment or user, such as https://radio.example.org, got "${raw}"`);
  }
  return url.href.replace(/\/+$/, '');
}

function node(env: Env): Config['node'] {
  const id = read(env, 'ONAIR_NODE_ID');
  if (id !== undefined && !NODE_ID.test(id)) {
    throw new ConfigError(`ONAIR_NODE_ID must be 1 to 64 letters, digits, ., _ or - (starting with a letter or digit), got "${id}"`);
  }
  const region = matching(env, 'ONAIR_REGION', 'local', REGION, REGION_WORDS);
  const roles = (read(env, 'ONAIR_NODE_ROLES') ?? 'origin,edge').split(',').map((role) => role.trim());
  if (roles.length === 0 || roles.some((role) => role !== 'origin' && role !== 'edge')) {
    throw new ConfigError(`ONAIR_NODE_ROLES must be origin, edge or both (origin,edge), got "${read(env, 'ONAIR_NODE_ROLES')}"`);
  }
  return { id, region, roles: [...new Set(roles)] as NodeRole[] };
}

const REGION = /^[a-z0-9][a-z0-9-]{0,63}$/;
const REGION_WORDS = 'lowercase letters, digits and - (such as eu-central)';

function directory(env: Env, publicHost: string): Config['directory'] {
  const settings = {
    geozone: read(env, 'ONAIR_GEOZONE') === undefined ? undefined : matching(env, 'ONAIR_GEOZONE', '', REGION, REGION_WORDS),
    address: matching(env, 'ONAIR_NODE_ADDRESS', publicHost, /^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:]+\]$/, 'a host name or IP address'),
    url: read(env, 'ONAIR_NODE_URL') === undefined ? undefined : httpUrl(env, 'ONAIR_NODE_URL'),
    capacity: integer(env, 'ONAIR_NODE_CAPACITY', 1000, 1, 10_000_000),
    reportIntervalMs: millisOrDuration(env, 'ONAIR_NODE_REPORT_INTERVAL', 'PT2S', 100),
    faultAfterMs: millisOrDuration(env, 'ONAIR_NODE_FAULT_AFTER', 'PT10S', 300),
    edgeLingerMs: millisOrDuration(env, 'ONAIR_EDGE_LINGER', 'PT30S', 0),
    adminToken: read(env, 'ONAIR_DIRECTORY_ADMIN_TOKEN'),
    scope: matching(env, 'ONAIR_DIRECTORY_SCOPE', 'live', /^[A-Za-z0-9_-]{1,64}$/, '1 to 64 letters, digits, _ or -'),
  };
  if (settings.faultAfterMs <= settings.reportIntervalMs) {
    throw new ConfigError('ONAIR_NODE_FAULT_AFTER must be longer than ONAIR_NODE_REPORT_INTERVAL: a node would be in FAULT between two reports');
  }
  if (settings.adminToken !== undefined && settings.adminToken.length < 16) throw new ConfigError('ONAIR_DIRECTORY_ADMIN_TOKEN must be at least 16 characters long');
  return settings;
}

function recordings(env: Env, dataDir: string): Config['recordings'] {
  const settings = {
    uploadIdleTimeoutMs: duration(env, 'ONAIR_UPLOAD_IDLE_TIMEOUT', 'PT1M', 100),
    uploadTimeoutMs: duration(env, 'ONAIR_UPLOAD_TIMEOUT', 'PT4H', 1000),
    archiveDir: resolve(read(env, 'ONAIR_ARCHIVE_DIR') ?? join(dataDir, 'archive')),
  };
  if (settings.uploadIdleTimeoutMs > settings.uploadTimeoutMs) throw new ConfigError('ONAIR_UPLOAD_IDLE_TIMEOUT must not be longer than ONAIR_UPLOAD_TIMEOUT');
  return settings;
}

function databaseUrl(env: Env): string | undefined {
  const raw = read(env, 'ONAIR_DATABASE_URL');
  if (raw === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) {
    throw new ConfigError('ONAIR_DATABASE_URL must start with postgres:// (leave it unset for SQLite)');
  }
  return raw;
}

const OUTPUT_SCHEMES: Record<OutputType, string> = { icecast: 'icecast:', srt: 'srt:', rtmp: 'rtmp:' };

/**
 * ONAIR_CHANNELS: a JSON array of {name, port?, key?, outputs?: [{type, url}], fallback?, appKey?}; ports default to consecutive
 * ones from the SRT range start, the fallback to ONAIR_GATE_FALLBACK, the appKey to defaultApp.
 */
function channels(env: Env, portStart: number, fallback: Fallback): ChannelConfig[] {
  const raw = read(env, 'ONAIR_CHANNELS');
  if (raw === undefined) return [{ name: 'main', port: portStart, key: undefined, outputs: [], fallback, appKey: DEFAULT_APP }];
  const fail = (message: string): never => {
    throw new ConfigError(`ONAIR_CHANNELS ${message}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    fail('must be JSON, e.g. [{"name":"main","outputs":[{"type":"icecast","url":"icecast://source:secret@host:8000/main.ogg"}]}]');
  }
  if (!Array.isArray(parsed) || parsed.length === 0) fail('must be a non-empty JSON array of channels');
  const list = (parsed as unknown[]).map((item, index): ChannelConfig => {
    const at = `[${index}]`;
    if (typeof item !== 'object' || item === null) return fail(`${at} must be an object`);
    const { name, port = portStart + index, key, outputs = [], fallback: own, appKey = DEFAULT_APP } = item as Record<string, unknown>;
    if (typeof name !== 'string' || !CHANNEL_NAME.test(name)) fail(`${at}.name must be lowercase letters, digits, - or _`);
    if (!Number.isInteger(port) || (port as number) < 1024 || (port as number) > 65535) fail(`${at}.port must be a UDP port from 1024 to 65535`);
    if (key !== undefined && (typeof key !== 'string' || !STREAM_KEY.test(key))) fail(`${at}.key must be 10 to 79 printable characters (an SRT passphrase)`);
    if (!Array.isArray(outputs)) return fail(`${at}.outputs must be an array`);
    if (typeof appKey !== 'string' || !APP_KEY.test(appKey)) fail(`${at}.appKey must be 1 to 64 letters, digits, ., _ or -`);
    return {
      name: name as string, port: port as number, key: key as string | undefined, appKey: appKey as string,
      fallback: own === undefined ? fallback : fallbackOf(own) ?? fail(`${at}.fallback must be ${FALLBACK_EXAMPLE}`),
      outputs: outputs.map((output: unknown, o) => {
        const { type, url } = (output ?? {}) as Record<string, unknown>;
        if (typeof type !== 'string' || !(type in OUTPUT_SCHEMES)) fail(`${at}.outputs[${o}].type must be icecast, srt or rtmp`);
        if (typeof url !== 'string' || !url.startsWith(`${OUTPUT_SCHEMES[type as OutputType]}//`)) fail(`${at}.outputs[${o}].url must start with ${OUTPUT_SCHEMES[type as OutputType]}//`);
        return { type: type as OutputType, url: url as string };
      }),
    };
  });
  for (const field of ['name', 'port'] as const) {
    const seen = list.map((c) => c[field]);
    if (new Set(seen).size !== seen.length) fail(`has two channels with the same ${field}`);
  }
  return list;
}

const UNREADABLE: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'a directory, not a file' };

/**
 * The settings of a configuration file (`path`, else ONAIR_CONFIG) under those of the environment: `NAME=value` lines
 * with ONAIR_* names, `#` comments and blank lines, the value optionally in single or double quotes. A file that
 * cannot be read or a line that is not a setting throws a ConfigError naming the file and the line (never its
 * value, which may be a secret).
 */
export function withConfigFile(env: Env, path = read(env, 'ONAIR_CONFIG')): Env {
  if (path === undefined) return env;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code!;
    throw new ConfigError(`cannot read the configuration file ${path}: ${UNREADABLE[code] ?? code}`);
  }
  const settings: Env = {};
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const setting = /^(ONAIR_[A-Z0-9_]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^"'].*|))$/.exec(trimmed);
    if (!setting) {
      const name = /^([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(trimmed)?.[1];
      throw new ConfigError(`${path} line ${index + 1}: ${name === undefined || name.startsWith('ONAIR_')
        ? 'not a setting: write NAME=value, or NAME="value" with the quotes closed'
        : `${name} is not a setting of onair (their names start with ONAIR_)`}`);
    }
    if (!isSetting(setting[1]!)) throw new ConfigError(`${path} line ${index + 1}: ${setting[1]} is not a setting of onair (a misspelt name?)`);
    settings[setting[1]!] = setting[2] ?? setting[3] ?? setting[4]!;
  });
  const set = Object.entries(env).filter(([, value]) => value !== undefined && value !== '');
  return { ...env, ...settings, ...Object.fromEntries(set) };
}

let settingNames: Set<string> | undefined;

/** Whether onair has a setting of this name: loadConfig reads every one, whatever the others say. */
function isSetting(name: string): boolean {
  if (!settingNames) {
    const read = new Set<string>();
    loadConfig(new Proxy({}, { get: (_env, key) => void read.add(String(key)) }));
    settingNames = read;
  }
  return settingNames.has(name);
}

function timezone(env: Env): string {
  const zone = read(env, 'ONAIR_TIMEZONE') ?? 'UTC';
  if (!IANAZone.isValidZone(zone)) throw new ConfigError(`ONAIR_TIMEZONE must be an IANA time zone such as Europe/Warsaw, not ${zone}`);
  return zone;
}

/** ONAIR_GATE_HTTP_PORT: a port, or off; by default the default channel's port (TCP beside its UDP). */
function gateHttpPort(env: Env, defaultChannel: ChannelConfig, httpPort: number): number | undefined {
  const raw = read(env, 'ONAIR_GATE_HTTP_PORT');
  if (raw === 'off') return undefined;
  if (raw !== undefined && !(/^\d{1,5}$/.test(raw) && Number(raw) <= 65535)) {
    throw new ConfigError(`ONAIR_GATE_HTTP_PORT must be off or a TCP port from 0 to 65535, got "${raw}"`);
  }
  const port = raw === undefined ? defaultChannel.port : Number(raw);
  // On the API's own port, the gate's routes are served already.
  return port === httpPort && port !== 0 ? undefined : port;
}

/** Reads every ONAIR_* setting, applying defaults; a bad value throws a ConfigError naming it. */
export function loadConfig(env: Env = process.env): Config {
  const apiKey = read(env, 'ONAIR_API_KEY');
  if (apiKey !== undefined && apiKey.length < 16) {
    throw new ConfigError('ONAIR_API_KEY must be at least 16 characters long');
  }
  const portStart = integer(env, 'ONAIR_SRT_PORT_START', 10300, 1024, 65000);
  const portEnd = integer(env, 'ONAIR_SRT_PORT_END', portStart + 99, portStart, 65535);
  const dataDir = resolve(read(env, 'ONAIR_DATA_DIR') ?? './data');
  const httpPort = integer(env, 'ONAIR_HTTP_PORT', 10800, 0, 65535);
  const fallback: Fallback = { type: oneOf(env, 'ONAIR_GATE_FALLBACK', 'silence', ['silence', 'none']) };
  const channelList = channels(env, portStart, fallback);
  return {
    http: {
      host: read(env, 'ONAIR_HTTP_HOST') ?? '127.0.0.1',
      port: httpPort,
      bodyLimit: integer(env, 'ONAIR_HTTP_BODY_LIMIT', 1024 * 1024, 1024, 1024 * 1024 * 1024),
      requestTimeoutMs: duration(env, 'ONAIR_HTTP_REQUEST_TIMEOUT', 'PT30S', 1000),
      sseMaxClients: integer(env, 'ONAIR_SSE_MAX_CLIENTS', 500, 1, 100_000),
      publicRoutes: routes(env, 'ONAIR_PUBLIC_ROUTES'),
      trustProxy: cidrs(env, 'ONAIR_TRUST_PROXY'),
    },
    dataDir,
    node: node(env),
    databaseUrl: databaseUrl(env),
    apiKey,
    timezone: timezone(env),
    logLevel: oneOf(env, 'ONAIR_LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    logFormat: oneOf(env, 'ONAIR_LOG_FORMAT', 'auto', ['auto', 'json', 'pretty']),
    events: { retentionMs: duration(env, 'ONAIR_EVENTS_RETENTION', 'P7D', 3_600_000) },
    tasks: {
      leaseMs: integer(env, 'ONAIR_TASKS_LEASE_MS', 10_000, 1_000, 3_600_000),
      cleanRetention: durationText(env, 'ONAIR_TASKS_CLEAN_RETENTION', 'P30D'),
      cleanTime: matching(env, 'ONAIR_TASKS_CLEAN_TIME', '03:30', /^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day HH:MM (UTC)'),
      probeFile: read(env, 'ONAIR_TASKS_PROBE_FILE'),
    },
    srt: { portStart, portEnd },
    recordings: recordings(env, dataDir),
    gate: {
      publicHost: matching(env, 'ONAIR_SRT_PUBLIC_HOST', '127.0.0.1', /^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:]+\]$/, 'a host name or IP address'),
      reservationTtlMs: integer(env, 'ONAIR_GATE_RESERVATION_TTL', 60, 1, 86_400) * 1000,
      channels: channelList,
      httpPort: gateHttpPort(env, channelList[0], httpPort),
      fallback,
    },
    automation: automation(env),
    outbound: { allowedPrivate: cidrs(env, 'ONAIR_ALLOWED_PRIVATE_ADDRESSES') },
    hooks: {
      apps: hookApps(read(env, 'ONAIR_HOOK_APPS'), (message) => {
        throw new ConfigError(`ONAIR_HOOK_APPS ${message}`);
      }),
      keepAliveMs: duration(env, 'ONAIR_HOOKS_KEEPALIVE', 'PT10S', 100),
    },
    live: {
      accountId: matching(env, 'ONAIR_ACCOUNT_ID', 'onair', /^[A-Za-z0-9._-]{1,64}$/, '1 to 64 letters, digits, ., _ or -'),
      leadMs: duration(env, 'ONAIR_LIVE_LEAD', 'PT60S', 0),
      graceMs: duration(env, 'ONAIR_LIVE_GRACE', 'PT0S', 0),
      openLeadMs: openLead(env),
    },
    publicUrl: publicUrl(env, httpPort),
    directory: directory(env, read(env, 'ONAIR_SRT_PUBLIC_HOST') ?? '127.0.0.1'),
  };
}
