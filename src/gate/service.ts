import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Alarm } from '../core/clock.ts';
import type { ChannelConfig } from '../core/config.ts';
import { together, type Announce } from '../core/events/bus.ts';
import { ChannelBusy, conflict, invalid, notFound } from '../core/errors.ts';
import { ProcessSupervisor } from '../core/processes.ts';
import type { ProgrammeEvent, ProgrammeReader } from '../programme/contract.ts';
import type { Archive } from '../recordings/contract.ts';
import { FORMATS, skippedOutputs, type Format } from './pipeline.ts';
import { LiveSession, type InstanceRef, type Mode, type OutputState, type RunEnd, type SessionState, type SessionStats } from './session.ts';
import { GateStore } from './store.ts';
import type { Core } from '../core/area.ts';

export interface AvailabilityChanged {
  channel: string;
  availability: { instance: InstanceRef | null; checkedAt: string };
}

export interface StreamStatus {
  channel: string;
  session: string;
  mode: Mode;
  state: SessionState;
  instance: InstanceRef | null;
  format: Format;
  record: boolean;
  metadata: Record<string, string>;
  stats: SessionStats;
  exitCode?: number | null;
  reason?: string;
}

export interface OutputFailed {
  channel: string;
  session: string;
  /** Its place in the channel's configured outputs. */
  index: number;
  output: OutputState;
}

declare module '../core/events/bus.ts' {
  interface EventMap {
    'availability-changed': AvailabilityChanged;
    'stream-output-failed': OutputFailed;
    'stream-reserved': StreamStatus;
    'stream-publishing': StreamStatus;
    'stream-ended': StreamStatus;
    'stream-failed': StreamStatus;
  }
}

export interface ReserveRequest {
  /** The instance the broadcast belongs to; or `event`, then its instance nearest to now (within an hour). */
  instance?: InstanceRef;
  event?: string;
  format?: Format;
  record?: boolean;
  metadata?: Record<string, string>;
  /** Who asks (client address, area), kept in the session history. */
  who?: string;
}

export interface Reservation {
  session: string;
  channel: string;
  /** One-time SRT passphrase. */
  token: string;
  expiresAt: number;
  port: number;
  /** Ready-to-use srt:// URL for the source. */
  url: string;
}

export interface Availability {
  channel: string;
  instance: InstanceRef | null;
  checkedAt: number;
  state: 'idle' | 'reserved' | 'publishing';
  session: string | null;
  since: number | null;
  expiresAt: number | null;
  stats: SessionStats | null;
}

export interface GateDeps extends Core {
  programme: ProgrammeReader;
  archive: Archive;
}

const HOUR = 3_600_000;
const HEARTBEAT_MS = 5_000;
// A slot whose owner has not been heard of for this long is freed by any instance.
const STALE_MS = 30_000;
// ffmpeg's own listen timeout backs up onair's expiry alarm, a little later.
const LISTEN_GRACE_MS = 1_000;
// Between two runs of a channel's relay: the listener is back well within an SRT caller's 3 s connection timeout.
const RELISTEN_DELAY_MS = 500;

interface Running {
  session: LiveSession;
  passphrase: string;
  alarm: Alarm | undefined;
  done: Promise<void>;
  finished: () => void;
  /** The last write about the session, so that closing it lands after. */
  write: Promise<void>;
}

/** What a run's end says about itself: ffmpeg's last line (passphrase removed), or its exit. */
function lastLine(end: RunEnd): string {
  return end.diagnostics.split('\n').at(-1) || `ffmpeg exited with ${end.exit.code ?? end.exit.signal}`;
}

/** Channels, their reservations and sessions, and the ffmpeg relays behind them. */
export class GateService {
  readonly channels: ChannelConfig[];
  readonly store: GateStore;
  readonly #deps: GateDeps;
  readonly #logger: Logger;
  readonly #supervisor: ProcessSupervisor;
  readonly #running = new Map<string, Running>();
  readonly #outputFailures: Counter<'channel' | 'type' | 'output'>;
  #heartbeat: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(deps: GateDeps) {
    this.#deps = deps;
    this.#logger = deps.logger.child({ area: 'gate' });
    this.channels = deps.config.gate.channels;
    this.store = new GateStore(deps.database);
    this.#supervisor = new ProcessSupervisor({ dir: join(deps.config.dataDir, 'gate', 'pids'), logger: this.#logger });
    this.#outputFailures = new Counter({
      name: 'onair_gate_output_failures_total',
      help: 'Push outputs (Icecast, SRT, RTMP) that could not connect or dropped, by channel, type and URL (without credentials)',
      labelNames: ['channel', 'type', 'output'] as const,
      registers: [deps.metrics.registry],
    });
  }

  get defaultChannel(): string {
    return this.channels[0].name;
  }

  channel(name: string): ChannelConfig {
    const channel = this.channels.find((c) => c.name === name);
    if (!channel) throw notFound(`There is no channel ${name}`);
    return channel;
  }

  /**
   * Kills relays a killed run left behind and frees the channels nobody holds any more: those of this node's previous
   * run (the data-dir lock proves it is gone), and on SQLite, where one onair has the database, every one.
   */
  async start(): Promise<void> {
    const leftovers = this.#supervisor.reapLeftovers().map((name) => name.replace(/^gate-/, ''));
    const now = this.#deps.clock.now();
    const staleBefore = this.#deps.database.dialect === 'sqlite' ? Number.MAX_SAFE_INTEGER : now - STALE_MS;
    await this.#sweep({ sessions: leftovers, owner: this.#deps.node.id, staleBefore });
    await this.#rescueRecordings(leftovers);
    this.#heartbeat = setInterval(() => void this.#beat(), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /** Ends every session (reason `stopped`) and waits until no relay is left. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#heartbeat);
    await Promise.all([...this.#running.values()].map((running) => this.#end(running, 'stopped')));
    await this.#supervisor.stopAll(500);
  }

  async reserve(name: string, request: ReserveRequest): Promise<Reservation> {
    const channel = this.channel(name);
    const instance = await this.#resolve(request);
    if (this.#running.has(name)) throw this.#busy(name);
    const now = this.#deps.clock.now();
    const expiresAt = now + this.#deps.config.gate.reservationTtlMs;
    const session = new LiveSession({
      id: randomUUID(), channel, mode: 'reservation', instance, format: request.format ?? 'ogg',
      record: request.record ?? false, metadata: request.metadata ?? {}, reservedAt: now, expiresAt,
    });
    const token = randomBytes(24).toString('base64url');
    const running = await this.#open(session, token, request.who ?? 'api');
    running.alarm = this.#deps.clock.at(expiresAt, () => {
      if (session.state === 'reserved') void this.#end(running, 'expired');
    });
    const query = new URLSearchParams({ passphrase: token, pbkeylen: '32', linger: '3' });
    return {
      session: session.id, channel: name, token, expiresAt, port: channel.port,
      url: `srt://${this.#deps.config.gate.publicHost}:${channel.port}?${query}`,
    };
  }

  /** Static mode: opens the channel to its encoder (fixed stream key) until `deactivate`, reconnects included. */
  async activate(name: string, options: { instance?: InstanceRef; who?: string } = {}): Promise<Availability> {
    const channel = this.channel(name);
    if (channel.key === undefined) throw invalid('channel', `${name} has no stream key for static mode`);
    if (this.#running.has(name)) throw this.#busy(name);
    const session = new LiveSession({
      id: randomUUID(), channel, mode: 'static', instance: options.instance ?? null, format: 'ogg',
      record: false, metadata: {}, reservedAt: this.#deps.clock.now(), expiresAt: undefined,
    });
    await this.#open(session, channel.key, options.who ?? 'api');
    return this.availability(name);
  }

  async deactivate(name: string): Promise<void> {
    this.channel(name);
    const running = this.#running.get(name);
    if (!running || running.session.mode !== 'static') throw conflict(`Channel ${name} is not activated`);
    await this.#end(running, 'deactivated');
  }

  async availability(name: string): Promise<Availability> {
    this.channel(name);
    const checkedAt = this.#deps.clock.now();
    const local = this.#running.get(name)?.session;
    if (local) {
      return {
        channel: name, instance: local.instance, checkedAt, state: local.state === 'publishing' ? 'publishing' : 'reserved',
        session: local.id, since: local.since, expiresAt: local.state === 'reserved' ? local.expiresAt ?? null : null,
        stats: local.stats(checkedAt),
      };
    }
    const row = await this.store.holder(name);
    if (!row) return { channel: name, instance: null, checkedAt, state: 'idle', session: null, since: null, expiresAt: null, stats: null };
    const duration = row.published_at === null ? 0 : (checkedAt - row.published_at) / 1000;
    return {
      channel: name,
      instance: row.event === null ? null : { event: row.event, start: row.instance_start ?? '' },
      checkedAt, state: row.state === 'publishing' ? 'publishing' : 'reserved', session: row.id,
      since: row.published_at ?? row.reserved_at, expiresAt: row.state === 'publishing' ? null : row.expires_at,
      stats: {
        bytes: row.bytes, bitrate: duration > 0 ? Math.round((row.bytes * 8) / duration) : 0,
        duration: Math.max(0, duration), codec: row.codec, listeners: 0, outputs: JSON.parse(row.outputs) as OutputState[],
      },
    };
  }

  /** Resolves once nobody holds the channel (on any instance); rejects when `signal` aborts. */
  async waitUntilFree(name: string, signal?: AbortSignal): Promise<void> {
    this.channel(name);
    while ((await this.availability(name)).state !== 'idle') {
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

  /** The live session of a channel on this instance, for the HTTP listeners. */
  live(name: string): LiveSession | undefined {
    this.channel(name);
    return this.#running.get(name)?.session;
  }

  hlsDir(name: string): string {
    return join(this.#deps.config.dataDir, 'gate', 'hls', name);
  }

  async #resolve(request: ReserveRequest): Promise<InstanceRef> {
    const { programme, clock } = this.#deps;
    let event: ProgrammeEvent | undefined;
    let start: string;
    if (request.instance) {
      if (request.event !== undefined) throw invalid('body.event', 'give either instance or event, not both');
      const found = await programme.getInstance(request.instance.event, request.instance.start);
      if (!found) {
        if (!(await programme.getEvent(request.instance.event))) throw invalid('body.instance.event', `unknown event ${request.instance.event}`);
        throw invalid('body.instance.start', `event ${request.instance.event} has no instance starting at ${request.instance.start}`);
      }
      event = found.event;
      start = found.instance.start;
    } else {
      if (request.event === undefined) throw invalid('body.instance', 'is required (or the older form, event)');
      event = await programme.getEvent(request.event);
      if (!event) throw invalid('body.event', `unknown event ${request.event}`);
      const now = clock.now();
      const candidates = (await programme.instancesBetween(now - HOUR, now + HOUR)).filter((s) => s.event.id === request.event);
      const nearest = candidates.sort((a, b) => Math.abs(a.instance.startsAt - now) - Math.abs(b.instance.startsAt - now))[0];
      if (!nearest) throw invalid('body.event', `event ${request.event} has no instance within an hour of now`);
      start = nearest.instance.start;
    }
    if (request.record && event.type !== 'live') {
      throw invalid('body.record', `only live events are recorded; event ${event.id} is ${event.type}`);
    }
    return { event: event.id, start };
  }

  #busy(name: string): ChannelBusy {
    return new ChannelBusy(name);
  }

  /** Claims the channel's slot, starts the relay and announces the reservation. */
  async #open(session: LiveSession, passphrase: string, who: string): Promise<Running> {
    const claimed = await this.store.claim({
      id: session.id, channel: session.channel.name, mode: session.mode, event: session.instance?.event ?? null,
      instance_start: session.instance?.start ?? null, format: session.format, record: session.record ? 1 : 0,
      metadata: JSON.stringify(session.metadata), who, owner: this.#deps.node.id, state: 'reserved',
      reserved_at: session.reservedAt, expires_at: session.expiresAt ?? null, published_at: null, ended_at: null,
      bytes: 0, duration_ms: 0, codec: null, pid: null, exit_code: null, reason: null, attempts: '[]',
      outputs: JSON.stringify(session.outputs),
    }, this.#deps.clock.now());
    if (!claimed) throw this.#busy(session.channel.name);
    let finished = () => {};
    const done = new Promise<void>((resolve) => {
      finished = resolve;
    });
    const running: Running = { session, passphrase, alarm: undefined, done, finished, write: Promise.resolve() };
    this.#running.set(session.channel.name, running);
    for (const output of skippedOutputs(session.channel, session.format)) {
      this.#logger.warn({ channel: session.channel.name, output: output.type }, `a ${session.format} session cannot go to this output; skipped`);
    }
    try {
      await this.#launch(running);
    } catch (error) {
      this.#running.delete(session.channel.name);
      await this.store.release(session.id, { state: 'failed', ended_at: this.#deps.clock.now(), reason: (error as Error).message });
      finished();
      throw new ChannelBusy(session.channel.name, `${(error as Error).message}; try again shortly`, 'unavailable');
    }
    await this.#announce(together(this.#streamEvent('stream-reserved', session), this.#availabilityChanged([session.channel.name], session.instance)));
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

  async #launch(running: Running): Promise<void> {
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
    const { ended } = await session.run({
      supervisor: this.#supervisor,
      logger: this.#logger,
      plan: {
        channel: session.channel, format: session.format, passphrase: running.passphrase,
        listenTimeoutUs: session.expiresAt === undefined ? undefined : (session.expiresAt - now + LISTEN_GRACE_MS) * 1000,
        recordFile, hlsPlaylist, metadata: session.metadata,
      },
      onPublishing: () => void this.#publishing(running),
      onOutputFailed: (index) => void this.#outputFailed(running, index),
    });
    await this.store.update(session.id, { pid: session.process?.pid ?? null });
    void ended.then((end) => this.#ran(running, end)).catch((err: unknown) =>
      this.#logger.error({ err, session: session.id }, 'could not close the session'));
  }

  async #publishing(running: Running): Promise<void> {
    const { session } = running;
    running.alarm?.cancel();
    session.state = 'publishing';
    session.since = session.publishedAt = this.#deps.clock.now();
    running.write = this.store.update(session.id, {
      state: 'publishing', published_at: session.publishedAt, codec: session.codec, outputs: JSON.stringify(session.outputs),
    }, this.#streamEvent('stream-publishing', session));
    await running.write;
  }

  /** ffmpeg dropped a push output (could not connect, or the connection broke): the broadcast goes on without it. */
  async #outputFailed(running: Running, index: number): Promise<void> {
    const { session } = running;
    const output = { ...session.outputs[index]! };
    this.#logger.warn({ channel: session.channel.name, session: session.id, output: output.url, error: output.error }, 'a push output failed; the broadcast goes on without it');
    this.#outputFailures.inc({ channel: session.channel.name, type: output.type, output: output.url });
    const failed: OutputFailed = { channel: session.channel.name, session: session.id, index, output };
    const outputs = JSON.stringify(session.outputs);
    const previous = running.write;
    running.write = previous.catch(() => {}).then(() =>
      this.store.update(session.id, { outputs }, (trx) => this.#deps.bus.record(trx, 'stream-output-failed', [failed])));
    await running.write;
  }

  /**
   * One ffmpeg run is over. The channel listens again when the session goes on: static mode always, a reservation
   * whose source failed to connect until it expires (the right source may still come). Anything else ends.
   */
  async #ran(running: Running, end: RunEnd): Promise<void> {
    const { session } = running;
    if (!end.published) await this.#attemptFailed(running, end);
    if (this.#goesOn(session, end)) {
      session.state = 'reserved';
      session.since = this.#deps.clock.now();
      await new Promise((resolve) => setTimeout(resolve, RELISTEN_DELAY_MS));
      if (this.#goesOn(session, end)) {
        try {
          await this.#launch(running);
          await this.#announce(this.#streamEvent('stream-reserved', session, { exitCode: end.exit.code, reason: end.published ? 'source-left' : lastLine(end) }));
          return;
        } catch (error) {
          end = { ...end, diagnostics: (error as Error).message };
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
    else if (!end.published && session.expiresAt !== undefined && now >= session.expiresAt - LISTEN_GRACE_MS) reason = 'expired';
    else {
      state = 'failed';
      reason = lastLine(end);
    }
    const recordFile = this.#recordFile(session);
    if (recordFile) {
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
    this.#logger.info({ channel: session.channel.name, session: session.id, state, reason, exitCode: end.exit.code }, 'session over');
    running.finished();
  }

  /** Ends a session from onair's side and waits until it is closed. */
  async #end(running: Running, reason: string): Promise<void> {
    running.session.stopReason ??= reason;
    await running.session.process?.stop(1000);
    await running.done;
  }

  /** The session as it is now, announced as `type` by the transaction it is given. */
  #streamEvent(type: 'stream-reserved' | 'stream-publishing' | 'stream-ended' | 'stream-failed', session: LiveSession, extra: { exitCode?: number | null; reason?: string } = {}): Announce {
    const status: StreamStatus = {
      channel: session.channel.name, session: session.id, mode: session.mode, state: session.state,
      instance: session.instance, format: session.format, record: session.record, metadata: session.metadata,
      stats: session.stats(this.#deps.clock.now()), ...extra,
    };
    return (trx) => this.#deps.bus.record(trx, type, [status]);
  }

  #availabilityChanged(channels: string[], instance: InstanceRef | null): Announce {
    const checkedAt = new Date(this.#deps.clock.now()).toISOString();
    return (trx) => this.#deps.bus.record(trx, 'availability-changed', channels.map((channel) => ({ channel, availability: { instance, checkedAt } })));
  }

  /** Records events of what happened outside the database (a relay listens), in a transaction of their own. */
  async #announce(announce: Announce): Promise<void> {
    try {
      await this.#deps.database.kysely.transaction().execute((trx) => announce(trx));
    } catch (err) {
      this.#logger.error({ err }, 'could not record the gate\'s events');
    }
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
