import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import { APP_KEY, CHANNEL_NAME, DEFAULT_APP, STREAM_KEY, type ChannelConfig, type Config } from '../core/config.ts';
import { FALLBACK_EXAMPLE, fallbackForm, fallbackOf, type Fallback, type FallbackForm } from '../core/fallback.ts';
import { isUniqueViolation } from '../core/db/database.ts';
import { ChannelBusy, Conflict, invalid, notFound } from '../core/errors.ts';
import type { Announce, EventBus } from '../core/events/bus.ts';
import type { ChannelChange, ChannelInfo, ChannelRequest, Ingest } from './contract.ts';
import type { ChannelRow } from './migrations.ts';
import { boundUdpPorts } from './session.ts';
import type { ChannelOutcome, GateStore } from './store.ts';

/** A channel's whole definition, secrets included: what its relay needs. */
export interface Definition extends ChannelConfig {
  configured: boolean;
}

export const infoOf = (channel: Definition): ChannelInfo => ({
  name: channel.name, port: channel.port, configured: channel.configured, static: channel.key !== undefined, fallback: fallbackForm(channel.fallback),
  appKey: channel.appKey,
});

export function ingestOf(channel: Definition, host: string): Ingest {
  if (channel.key === undefined) throw notFound(`Channel ${channel.name} has no stream key (static mode)`);
  return { host, port: channel.port, url: `srt://${host}:${channel.port}?pbkeylen=32&linger=3`, streamKey: channel.key };
}

function validKey(key: string | undefined): void {
  if (key !== undefined && !STREAM_KEY.test(key)) throw invalid('body.key', 'must be 10 to 79 printable characters (an SRT passphrase)');
}

function validAppKey(appKey: string | undefined): void {
  if (appKey !== undefined && !APP_KEY.test(appKey)) throw invalid('body.appKey', 'must be 1 to 64 letters, digits, ., _ or -');
}

/** A run-time channel's fallback as stored, in its one spelling (null: the global one); one that is not a fallback is refused, naming body.fallback. */
function storedFallback(form: FallbackForm | null): string | null {
  if (form === null) return null;
  const fallback = fallbackOf(form);
  if (!fallback) throw invalid('body.fallback', `must be ${FALLBACK_EXAMPLE}, with a real local start`);
  return JSON.stringify(fallbackForm(fallback));
}

// Run-time channels have their own fallback, or ONAIR_GATE_FALLBACK's (`global`).
const definitionOf = (row: ChannelRow, global: Fallback): Definition => ({
  name: row.name, port: row.port, key: row.key, outputs: [], configured: false, appKey: row.app_key,
  fallback: (row.fallback === null ? undefined : fallbackOf(JSON.parse(row.fallback))) ?? global,
});

const portTaken = (port: number) => new Conflict(`Port ${port} belongs to another channel`, [{ field: 'body.port', message: `${port} is taken` }]);
const nameTaken = (name: string) => new Conflict(`There is a channel ${name} already`, [{ field: 'body.name', message: `${name} is taken` }]);

/**
 * The channels of ONAIR_CHANNELS and those made at run time (the gate_channels table, shared by every instance: the
 * database's unique index keeps two channels off one port). Run-time channels have no push outputs: every address
 * onair connects to comes from the configuration.
 */
export class ChannelRegistry {
  readonly configured: Definition[];
  readonly #store: GateStore;
  readonly #clock: Clock;
  readonly #bus: EventBus;
  readonly #range: Config['srt'];
  readonly #fallback: Fallback;

  constructor(deps: { config: Config; store: GateStore; clock: Clock; bus: EventBus }) {
    this.configured = deps.config.gate.channels.map((channel) => ({ ...channel, configured: true }));
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#bus = deps.bus;
    this.#range = deps.config.srt;
    this.#fallback = deps.config.gate.fallback;
  }

  async get(name: string): Promise<Definition> {
    const configured = this.configured.find((channel) => channel.name === name);
    if (configured) return configured;
    const row = await this.#store.channel(name);
    if (!row) throw notFound(`There is no channel ${name}`);
    return definitionOf(row, this.#fallback);
  }

  /** Configured channels first; a run-time one whose name ONAIR_CHANNELS has taken since is hidden by it. */
  async all(): Promise<Definition[]> {
    const made = (await this.#store.channels()).filter((row) => !this.configured.some((channel) => channel.name === row.name));
    return [...this.configured, ...made.map((row) => definitionOf(row, this.#fallback))];
  }

  /** Run-time channels whose name or port ONAIR_CHANNELS has taken since they were made. */
  async shadowed(): Promise<string[]> {
    const rows = await this.#store.channels();
    return rows.filter((row) => this.configured.some((channel) => channel.name === row.name || channel.port === row.port)).map((row) => row.name);
  }

  /** Takes the port asked for, or the lowest one of the range that no channel has and nothing on this machine is bound to. */
  async create(request: ChannelRequest): Promise<Definition> {
    if (!CHANNEL_NAME.test(request.name)) throw invalid('body.name', 'must be 1 to 64 lowercase letters, digits, - or _');
    validKey(request.key);
    validAppKey(request.appKey);
    const fallback = storedFallback(request.fallback ?? null);
    if (this.configured.some((channel) => channel.name === request.name)) throw nameTaken(request.name);
    const candidates = request.port === undefined ? await this.#freePorts() : [this.#allowed(request.port)];
    const now = this.#clock.now();
    const row = {
      name: request.name, key: request.key ?? randomBytes(24).toString('base64url'), fallback, app_key: request.appKey ?? DEFAULT_APP, created_at: now, updated_at: now,
    };
    for (const port of candidates) {
      try {
        await this.#store.createChannel({ ...row, port }, this.#announce('channel-created'));
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        if (!/port/.test((error as Error).message)) throw nameTaken(request.name);
        // Another instance took it meanwhile: the next one, unless this one was asked for.
        if (request.port !== undefined) throw portTaken(port);
        continue;
      }
      return definitionOf({ ...row, port }, this.#fallback);
    }
    const { portStart, portEnd } = this.#range;
    throw new Conflict(`Every port from ${portStart} to ${portEnd} is taken`, [{ field: 'body.port', message: 'no free port in the SRT range' }]);
  }

  /** A run-time channel that no session holds (the change waits for none: it would not reach the relay on air). */
  async change(name: string, change: ChannelChange): Promise<Definition> {
    await this.#runtime(name);
    validKey(change.key);
    validAppKey(change.appKey);
    const { fallback, appKey, ...rest } = change;
    const patch = {
      ...rest, ...(fallback !== undefined && { fallback: storedFallback(fallback) }), ...(appKey !== undefined && { app_key: appKey }), updated_at: this.#clock.now(),
    };
    if (change.port !== undefined) this.#allowed(change.port);
    let outcome: ChannelOutcome;
    try {
      outcome = await this.#store.changeChannel(name, patch, this.#announce('channel-changed'));
    } catch (error) {
      if (isUniqueViolation(error)) throw portTaken(change.port!);
      throw error;
    }
    this.#check(name, outcome, 'change it once it is free');
    return this.get(name);
  }

  async remove(name: string): Promise<Definition> {
    const channel = await this.#runtime(name);
    this.#check(name, await this.#store.removeChannel(name, this.#announce('channel-removed')), 'deactivate it first');
    return channel;
  }

  async #runtime(name: string): Promise<Definition> {
    const channel = await this.get(name);
    if (channel.configured) throw new Conflict(`Channel ${name} comes from ONAIR_CHANNELS: change the configuration instead`);
    return channel;
  }

  #check(name: string, outcome: ChannelOutcome, advice: string): void {
    if (outcome === 'gone') throw notFound(`There is no channel ${name}`);
    if (outcome === 'busy') throw new ChannelBusy(name, `Channel ${name} is reserved or live: ${advice}`);
  }

  /** A port of the range that no configured channel has. */
  #allowed(port: number): number {
    const { portStart, portEnd } = this.#range;
    if (port < portStart || port > portEnd) throw invalid('body.port', `must be in the SRT port range, ${portStart} to ${portEnd}`);
    if (this.configured.some((channel) => channel.port === port)) throw portTaken(port);
    return port;
  }

  async #freePorts(): Promise<number[]> {
    const taken = new Set([...this.configured, ...(await this.#store.channels())].map((channel) => channel.port));
    const bound = boundUdpPorts();
    const free: number[] = [];
    for (let port = this.#range.portStart; port <= this.#range.portEnd; port++) if (!taken.has(port) && !bound.has(port)) free.push(port);
    return free;
  }

  /** The channel's event, recorded in the transaction of its change. */
  #announce(type: 'channel-created' | 'channel-changed' | 'channel-removed'): Announce<ChannelRow> {
    return (trx, row) => this.#bus.record(trx, type, [{ channel: row.name, ...infoOf(definitionOf(row, this.#fallback)) }]);
  }
}
