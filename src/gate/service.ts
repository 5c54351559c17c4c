import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Alarm } from '../core/clock.ts';
import { together, type Announce } from '../core/events/bus.ts';
import { ChannelBusy, Conflict, conflict, invalid, notFound, TimedOut, Unavailable } from '../core/errors.ts';
import { ProcessSupervisor } from '../core/processes.ts';
import type { ProgrammeReader, ScheduledInstance } from '../programme/contract.ts';
import type { Archive } from '../recordings/contract.ts';
import { ChannelRegistry, infoOf, ingestOf, type Definition } from './channels.ts';
import type {
  ActivateRequest, Admission, Availability, AvailabilityChanged, ChannelChange, ChannelChanged, ChannelInfo, ChannelRequest, ChannelWithIngest,
  ConnectRequest, Format, Gate, Ingest, InstanceRef, LocalChannelLoad, LocalLoad, Mode, OutputState, PlayRequest, Reservation, ReserveRequest, SessionState,
  StopReason, StreamInfo, StreamStatus, Upstreams,
} from './contract.ts';
import type { SessionRow } from './migrations.ts';
import { Air } from './air.ts';
import { EdgeRelays, pullable, type Origin } from './edge.ts';
import { bytesSent } from './broadcast.ts';
import { fallbackInput, FORMATS, metadataProblem, skippedOutputs } from './pipeline.ts';
import { LiveSession, type HoldLimits, type RunEnd } from './session.ts';
import { GateStore, instanceOf } from './store.ts';
import type { Core } from '../core/area.ts';
import { fallbackOf, type Fallback } from '../core/fallback.ts';
import { HOUR } from '../core/time.ts';
import { APP_KEY } from '../core/config.ts';

export interface GateDeps extends Core {
  programme: ProgrammeReader;
  archive: Archive;
  /** What a session keeps of its source in memory at most; HOLD_LIMITS unless a test wants less. */
  holdLimits?: HoldLimits;
}

const HEARTBEAT_MS = 5_000;
const FIGURES_MS = 1_000;
// A slot whose owner has not been heard of for this long is freed by any instance.
const STALE_MS = 30_000;
// ffmpeg's own listen timeout backs up onair's expiry alarm, a little later.
const LISTEN_GRACE_MS = 1_000;
// Between two runs of a channel's relay: the listener is back well within an SRT caller's 3 s connection timeout.
const RELISTEN_DELAY_MS = 500;
// Notifications asking the instance that runs a session to end it (payload: JSON of EndRequest).
const END = 'onair_gate_end';
const REMOTE_END_MS = 5_000;
const STATES: Availability['state'][] = ['reserved', 'publishing', 'disconnected'];

/** A session's state as its channel's availability shows it: one that is closing still holds the channel. */
const heldState = (state: string): Availability['state'] => STATES.find((s) => s === state) ?? 'reserved';

interface Running {
  session: LiveSession;
  passphrase: string;
  /** Static mode: how long a dropped encoder may take to come back; undefined waits for ever. */
  reconnectWindowMs: number | undefined;
  /** When the session stops waiting for a source (reservation expiry, maximum wait, reconnect window). */
  alarm: Alarm | undefined;
  done: Promise<void>;
  finished: () => void;
  /** The last write about the session, so that closing it lands after. */
  write: Promise<void>;
}

interface EndRequest {
  session: string;
  reason: StopReason;
}

/**
 * A listener asking to hear a channel: what an Admission's `play` is told of it; `relay`: another node's relay pulling
 * it (served only from a session held here, never relayed in turn).
 */
export type Listener = Pick<PlayRequest, 'kind' | 'query' | 'client'> & { relay?: boolean };

/** What a session is made with once the admission has had its say. */
type Decided = Pick<LiveSession, 'format' | 'record' | 'metadata' | 'appKey'>;

const once = (leave: () => void) => {
  let left = false;
  return () => {
    if (left) return;
    left = true;
    leave();
  };
};

/** A playlist whose segments carry `query`, as a player then asks for them. */
function withQuery(playlist: Buffer, query: Record<string, string>): Buffer {
  const search = new URLSearchParams(query).toString();
  if (search === '') return playlist;
  const lines = playlist.toString('utf8').split('\n').map((line) => (line === '' || line.startsWith('#') ? line : `${line}?${search}`));
  return Buffer.from(lines.join('\n'));
}

type StreamEvent = 'stream-reserved' | 'stream-publishing' | 'stream-disconnected' | 'stream-ended' | 'stream-failed';

/** What a run's end says about itself: ffmpeg's last line (passphrase removed), or its exit. */
function lastLine(end: RunEnd): string {
  return end.diagnostics.split('\n').at(-1) || `ffmpeg exited with ${end.exit.code ?? end.exit.signal}`;
}

/** Channels, their reservations and sessions, and the ffmpeg relays behind them. */
export class GateService implements Gate {
  readonly store: GateStore;
  readonly registry: ChannelRegistry;
  readonly #deps: GateDeps;
  readonly #logger: Logger;
  readonly #supervisor: ProcessSupervisor;
  readonly #running = new Map<string, Running>();
  /** What each channel's listeners hear, across sessions. */
  readonly #airs = new Map<string, Air>();
  readonly #outputFailures: Counter<'channel' | 'type' | 'output'>;
  #heartbeat: NodeJS.Timeout | undefined;
  #figures: NodeJS.Timeout | undefined;
  /** Who decides on connections, sources and listeners; everything passes without one. */
  #admission: Admission | undefined;
  /** Where an edge pulls a channel on air elsewhere (the directory); none: listeners are sent there. */
  #upstreams: Upstreams | undefined;
  readonly #edges: EdgeRelays;
  /** Per channel, the relays of other nodes pulling it from here: among the Air's listeners, but no listeners. */
  readonly #pulls = new Map<string, number>();
  /** What the sessions that ended here took in. */
  #endedBytes = 0;
  #stopping = false;

  constructor(deps: GateDeps) {
    this.#deps = deps;
    this.#logger = deps.logger.child({ area: 'gate' });
    this.store = new GateStore(deps.database);
    this.registry = new ChannelRegistry({ config: deps.config, store: this.store, clock: deps.clock, bus: deps.bus });
    this.#supervisor = new ProcessSupervisor({ dir: join(deps.config.dataDir, 'gate', 'pids'), logger: this.#logger });
    this.#edges = new EdgeRelays({
      supervisor: this.#supervisor, logger: this.#logger, clock: deps.clock, lingerMs: deps.config.directory.edgeLingerMs, node: deps.node.id,
    });
    this.#outputFailures = new Counter({
      name: 'onair_gate_output_failures_total',
      help: 'Push outputs (Icecast, SRT, RTMP) that could not connect or dropped, by channel, type and URL (without credentials)',
      labelNames: ['channel', 'type', 'output'] as const,
      registers: [deps.metrics.registry],
    });
    // A run-time channel's new fallback, or its removal, from this instance or another: its listeners here follow at once.
    deps.bus.subscribe((event) => {
      if (event.type === 'channel-changed') this.#refallback(event.data as ChannelChanged);
      if (event.type === 'channel-removed') this.#closeAir((event.data as ChannelChanged).channel);
      // A show relayed here ended on its origin.
      if (event.type === 'stream-ended' || event.type === 'stream-failed') {
        const { channel, session } = event.data as StreamStatus;
        this.#edges.ended(channel, session);
      }
    });
    deps.database.notifier.listen(END, (payload) => {
      const { session, reason } = JSON.parse(payload) as EndRequest;
      const running = this.#session(session);
      if (running) void this.#end(running, reason);
    });
  }

  get defaultChannel(): string {
    return this.registry.configured[0].name;
  }

  async channels(): Promise<ChannelInfo[]> {
    return (await this.registry.all()).map(infoOf);
  }

  async channel(name: string): Promise<ChannelInfo> {
    return infoOf(await this.registry.get(name));
  }

  /** Every channel with who is on air on it, in two queries whatever their number. */
  async overview(): Promise<Array<{ channel: ChannelInfo; availability: Availability }>> {
    const [channels, holders] = await Promise.all([this.registry.all(), this.store.holders()]);
    return channels.map((channel) => ({ channel: infoOf(channel), availability: this.#availability(channel.name, holders.get(channel.name)) }));
  }

  async createChannel(request: ChannelRequest): Promise<ChannelWithIngest> {
    return this.#withIngest(await this.registry.create(request));
  }

  async changeChannel(name: string, change: ChannelChange): Promise<ChannelWithIngest> {
    return this.#withIngest(await this.registry.change(name, change));
  }

  async removeChannel(name: string): Promise<void> {
    await this.registry.remove(name);
    this.#closeAir(name);
    rmSync(this.hlsDir(name), { recursive: true, force: true });
  }

  /** Lets the listeners of a removed channel go, and its fallback with them. */
  #closeAir(name: string): void {
    this.#airs.get(name)?.close();
    this.#airs.delete(name);
  }

  async ingest(name: string): Promise<Ingest> {
    return ingestOf(await this.registry.get(name), this.#deps.config.gate.publicHost);
  }

  /**
   * Kills relays a killed run left behind and frees the channels nobody holds any more: those of this node's previous
   * run (the data-dir lock proves it is gone), and on SQLite, where one onair has the database, every one.
   */
  async start(): Promise<void> {
    const leftovers = (await this.#supervisor.reapLeftovers()).filter((name) => name.startsWith('gate-')).map((name) => name.replace(/^gate-/, ''));
    const now = this.#deps.clock.now();
    const staleBefore = this.#deps.database.dialect === 'sqlite' ? Number.MAX_SAFE_INTEGER : now - STALE_MS;
    await this.#sweep({ sessions: leftovers, owner: this.#deps.node.id, staleBefore });
    await this.#rescueRecordings(leftovers);
    const shadowed = await this.registry.shadowed();
    if (shadowed.length > 0) this.#logger.warn({ channels: shadowed }, 'ONAIR_CHANNELS now has the name or port of channels made at run time: remove or move them');
    this.#heartbeat = setInterval(() => void this.#beat(), HEARTBEAT_MS);
    this.#heartbeat.unref();
    this.#figures = setInterval(() => this.#tellFigures(), FIGURES_MS);
    this.#figures.unref();
  }

  /** The figures of every session this node runs, as lossy events (the dashboard's On air page shows them live). */
  #tellFigures(): void {
    const now = this.#deps.clock.now();
    for (const { session } of this.#running.values()) {
      this.#deps.bus.publish('session-stats', { channel: session.channel.name, session: session.id, state: session.state, stats: session.stats(now) });
    }
  }

  /** Ends every session (reason `stopped`) and waits until no relay is left. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#figures);
    this.closeListeners();
    await Promise.all([...this.#running.values()].map((running) => this.#end(running, 'stopped')).concat(this.#edges.stop()));
    await this.#supervisor.stopAll(500);
  }

  async reserve(name: string, request: ReserveRequest): Promise<Reservation> {
    const channel = await this.registry.get(name);
    const instance = await this.#resolve(request);
    if (this.#running.has(name)) throw new ChannelBusy(name);
    const decided = await this.#connect('reserve', channel, instance, request, 'body.');
    const now = this.#deps.clock.now();
    const expiresAt = now + this.#deps.config.gate.reservationTtlMs;
    const session = new LiveSession({
      id: randomUUID(), channel, mode: 'reservation', instance, ...decided, reservedAt: now, expiresAt, air: this.#air(channel),
    }, this.#deps.holdLimits);
    const token = randomBytes(24).toString('base64url');
    const running = await this.#open(session, channel, token, request.who ?? 'api');
    this.#arm(running, expiresAt, 'expired');
    const query = new URLSearchParams({ passphrase: token, pbkeylen: '32', linger: '3' });
    return {
      session: session.id, channel: name, token, expiresAt, port: channel.port,
      url: `srt://${this.#deps.config.gate.publicHost}:${channel.port}?${query}`,
    };
  }

  async activate(name: string, request: ActivateRequest = {}): Promise<Availability> {
    const channel = await this.registry.get(name);
    if (channel.key === undefined) throw invalid('channel', `${name} has no stream key for static mode`);
    const instance = await this.#activation(request);
    if (this.#running.has(name)) throw new ChannelBusy(name);
    const decided = await this.#connect('activate', channel, instance, request, '');
    const now = this.#deps.clock.now();
    const expiresAt = request.maxWaitMs === undefined ? undefined : now + request.maxWaitMs;
    const session = new LiveSession({
      id: randomUUID(), channel, mode: 'static', instance, ...decided, reservedAt: now, expiresAt, air: this.#air(channel),
    }, this.#deps.holdLimits);
    const running = await this.#open(session, channel, channel.key, request.who ?? 'api', request.reconnectWindowMs);
    if (expiresAt !== undefined) this.#arm(running, expiresAt, 'max-wait');
    return this.availability(name);
  }

  /** On the instance that runs the activation: here at once, elsewhere by notification, waiting until it is over. */
  async deactivate(name: string): Promise<void> {
    await this.registry.get(name);
    const running = this.#running.get(name);
    if (running?.session.mode === 'static') return this.#end(running, 'deactivated');
    const held = running ? undefined : await this.store.holder(name);
    if (held?.mode !== 'static') throw conflict(`Channel ${name} is not activated`);
    await this.#endElsewhere(held, 'deactivated');
  }

  /** Asks the node that runs a session to end it, and waits until the session has let its channel go. */
  async #endElsewhere(held: SessionRow, reason: StopReason): Promise<void> {
    await this.#deps.database.notifier.notify(END, JSON.stringify({ session: held.id, reason } satisfies EndRequest));
    const waiting = new AbortController();
    const alarm = this.#deps.clock.at(this.#deps.clock.now() + REMOTE_END_MS, () => waiting.abort());
    try {
      await this.#waitFor(held.channel, (availability) => availability.session !== held.id, waiting.signal);
    } catch {
      throw new TimedOut(`Node ${held.owner} did not end session ${held.id} on channel ${held.channel} within ${REMOTE_END_MS / 1000} s`);
    } finally {
      alarm.cancel();
    }
  }

  /** The session running on this instance, if it is here. */
  #session(id: string): Running | undefined {
    return [...this.#running.values()].find((running) => running.session.id === id);
  }

  async availability(name: string): Promise<Availability> {
    await this.registry.get(name);
    return this.#availability(name, this.#running.has(name) ? undefined : await this.store.holder(name));
  }

  /** Resolves once nobody holds the channel (on any instance); rejects when `signal` aborts. */
  async waitUntilFree(name: string, signal?: AbortSignal): Promise<void> {
    await this.#waitFor(name, (availability) => availability.state === 'idle', signal);
  }

  /** Resolves once the channel's availability is `wanted` (re-read at each of its changes, and every second). */
  async #waitFor(name: string, wanted: (availability: Availability) => boolean, signal?: AbortSignal): Promise<void> {
    while (!wanted(await this.availability(name))) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          unsubscribe();
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, 1000);
        const unsubscribe = this.#deps.bus.subscribe((event) => {
          if (event.type === 'availability-changed' && (event.data as AvailabilityChanged).channel === name) done();
        });
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  admit(admission: Admission): void {
    this.#admission = admission;
  }

  relayFrom(upstreams: Upstreams): void {
    this.#upstreams = upstreams;
  }

  localLoad(): LocalLoad {
    const relays = this.#edges.relays;
    const channels: LocalChannelLoad[] = relays.map(({ channel, since, listeners, instance }) => ({ channel, publishing: false, relaying: true, listeners, since, instance }));
    for (const [channel, air] of this.#airs) {
      const session = this.#running.get(channel)?.session;
      const publishing = session?.state === 'publishing';
      if ((!publishing && air.listeners === 0) || relays.some((relay) => relay.channel === channel)) continue;
      channels.push({
        channel, publishing, relaying: false, listeners: air.listeners - (this.#pulls.get(channel) ?? 0),
        since: session?.publishedAt ?? session?.reservedAt ?? this.#deps.clock.now(), instance: session?.instance ?? null,
      });
    }
    const bytesIn = [...this.#running.values()].reduce((sum, running) => sum + running.session.bytes, this.#endedBytes + this.#edges.bytesIn);
    return { channels, bytesIn, bytesOut: bytesSent() };
  }

  async streams(): Promise<StreamInfo[]> {
    return [...(await this.store.holders()).values()].map((row) => ({
      channel: row.channel, session: row.id, appKey: row.app_key, mode: row.mode as Mode, state: row.state as SessionState,
      instance: instanceOf(row), format: row.format as Format, record: row.record === 1, metadata: JSON.parse(row.metadata) as Record<string, string>,
      node: row.owner, reservedAt: row.reserved_at, publishedAt: row.published_at,
    }));
  }

  /** Here at once, elsewhere by notification, waiting until the session has let its channel go. */
  async terminate(session: string, reason: 'refused' | 'terminated'): Promise<void> {
    const running = this.#session(session);
    if (running) return this.#end(running, reason);
    const held = await this.store.holding(session);
    if (!held) throw notFound(`No session ${session} holds a channel`);
    await this.#endElsewhere(held, reason);
  }

  /**
   * How an HTTP listener joins a channel on this instance, once the admission let it in: its live source, its fallback,
   * or a session waiting for its source; undefined when there is nothing to hear. The admission hears when it leaves.
   */
  async listen(name: string, listener: Listener): Promise<((res: ServerResponse) => void) | undefined> {
    const channel = await this.registry.get(name);
    const local = this.#running.get(name)?.session;
    // The fallback here would stand in for a show another instance has on air.
    const held = local ? undefined : await this.store.holder(name);
    if (held) return this.#relayed(channel, held, listener);
    const leave = await this.#play(channel, local, listener);
    const pulled = listener.relay ? this.#pull(name) : () => {};
    return this.#joined(this.#air(channel).join(local?.format), () => {
      pulled();
      leave();
    });
  }

  /** Counts another node's relay among the channel's listeners here until the answer it calls once: it is no listener. */
  #pull(channel: string): () => void {
    this.#pulls.set(channel, (this.#pulls.get(channel) ?? 0) + 1);
    return once(() => this.#pulls.set(channel, this.#pulls.get(channel)! - 1));
  }

  /** A listener of a show another node holds: it hears this node's relay of it, when the directory says where it is. */
  async #relayed(channel: Definition, held: SessionRow, listener: Listener): Promise<((res: ServerResponse) => void) | undefined> {
    const origin = this.#origin(held, listener);
    if (!origin) throw notFound(`Channel ${channel.name} is on air on node ${held.owner}: listen there`);
    const leave = await this.#play(channel, { id: held.id, appKey: held.app_key }, listener);
    const air = this.#air(channel);
    try {
      await this.#edges.feed(origin, air);
    } catch (error) {
      leave();
      throw error;
    }
    return this.#joined(air.join(origin.format), leave);
  }

  /**
   * Where this node pulls a show another node holds: the directory's address of that node, for a show on air there
   * (one waiting for its source would keep the listener waiting on nothing), never for another relay.
   */
  #origin(held: SessionRow, listener: Listener): Origin | undefined {
    if (listener.relay || held.state !== 'publishing') return undefined;
    const url = this.#upstreams?.origin(held.channel, held.owner);
    if (url === undefined) return undefined;
    if (pullable(url)) return { channel: held.channel, session: held.id, node: held.owner, format: held.format as Format, url, instance: instanceOf(held) };
    this.#logger.warn({ channel: held.channel, origin: held.owner }, 'the directory\'s address of the origin is not an http(s) URL: not relayed');
    return undefined;
  }

  /** How the listener joins the Air (undefined: nothing to hear), the admission told when it leaves. */
  #joined(join: ((res: ServerResponse) => void) | undefined, leave: () => void): ((res: ServerResponse) => void) | undefined {
    if (!join) {
      leave();
      return undefined;
    }
    return (res) => {
      if (res.destroyed) leave();
      else res.once('close', leave);
      join(res);
    };
  }

  /**
   * A file of the channel's HTTP Live Streaming on this instance, once its source is let through, for listeners the
   * admission lets in: every file is asked for (a playlist names its segments, so a refused listener could fetch them),
   * each read a listener that leaves at once. The playlist hands the listener's query on to its segments, so that the
   * backend is asked about the same ticket (its cache spares it a call per segment).
   */
  async hls(name: string, file: string, listener: Omit<Listener, 'kind'>): Promise<Buffer> {
    const channel = await this.registry.get(name);
    const local = this.#running.get(name)?.session;
    if (local?.held) throw notFound(`The source on channel ${name} is not on air yet`);
    const leave = await this.#play(channel, local, { ...listener, kind: 'hls' });
    try {
      const body = await readFile(join(this.hlsDir(name), file));
      return file.endsWith('.m3u8') ? withQuery(body, listener.query) : body;
    } catch {
      throw notFound(`No HLS file ${file} on channel ${name}`);
    } finally {
      leave();
    }
  }

  /** Asks the admission whether the listener may hear the channel; answers what to call, once, when it leaves. */
  async #play(channel: Definition, session: Pick<LiveSession, 'id' | 'appKey'> | undefined, listener: Listener): Promise<() => void> {
    if (!this.#admission) return () => {};
    const appKey = session?.appKey ?? channel.appKey;
    const { kind, client } = listener;
    // The query as a plain object: Fastify's has no prototype.
    const query = { ...listener.query };
    return once(await this.#admission.play({ kind, client, query, channel: channel.name, session: session?.id ?? null, appKey }));
  }

  /**
   * Asks the admission whether a reservation or activation may take the channel, before anything is claimed; answers
   * the session's fields with its changes. `at` prefixes the request's field names (`body.` for the API's).
   */
  async #connect(kind: ConnectRequest['kind'], channel: Definition, instance: InstanceRef | null, request: ReserveRequest | ActivateRequest, at: string): Promise<Decided> {
    if (request.appKey !== undefined && !APP_KEY.test(request.appKey)) throw invalid(`${at}appKey`, 'must be 1 to 64 letters, digits, ., _ or -');
    const asked: Decided = { format: request.format ?? 'ogg', record: request.record ?? false, metadata: request.metadata ?? {}, appKey: request.appKey ?? channel.appKey };
    if (!this.#admission) return asked;
    const change = await this.#admission.connect({ kind, channel: channel.name, who: request.who ?? 'api', ...asked });
    const decided = { ...asked, record: change.record ?? asked.record, metadata: change.metadata ?? asked.metadata };
    const unusable = metadataProblem(decided.metadata);
    if (unusable) throw new Unavailable(`The admission's metadata cannot be used: ${unusable}`);
    if (decided.record && !asked.record && !(instance && (await this.#deps.programme.getEvent(instance.event))?.type === 'live')) {
      throw conflict('The admission asks to record the session, but only instances of live events are recorded');
    }
    return decided;
  }

  /** Ends what every HTTP listener receives and stops the fallbacks, as the server closes. */
  closeListeners(): void {
    for (const air of this.#airs.values()) air.close();
  }

  hlsDir(name: string): string {
    return join(this.#deps.config.dataDir, 'gate', 'hls', name);
  }

  /** What the channel is doing: its session on this instance, or the one another instance holds it with (`held`). */
  #availability(name: string, held: SessionRow | undefined): Availability {
    const checkedAt = this.#deps.clock.now();
    const local = this.#running.get(name)?.session;
    if (local) {
      const state = heldState(local.state);
      return {
        channel: name, instance: local.instance, checkedAt, state, session: local.id, since: local.since,
        expiresAt: state === 'publishing' ? null : local.expiresAt ?? null, stats: local.stats(checkedAt),
      };
    }
    if (!held) return { channel: name, instance: null, checkedAt, state: 'idle', session: null, since: null, expiresAt: null, stats: null };
    const state = heldState(held.state);
    const duration = held.published_at === null ? 0 : (checkedAt - held.published_at) / 1000;
    return {
      channel: name,
      instance: instanceOf(held),
      checkedAt, state, session: held.id,
      since: held.published_at ?? held.reserved_at, expiresAt: state === 'publishing' ? null : held.expires_at,
      stats: {
        bytes: held.bytes, bitrate: duration > 0 ? Math.round((held.bytes * 8) / duration) : 0,
        duration: Math.max(0, duration), codec: held.codec, listeners: 0, outputs: JSON.parse(held.outputs) as OutputState[],
      },
    };
  }

  #refallback({ channel, fallback }: ChannelChanged): void {
    const air = this.#airs.get(channel);
    const now = fallbackOf(fallback);
    if (air && now) air.fallback = now;
  }

  /** The channel's Air, told the channel's fallback as `channel` (just read) has it. */
  #air(channel: Definition): Air {
    let air = this.#airs.get(channel.name);
    if (!air) {
      const options = {
        channel: channel.name, supervisor: this.#supervisor, logger: this.#logger, input: (fallback: Fallback) => this.#fallbackInput(channel.name, fallback),
        idle: () => this.#edges.settle(channel.name),
      };
      air = new Air(options, channel.fallback);
      this.#airs.set(channel.name, air);
    }
    air.fallback = channel.fallback;
    return air;
  }

  /** The fallback's source: its archive file (the instance's longest part), or silence when it has none (yet). */
  async #fallbackInput(channel: string, fallback: Fallback): Promise<string[]> {
    if (fallback.type !== 'archive') return fallbackInput(undefined);
    try {
      const [longest] = (await this.#deps.archive.find(fallback.kind, fallback.event, fallback.start)).sort((a, b) => b.duration - a.duration);
      if (longest) return fallbackInput(longest.path);
      this.#logger.warn({ channel, fallback }, 'the fallback is not in the archive; silence instead');
    } catch (err) {
      this.#logger.warn({ err, channel, fallback }, 'could not find the fallback in the archive; silence instead');
    }
    return fallbackInput(undefined);
  }

  #withIngest(channel: Definition): ChannelWithIngest {
    return { ...infoOf(channel), ingest: ingestOf(channel, this.#deps.config.gate.publicHost) };
  }

  async #resolve(request: ReserveRequest): Promise<InstanceRef> {
    if (request.instance) {
      if (request.event !== undefined) throw invalid('body.event', 'give either instance or event, not both');
      return this.#recordable(await this.#find(request.instance, 'body.instance'), request.record, 'body.record');
    }
    if (request.event === undefined) throw invalid('body.instance', 'is required (or the older form, event)');
    const { programme, clock } = this.#deps;
    const event = await programme.getEvent(request.event);
    if (!event) throw invalid('body.event', `unknown event ${request.event}`);
    const now = clock.now();
    const candidates = (await programme.instancesBetween(now - HOUR, now + HOUR)).filter((s) => s.event.id === request.event);
    const nearest = candidates.sort((a, b) => Math.abs(a.instance.startsAt - now) - Math.abs(b.instance.startsAt - now))[0];
    if (!nearest) {
      throw invalid('body.event', `the event form reserves the event's instance nearest to now, one on air within an hour before or `
        + `after now (${new Date(now - HOUR).toISOString()} to ${new Date(now + HOUR).toISOString()}), and event ${request.event} has `
        + 'none then: name the instance instead, {"instance": {"event": ..., "start": ...}}');
    }
    return this.#recordable(nearest, request.record, 'body.record');
  }

  /** Checks an activation's limits; answers the instance it belongs to. */
  async #activation(request: ActivateRequest): Promise<InstanceRef | null> {
    const { maxWaitMs, reconnectWindowMs } = request;
    for (const [field, value] of Object.entries({ maxWaitMs, reconnectWindowMs })) {
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) throw invalid(field, 'must be a whole number of milliseconds');
    }
    if (request.instance) return this.#recordable(await this.#find(request.instance, 'instance'), request.record, 'record');
    if (request.record) throw invalid('record', 'needs the instance to record (of a live event)');
    return null;
  }

  /** The programme's instance `ref` names; `field` is where the caller gave it. */
  async #find(ref: InstanceRef, field: string): Promise<ScheduledInstance> {
    const { programme } = this.#deps;
    const found = await programme.getInstance(ref.event, ref.start);
    if (found) return found;
    if (!(await programme.getEvent(ref.event))) throw invalid(`${field}.event`, `unknown event ${ref.event}`);
    throw invalid(`${field}.start`, `event ${ref.event} has no instance starting at ${ref.start}`);
  }

  /** Only live events are recorded. */
  #recordable(found: ScheduledInstance, record: boolean | undefined, field: string): InstanceRef {
    if (record && found.event.type !== 'live') throw invalid(field, `only live events are recorded; event ${found.event.id} is ${found.event.type}`);
    return { event: found.event.id, start: found.instance.start };
  }

  /** The session stops waiting for a source at `at`: unless one is on air by then, it ends for `reason`. */
  #arm(running: Running, at: number, reason: StopReason): void {
    running.alarm?.cancel();
    running.session.expiresAt = at;
    running.alarm = this.#deps.clock.at(at, () => {
      if (running.session.state !== 'publishing') void this.#end(running, reason);
    });
  }

  /** Claims the channel's slot, starts the relay and announces the reservation. */
  async #open(session: LiveSession, channel: Definition, passphrase: string, who: string, reconnectWindowMs?: number): Promise<Running> {
    const claimed = await this.store.claim({
      id: session.id, channel: session.channel.name, mode: session.mode, event: session.instance?.event ?? null,
      instance_start: session.instance?.start ?? null, format: session.format, record: session.record ? 1 : 0,
      metadata: JSON.stringify(session.metadata), who, owner: this.#deps.node.id, state: 'reserved',
      reserved_at: session.reservedAt, expires_at: session.expiresAt ?? null, published_at: null, ended_at: null,
      bytes: 0, duration_ms: 0, codec: null, pid: null, exit_code: null, reason: null, attempts: '[]',
      outputs: JSON.stringify(session.outputs), app_key: session.appKey,
    }, this.#deps.clock.now(), channel.configured ? undefined : { port: channel.port, key: channel.key! });
    if (claimed === 'busy') throw new ChannelBusy(channel.name);
    if (claimed === 'gone') throw new Conflict(`Channel ${channel.name} was changed or removed meanwhile`);
    let finished = () => {};
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    const running: Running = { session, passphrase, reconnectWindowMs, alarm: undefined, done, finished, write: Promise.resolve() };
    this.#running.set(session.channel.name, running);
    for (const output of skippedOutputs(session.channel, session.format)) {
      this.#logger.warn({ channel: session.channel.name, output: output.type }, `a ${session.format} session cannot go to this output; skipped`);
    }
    try {
      await this.#launch(running, together(this.#streamEvent('stream-reserved', session), this.#availabilityChanged([session.channel.name], session.instance)));
    } catch (error) {
      this.#running.delete(session.channel.name);
      await this.store.release(session.id, { state: 'failed', ended_at: this.#deps.clock.now(), reason: (error as Error).message });
      finished();
      throw new ChannelBusy(session.channel.name, `${(error as Error).message}; try again shortly`, 'unavailable');
    }
    this.#logger.info({ channel: session.channel.name, session: session.id, mode: session.mode, event: session.instance?.event, format: session.format,
      record: session.record, who, expiresAt: session.expiresAt }, 'session open; waiting for the source');
    return running;
  }

  #recordFile(session: Pick<LiveSession, 'id' | 'record' | 'format'>): string | undefined {
    return session.record ? join(this.#deps.archive.stagingDir, `${session.id}.${FORMATS[session.format].extension}`) : undefined;
  }

  /** Adopts a staged recording into the archive (when something was on air) and clears staging; answers why it failed. */
  async #keepRecording(id: string, file: string, instance: InstanceRef | null): Promise<string | undefined> {
    try {
      if (instance) await this.#deps.archive.adopt('recordings', instance.event, instance.start, file);
      return undefined;
    } catch (err) {
      this.#logger.error({ err, session: id }, 'the recording could not be archived');
      return (err as Error).message;
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** What a killed run recorded is the show up to the crash: it goes to the archive like any recording. */
  async #rescueRecordings(ids: string[]): Promise<void> {
    for (const id of ids) {
      const row = await this.store.get(id);
      const file = row && this.#recordFile({ id, record: row.record === 1, format: row.format as Format });
      if (!row || !file || !existsSync(file)) continue;
      const { event, instance_start: start, published_at: publishedAt } = row;
      await this.#keepRecording(id, file, publishedAt !== null && event !== null && start !== null ? { event, start } : null);
    }
  }

  /** Starts the relay; `announce` tells that it listens, in the transaction that records its process. */
  async #launch(running: Running, announce?: Announce): Promise<void> {
    const { session } = running;
    const now = this.#deps.clock.now();
    let hlsPlaylist: string | undefined;
    if (session.format === 'mpegts') {
      const dir = this.hlsDir(session.channel.name);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      hlsPlaylist = join(dir, 'index.m3u8');
    }
    const recordFile = this.#recordFile(session);
    if (recordFile) mkdirSync(this.#deps.archive.stagingDir, { recursive: true });
    const admission = this.#admission;
    const { ended } = await session.run({
      supervisor: this.#supervisor,
      logger: this.#logger,
      plan: {
        channel: session.channel, format: session.format, passphrase: running.passphrase,
        // Static mode waits on the clock alone (its alarms end the session).
        listenTimeoutUs: session.mode === 'static' || session.expiresAt === undefined ? undefined : (session.expiresAt - now + LISTEN_GRACE_MS) * 1000,
        recordFile, hlsPlaylist, metadata: session.metadata, held: admission !== undefined,
      },
      onConnected: (letThrough) => void this.#connected(running, admission, letThrough),
      onOutputFailed: (index) => void this.#outputFailed(running, index),
    });
    try {
      await this.#write(running, { pid: session.process?.pid ?? null }, announce);
    } catch (error) {
      // Not recorded, the relay must not go on listening with the channel's credentials.
      await session.process?.stop(1000);
      throw error;
    }
    void ended.then((end) => this.#ran(running, end)).catch((err: unknown) =>
      this.#logger.error({ err, session: session.id }, 'could not close the session'));
  }

  /** The source connected: on air at once, or once the admission lets it through; refused, it is cut off. */
  async #connected(running: Running, admission: Admission | undefined, letThrough: () => boolean): Promise<void> {
    if (!admission) return this.#publishing(running);
    const { session } = running;
    try {
      await admission.publish({
        channel: session.channel.name, session: session.id, appKey: session.appKey, mode: session.mode, format: session.format,
        record: session.record, metadata: session.metadata, instance: session.instance,
      });
    } catch (error) {
      this.#logger.info({ channel: session.channel.name, session: session.id, reason: (error as Error).message }, 'the admission refused the source: cut off');
      return this.#end(running, 'refused');
    }
    // Ended meanwhile (terminated, expired, stopping): nothing of it goes out.
    if (session.stopReason === undefined && !this.#stopping && letThrough()) await this.#publishing(running);
  }

  async #publishing(running: Running): Promise<void> {
    const { session } = running;
    running.alarm?.cancel();
    session.state = 'publishing';
    session.since = this.#deps.clock.now();
    session.publishedAt ??= session.since;
    this.#logger.info({ channel: session.channel.name, session: session.id, codec: session.codec }, 'the source is on air');
    await this.#write(running, {
      state: 'publishing', published_at: session.publishedAt, codec: session.codec, outputs: JSON.stringify(session.outputs),
    }, this.#streamEvent('stream-publishing', session));
  }

  /** Static mode: the encoder dropped. The channel listens for it again, within the reconnect window if there is one. */
  async #disconnected(running: Running, end: RunEnd): Promise<void> {
    const { session } = running;
    session.state = 'disconnected';
    session.since = this.#deps.clock.now();
    if (running.reconnectWindowMs === undefined) session.expiresAt = undefined;
    else this.#arm(running, session.since + running.reconnectWindowMs, 'reconnect-window');
    const disconnected = this.#streamEvent('stream-disconnected', session, { exitCode: end.exit.code, reason: 'source-left' });
    this.#logger.info({ channel: session.channel.name, session: session.id, expiresAt: session.expiresAt }, 'the encoder dropped; listening for it again');
    // What this run recorded is a part of its own: the next run records into a fresh file.
    const recordFile = this.#recordFile(session);
    if (recordFile) await this.#keepRecording(session.id, recordFile, session.instance);
    await this.#write(running, { state: 'disconnected', expires_at: session.expiresAt ?? null }, disconnected);
  }

  /** Writes about the session after the write before it, so that they land in order; `announce` tells of it in the same transaction. */
  async #write(running: Running, patch: Parameters<GateStore['update']>[1], announce?: Announce): Promise<void> {
    running.write = running.write.catch(() => {}).then(() => this.store.update(running.session.id, patch, announce));
    await running.write;
  }

  /** ffmpeg dropped a push output (could not connect, or the connection broke): the broadcast goes on without it. */
  async #outputFailed(running: Running, index: number): Promise<void> {
    const { session } = running;
    const output = { ...session.outputs[index]! };
    this.#logger.warn({ channel: session.channel.name, session: session.id, output: output.url, error: output.error }, 'a push output failed; the broadcast goes on without it');
    this.#outputFailures.inc({ channel: session.channel.name, type: output.type, output: output.url });
    const failed = { channel: session.channel.name, session: session.id, index, output };
    await this.#write(running, { outputs: JSON.stringify(session.outputs) }, (trx) => this.#deps.bus.record(trx, 'stream-output-failed', [failed]));
  }

  /**
   * One ffmpeg run is over. The channel listens again when the session goes on: static mode until deactivated or out of
   * time, a reservation whose source failed to connect until it expires (the right source may still come). Anything
   * else ends.
   */
  async #ran(running: Running, end: RunEnd): Promise<void> {
    const { session } = running;
    if (!end.published) await this.#attemptFailed(running, end);
    if (this.#goesOn(session, end)) {
      const pause = new Promise((resolve) => setTimeout(resolve, RELISTEN_DELAY_MS));
      if (end.published) await this.#disconnected(running, end);
      await pause;
      if (this.#goesOn(session, end)) {
        try {
          // A source that failed to connect leaves the channel listening again: said once it does.
          await this.#launch(running, end.published ? undefined : this.#streamEvent('stream-reserved', session, { exitCode: end.exit.code, reason: lastLine(end) }));
          return;
        } catch (error) {
          // The channel could not listen again: the session fails with that.
          end = { ...end, published: false, diagnostics: (error as Error).message };
        }
      }
    }
    await this.#finish(running, end);
  }

  #goesOn(session: LiveSession, end: RunEnd): boolean {
    if (session.stopReason !== undefined || this.#stopping) return false;
    return session.mode === 'static' || (!end.published && session.expiresAt !== undefined && this.#deps.clock.now() < session.expiresAt);
  }

  /** A run that ended before anything was on air is a failed attempt to connect: logged and kept with the session. */
  async #attemptFailed(running: Running, end: RunEnd): Promise<void> {
    const { session } = running;
    if (session.stopReason !== undefined || this.#stopping) return;
    const attempt = { at: this.#deps.clock.now(), error: lastLine(end) };
    session.attempts.push(attempt);
    this.#logger.warn({ channel: session.channel.name, session: session.id, exitCode: end.exit.code, error: attempt.error },
      'a source failed to connect');
    await this.store.update(session.id, { attempts: JSON.stringify(session.attempts) });
  }

  async #finish(running: Running, end: RunEnd): Promise<void> {
    const { session } = running;
    running.alarm?.cancel();
    await running.write.catch(() => {});
    const now = this.#deps.clock.now();
    let state: SessionState = 'ended';
    let reason: string;
    if (session.stopReason !== undefined) reason = session.stopReason;
    else if (end.published && end.exit.code === 0) reason = 'source-left';
    else if (session.mode === 'reservation' && !end.published && now >= session.expiresAt! - LISTEN_GRACE_MS) reason = 'expired';
    else {
      state = 'failed';
      reason = lastLine(end);
    }
    const recordFile = this.#recordFile(session);
    // What went on air was broadcast: the station keeps it, whoever ended the show (a keep-alive's 403 included).
    if (session.stopReason === 'refused' && !end.published) this.#discard(session);
    // Static mode: a run that dropped gave its part to the archive already.
    else if (recordFile && existsSync(recordFile)) {
      const failure = await this.#keepRecording(session.id, recordFile, end.published ? session.instance : null);
      if (failure) reason += `; recording not archived: ${failure}`;
    }
    const stats = session.stats(now);
    session.state = state;
    const over = this.#streamEvent(state === 'failed' ? 'stream-failed' : 'stream-ended', session, { exitCode: end.exit.code, reason });
    await this.store.release(session.id, {
      state, ended_at: now, bytes: stats.bytes, duration_ms: Math.round(stats.duration * 1000), codec: session.codec,
      exit_code: end.exit.code, reason, outputs: JSON.stringify(session.outputs),
    }, together(over, this.#availabilityChanged([session.channel.name], null)));
    this.#running.delete(session.channel.name);
    this.#endedBytes += session.bytes;
    this.#logger.info({ channel: session.channel.name, session: session.id, state, reason, exitCode: end.exit.code }, 'session over');
    running.finished();
  }

  /** A session refused before it went on air leaves nothing: neither its staged recording nor its HLS. */
  #discard(session: LiveSession): void {
    const recordFile = this.#recordFile(session);
    if (recordFile) rmSync(recordFile, { force: true });
    rmSync(this.hlsDir(session.channel.name), { recursive: true, force: true });
  }

  /** Ends a session from onair's side and waits until it is closed. */
  async #end(running: Running, reason: string): Promise<void> {
    running.session.stopReason ??= reason;
    await running.session.process?.stop(1000);
    await running.done;
  }

  /** The session as it is now, announced as `type` by the transaction it is given. */
  #streamEvent(type: StreamEvent, session: LiveSession, extra: { exitCode?: number | null; reason?: string } = {}): Announce {
    const waiting = session.state === 'reserved' || session.state === 'disconnected';
    const status: StreamStatus = {
      channel: session.channel.name, session: session.id, appKey: session.appKey, mode: session.mode, state: session.state,
      instance: session.instance, format: session.format, record: session.record, metadata: session.metadata,
      stats: session.stats(this.#deps.clock.now()),
      expiresAt: waiting && session.expiresAt !== undefined ? new Date(session.expiresAt).toISOString() : null, ...extra,
    };
    return (trx) => this.#deps.bus.record(trx, type, [status]);
  }

  #availabilityChanged(channels: string[], instance: InstanceRef | null): Announce {
    const checkedAt = new Date(this.#deps.clock.now()).toISOString();
    return (trx) => this.#deps.bus.record(trx, 'availability-changed', channels.map((channel) => ({ channel, availability: { instance, checkedAt } })));
  }

  async #sweep(gone: Parameters<GateStore['sweep']>[0]): Promise<void> {
    const now = this.#deps.clock.now();
    const freed = await this.store.sweep(gone, { state: 'failed', ended_at: now, reason: 'owner-lost' }, (trx, channels) =>
      this.#availabilityChanged(channels, null)(trx));
    for (const channel of freed) this.#logger.warn({ channel }, 'freed a channel held by a session nobody looks after');
  }

  async #beat(): Promise<void> {
    try {
      const now = this.#deps.clock.now();
      await this.store.heartbeat(this.#deps.node.id, now);
      for (const { session } of this.#running.values()) {
        const stats = session.stats(now);
        await this.store.update(session.id, { bytes: stats.bytes, duration_ms: Math.round(stats.duration * 1000) });
      }
      await this.#sweep({ sessions: [], staleBefore: now - STALE_MS });
    } catch (err) {
      this.#logger.warn({ err }, 'gate heartbeat failed');
    }
  }
}
