import type { Logger } from 'pino';
import type { Alarm, Clock } from '../core/clock.ts';
import { Unavailable } from '../core/errors.ts';
import type { ProcessSupervisor, Supervised } from '../core/processes.ts';
import type { Air, Feed } from './air.ts';
import type { Format, InstanceRef } from './contract.ts';

/** The request header of a relay's pull: a node asked with it serves only a session it holds, never a relay of its own. */
export const RELAY_HEADER = 'x-onair-relay';

/** A session another node holds, and where its stream is (the directory's address of that node). */
export interface Origin {
  channel: string;
  session: string;
  node: string;
  format: Format;
  url: string;
  instance: InstanceRef | null;
}

interface Relay {
  origin: Origin;
  air: Air;
  process: Supervised;
  /** When it started (the injected clock). */
  since: number;
  bytes: number;
  /** Set at its first bytes: it feeds the Air from then on. */
  feed: Feed | undefined;
  /** Settles at its first bytes, or rejects when it ends before. */
  ready: Promise<void>;
  /** Listeners waiting for its first bytes. */
  waiting: number;
  linger: Alarm | undefined;
  /** Why onair stops it, if it does. */
  stopReason: string | undefined;
}

export interface EdgeOptions {
  supervisor: ProcessSupervisor;
  logger: Logger;
  clock: Clock;
  /** How long a relay outlives its last listener here (config.directory.edgeLingerMs). */
  lingerMs: number;
  /** This node's id, in the relay header. */
  node: string;
}

/** A relay that could not connect: listeners of that session are told so at once until `until` (unless its address changed). */
interface Failure {
  session: string;
  url: string;
  until: number;
  reason: string;
}

// After a relay failed to connect, new listeners of the same session wait this long before the next attempt.
const RETRY_AFTER_MS = 5_000;
// An origin that stops sending for this long (without closing) has gone: ffmpeg ends the pull.
const ORIGIN_IDLE_US = 5_000_000;

// Each relay gets a name of its own: one stopping may still be in the supervisor as the next starts.
let relayRuns = 0;

/**
 * ffmpeg arguments of a relay: the origin's stream pulled over HTTP and copied byte for byte to stdout (the `data`
 * demuxer and muxer), so that its listeners here get what the origin's get: Ogg pages and their links (the origin's
 * fallback, then a show), or MPEG-TS. Only HTTP(S), and the relay header so that an origin never relays in turn.
 */
export function relayPullArgs(url: string, node: string): string[] {
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-protocol_whitelist', 'http,https,tcp,tls',
    '-rw_timeout', String(ORIGIN_IDLE_US), '-headers', `X-Onair-Relay: ${node}\r\n`,
    '-probesize', '32', '-analyzeduration', '0', '-f', 'data', '-i', url,
    '-map', '0', '-c', 'copy', '-flush_packets', '1', '-f', 'data', 'pipe:1',
  ];
}

/** Whether the directory's address can be pulled: http(s) only. */
export function pullable(url: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

/**
 * An edge's relays: one supervised ffmpeg per channel on air on another node while it has listeners here, feeding the
 * channel's Air as its live source. It stops `lingerMs` after the last listener left, when the origin's session ends,
 * or when its input does; a relay that cannot connect is not tried again for that session within RETRY_AFTER_MS.
 */
export class EdgeRelays {
  readonly #relays = new Map<string, Relay>();
  readonly #failures = new Map<string, Failure>();
  readonly #options: EdgeOptions;
  /** What relays that ended took in. */
  #endedBytes = 0;

  constructor(options: EdgeOptions) {
    this.#options = options;
  }

  /** Resolves once the relay of `origin` feeds `air` (started now unless it runs); rejects (Unavailable) when it cannot. */
  async feed(origin: Origin, air: Air): Promise<void> {
    let relay = this.#relays.get(origin.channel);
    if (relay && (relay.origin.session !== origin.session || relay.stopReason !== undefined)) {
      void this.#stop(relay, 'a relay of an older session');
      relay = undefined;
    }
    relay ??= this.#start(origin, air);
    relay.waiting++;
    relay.linger?.cancel();
    relay.linger = undefined;
    try {
      await relay.ready;
    } finally {
      relay.waiting--;
      // After the listener joined (the caller does so at once): a listener that did not leaves the relay lingering.
      const joined = relay;
      setImmediate(() => this.settle(joined.origin.channel));
    }
  }

  /** The channel's listeners here changed: with none left (and none waiting), the relay lingers, then stops. */
  settle(channel: string): void {
    const relay = this.#relays.get(channel);
    if (!relay || relay.linger || relay.waiting > 0 || relay.air.listeners > 0) return;
    const { clock, lingerMs } = this.#options;
    relay.linger = clock.at(clock.now() + lingerMs, () => {
      relay.linger = undefined;
      if (relay.waiting === 0 && relay.air.listeners === 0) void this.#stop(relay, 'no listener left');
    });
  }

  /** The origin's session is over: its relay stops, and the listeners here get what the end of a show brings. */
  ended(channel: string, session: string): void {
    const relay = this.#relays.get(channel);
    if (relay?.origin.session === session) void this.#stop(relay, 'the show ended on its origin');
    if (this.#failures.get(channel)?.session === session) this.#failures.delete(channel);
  }

  /** Stops every relay (onair stops) and waits until their ffmpegs are gone. */
  async stop(): Promise<void> {
    await Promise.all([...this.#relays.values()].map((relay) => this.#stop(relay, 'onair stops')));
  }

  /** The relays running now. */
  get relays(): Array<{ channel: string; since: number; listeners: number; instance: InstanceRef | null }> {
    return [...this.#relays.values()].map(({ origin, since, air }) => ({ channel: origin.channel, since, listeners: air.listeners, instance: origin.instance }));
  }

  /** Bytes relays took in since onair started. */
  get bytesIn(): number {
    return [...this.#relays.values()].reduce((sum, relay) => sum + relay.bytes, this.#endedBytes);
  }

  #start(origin: Origin, air: Air): Relay {
    const failure = this.#failures.get(origin.channel);
    if (failure?.session === origin.session && failure.url === origin.url && this.#options.clock.now() < failure.until) throw this.#unavailable(origin, failure.reason);
    const { supervisor, logger, clock, node } = this.#options;
    const child = supervisor.spawn(`edge-${origin.channel}-${++relayRuns}`, 'ffmpeg', relayPullArgs(origin.url, node));
    const relay: Relay = {
      origin, air, process: child, since: clock.now(), bytes: 0, feed: undefined, ready: Promise.resolve(), waiting: 0, linger: undefined, stopReason: undefined,
    };
    this.#relays.set(origin.channel, relay);
    let error = '';
    child.child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      error = (error + text).slice(-500);
    });
    relay.ready = new Promise<void>((resolve, reject) => {
      child.child.stdout?.on('data', (chunk: Buffer) => {
        relay.bytes += chunk.length;
        relay.feed ??= air.live(origin.format);
        relay.feed.push(chunk);
        resolve();
      });
      void child.exited.then((exit) => {
        // Listeners are told why, not where: the origin's address is the directory's.
        const reason = relay.stopReason ?? (error.trim().split('\n').at(-1)?.replaceAll(origin.url, 'the origin') || `ffmpeg exited with ${exit.code ?? exit.signal}`);
        if (!relay.feed && relay.stopReason === undefined) this.#failures.set(origin.channel, { session: origin.session, url: origin.url, until: clock.now() + RETRY_AFTER_MS, reason });
        reject(this.#unavailable(origin, reason));
      });
    });
    relay.ready.catch(() => {});
    // Its input is over before the process is gone: the fallback need not wait, and a listener coming now needs a new relay.
    child.child.stdout?.on('close', () => {
      if (relay.feed) relay.stopReason ??= 'its input ended';
      air.ended(relay.feed);
    });
    logger.info({ channel: origin.channel, session: origin.session, origin: origin.node, url: origin.url }, 'relaying a channel on air on another node');
    void child.exited.then((exit) => this.#gone(relay, exit.code, error));
    return relay;
  }

  #gone(relay: Relay, code: number | null, error: string): void {
    relay.linger?.cancel();
    if (this.#relays.get(relay.origin.channel) === relay) this.#relays.delete(relay.origin.channel);
    this.#endedBytes += relay.bytes;
    const { channel, session, node } = relay.origin;
    const fields = { channel, session, origin: node, bytes: relay.bytes, exitCode: code };
    if (relay.feed || relay.stopReason !== undefined) this.#options.logger.info({ ...fields, reason: relay.stopReason ?? 'its input ended' }, 'relay over');
    else this.#options.logger.warn({ ...fields, error: error.trim() }, `the relay could not connect to its origin; not tried again for ${RETRY_AFTER_MS / 1000} s`);
  }

  #stop(relay: Relay, reason: string): Promise<unknown> {
    relay.stopReason ??= reason;
    return relay.process.stop(1000);
  }

  #unavailable(origin: Origin, reason: string): Unavailable {
    return new Unavailable(`Channel ${origin.channel} is on air on node ${origin.node}, but it could not be relayed here (${reason}): try again shortly, or listen there`);
  }
}
