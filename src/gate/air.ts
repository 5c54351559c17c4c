import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Fallback } from '../core/config.ts';
import type { ProcessSupervisor, Supervised } from '../core/processes.ts';
import { Broadcast, endsStream, OggPages, Relink } from './broadcast.ts';
import type { Format } from './contract.ts';
import { fallbackArgs, FORMATS } from './pipeline.ts';

/** A live source's way to the listeners, from its first byte until `Air.ended`. */
export interface Feed {
  push(chunk: Buffer): void;
}

interface Standby {
  relink: Relink;
  process: Supervised | undefined;
  stopped: boolean;
}

export interface AirOptions {
  channel: string;
  supervisor: ProcessSupervisor;
  logger: Logger;
  /** The fallback's ffmpeg input (fallbackInput). */
  input: (fallback: Fallback) => Promise<string[]>;
  /** Its last listener left (an edge's relay then lingers). */
  idle: () => void;
}

// Each run of a fallback gets a name of its own: one stopping may still be in the supervisor as the next starts.
let fallbackRuns = 0;

/**
 * What a channel's HTTP listeners hear; it outlives sessions. A live source is heard from its first page; between
 * sessions the channel's fallback (Ogg/Opus, produced by an ffmpeg of its own), so that listeners stay connected. The
 * fallback runs while Ogg listeners are there, on standby during a live session, so that it takes over again the moment
 * the source ends, as a new link of the chained Ogg stream (Relink). Without a fallback, or after an MPEG-TS session,
 * listeners are let go when the source ends, as they were before there was a fallback.
 */
export class Air {
  readonly #options: AirOptions;
  #fallback: Fallback;
  #broadcast: Broadcast | undefined;
  #live: Feed | undefined;
  #standby: Standby | undefined;
  #closed = false;

  constructor(options: AirOptions, fallback: Fallback) {
    this.#options = options;
    this.#fallback = fallback;
  }

  /**
   * The channel's fallback as it is now (a run-time channel's may change). A different one replaces the one running at
   * once, as a new link (listeners hearing it hear the new one; during a show, the standby is the new one); changed to
   * none, listeners hearing the fallback are let go, as at the end of a show without one.
   */
  set fallback(fallback: Fallback) {
    const changed = JSON.stringify(fallback) !== JSON.stringify(this.#fallback);
    this.#fallback = fallback;
    if (!changed || !this.#standby) return;
    this.#stopStandby();
    if (this.#hasFallback) this.#standBy(!this.#live);
    else if (!this.#live) this.#replaceBroadcast(undefined);
  }

  get listeners(): number {
    return this.#broadcast?.listeners ?? 0;
  }

  /**
   * How a listener joins: the live source, or the fallback, or a session still waiting for its source (`waiting`: its
   * format); undefined when there is nothing to hear.
   */
  join(waiting: Format | undefined): ((res: ServerResponse) => void) | undefined {
    if (this.#closed) return undefined;
    if (!this.#broadcast) {
      if (this.#hasFallback) this.#broadcast = this.#newBroadcast('ogg');
      else if (waiting) this.#broadcast = this.#newBroadcast(waiting);
      else return undefined;
    }
    const broadcast = this.#broadcast;
    return (res) => {
      broadcast.add(res);
      if (broadcast === this.#broadcast && broadcast.ogg && this.#hasFallback) this.#standBy(this.#live === undefined);
    };
  }

  /** A live source sends its first bytes: it takes over from the fallback at its first page. */
  live(format: Format): Feed {
    if (this.#broadcast?.contentType !== FORMATS[format].contentType) this.#replaceBroadcast(this.#newBroadcast(format));
    this.#standby?.relink.stop();
    const broadcast = this.#broadcast!;
    const pages = broadcast.ogg ? new OggPages() : undefined;
    const feed: Feed = {
      push: (chunk) => {
        if (this.#live !== feed) return;
        if (!pages) return broadcast.write(chunk);
        for (const page of pages.push(chunk)) {
          broadcast.write(page);
          // The source's last page: the fallback need not wait for the relay to exit.
          if (endsStream(page)) this.ended(feed);
        }
      },
    };
    this.#live = feed;
    return feed;
  }

  /** A run of the relay is over (`feed`: what it sent, if it went on air): the fallback takes over, or listeners go. */
  ended(feed: Feed | undefined): void {
    if (feed !== this.#live) return;
    this.#live = undefined;
    if (this.listeners > 0 && this.#broadcast?.ogg && this.#hasFallback && !this.#closed) this.#standBy(true);
    else if (this.#broadcast) this.#replaceBroadcast(undefined);
  }

  /** Lets every listener go and stops the fallback for good (onair stops, the channel is removed). */
  close(): void {
    this.#closed = true;
    this.#replaceBroadcast(undefined);
  }

  get #hasFallback(): boolean {
    return this.#fallback.type !== 'none';
  }

  #newBroadcast(format: Format): Broadcast {
    const broadcast: Broadcast = new Broadcast(FORMATS[format].contentType, format === 'ogg', () => this.#idle(broadcast));
    return broadcast;
  }

  /** The last listener left: the fallback is not needed; without a live source, neither is the broadcast. */
  #idle(broadcast: Broadcast): void {
    if (broadcast !== this.#broadcast) return;
    this.#stopStandby();
    if (!this.#live) this.#broadcast = undefined;
    this.#options.idle();
  }

  #replaceBroadcast(next: Broadcast | undefined): void {
    this.#stopStandby();
    this.#broadcast?.end();
    this.#broadcast = next;
  }

  /** Makes sure the fallback runs; `onAir`: and that listeners hear it, from now on. */
  #standBy(onAir: boolean): void {
    const standby = this.#standby ?? this.#startStandby();
    if (!onAir) return;
    for (const page of standby.relink.start()) this.#broadcast?.write(page);
  }

  #startStandby(): Standby {
    const { channel, supervisor, logger, input } = this.#options;
    const standby: Standby = { relink: new Relink(), process: undefined, stopped: false };
    this.#standby = standby;
    void input(this.#fallback).then((args) => {
      if (standby.stopped) return;
      const child = supervisor.spawn(`fallback-${channel}-${++fallbackRuns}`, 'ffmpeg', fallbackArgs(args));
      standby.process = child;
      const pages = new OggPages();
      child.child.stdout?.on('data', (chunk: Buffer) => {
        // Stopped, it may still flush its last pages (and EOS) on the way out: they belong to no one now.
        if (standby.stopped) return;
        for (const page of pages.push(chunk)) {
          const out = standby.relink.page(page);
          if (out) this.#broadcast?.write(out);
        }
      });
      let error = '';
      child.child.stderr?.setEncoding('utf8').on('data', (text: string) => {
        error = (error + text).slice(-500);
      });
      void child.exited.then((exit) => {
        if (standby.stopped) return;
        // It ended by itself (a broken file): listeners are let go rather than kept on nothing.
        logger.warn({ channel, exitCode: exit.code, error: error.trim() }, 'the fallback stopped');
        if (this.#standby === standby) this.#standby = undefined;
        if (!this.#live && this.#broadcast) this.#replaceBroadcast(undefined);
      });
    }).catch((err: unknown) => logger.error({ err, channel }, 'could not start the fallback'));
    return standby;
  }

  #stopStandby(): void {
    const standby = this.#standby;
    if (!standby) return;
    this.#standby = undefined;
    standby.stopped = true;
    void standby.process?.stop(500);
  }
}
