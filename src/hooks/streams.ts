import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Alarm, Clock } from '../core/clock.ts';
import { NotFound } from '../core/errors.ts';
import type { BusEvent, EventBus } from '../core/events/bus.ts';
import type { HookApp } from '../core/hook-apps.ts';
import type { Gate, PlayRequest, PublishRequest, StreamStatus } from '../gate/contract.ts';
import type { Body, HookCaller } from './caller.ts';
import type { HookStatus } from './contract.ts';
import { Lanes } from './lanes.ts';


/** A source's stream on this node, from its reservation or activation until it ends. */
interface Stream {
  session: string;
  channel: string;
  appKey: string;
  format: string;
  record: boolean;
  metadata: Record<string, string>;
  bitrate: number;
  createDate: number;
  /** The source has connected and not left yet. */
  connected: boolean;
  /** On air: keep-alives go on. */
  live: boolean;
  keepAlive: Alarm | undefined;
}

export interface StreamHooksOptions {
  apps: Map<string, HookApp>;
  caller: HookCaller;
  gate: Gate;
  clock: Clock;
  nodeId: string;
  keepAliveMs: number;
  logger: Logger;
}

/**
 * The event methods: StreamStatusEvent and ConnectionStatusEvent for the gate's streams (heard on the bus, for those
 * running on this node) and listeners (told by the admission), and StreamKeepAliveEvent while a stream is live.
 */
export class StreamHooks {
  #options: StreamHooksOptions;
  #streams = new Map<string, Stream>();
  #lanes: Lanes;

  constructor(options: StreamHooksOptions) {
    this.#options = options;
    this.#lanes = new Lanes(options.logger);
  }

  /** Follows the gate's stream events from now on; answers how to stop. */
  follow(bus: EventBus): () => void {
    return bus.subscribe((event) => {
      if (event.origin === this.#options.nodeId && event.type.startsWith('stream-')) this.#heard(event);
    });
  }

  /** A source has connected (the admission is asked to let it publish): PENDING; answers the stream's body. */
  connected(request: PublishRequest): Body {
    const stream = this.#track(request.session, request, this.#options.clock.now(), undefined);
    Object.assign(stream, { connected: true, record: request.record, metadata: request.metadata });
    this.#connection(stream.session, this.#source(stream), 'ESTABLISHED');
    this.#status(stream, 'PENDING', '', undefined);
    return this.#body(stream, 'PENDING', '');
  }

  /** A listener of /listen is let in: PLAYING now, STOPPED when the answer's function is called. */
  playing(app: HookApp, request: PlayRequest): () => void {
    const id = randomUUID();
    const createDate = this.#options.clock.now();
    const body = (status: HookStatus): Body => ({
      ...this.#common(app.appKey, id), name: request.channel, published: false, hasVideo: false, hasAudio: true, status, info: '',
      record: false, width: 0, height: 0, bitrate: 0, quality: 0, mediaProvider: 'SRT', createDate, client: request.client,
    });
    const tell = (status: HookStatus) => void this.#lanes.run(id, () => this.#options.caller.notify(app, 'StreamStatusEvent', body(status), null));
    this.#connection(id, body('PLAYING'), 'ESTABLISHED');
    tell('PLAYING');
    return () => {
      tell('STOPPED');
      this.#connection(id, body('STOPPED'), 'DISCONNECTED');
    };
  }

  /** Resolves once every hook call queued so far is done. */
  idle(): Promise<void> {
    return this.#lanes.idle();
  }

  /** Ends the keep-alives; resolves once the calls queued are done (the caller gives them up first). */
  async stop(): Promise<void> {
    for (const stream of this.#streams.values()) {
      stream.live = false;
      stream.keepAlive?.cancel();
    }
    this.#streams.clear();
    await this.#lanes.idle();
  }

  #heard(event: BusEvent): void {
    const status = event.data as StreamStatus;
    const known = this.#streams.get(status.session);
    const stream = known ?? this.#track(status.session, status, Date.parse(event.createdAt), event.type === 'stream-reserved' ? event.id : undefined);
    stream.bitrate = status.stats?.bitrate ?? stream.bitrate;
    switch (event.type) {
      case 'stream-publishing':
        this.#status(stream, 'PUBLISHING', '', event.id);
        stream.live = true;
        this.#armKeepAlive(stream);
        break;
      case 'stream-disconnected':
        this.#left(stream, 'UNPUBLISHED', 'the source left', event.id);
        break;
      case 'stream-ended':
        this.#left(stream, status.reason === 'source-left' ? 'UNPUBLISHED' : 'STOPPED', status.reason ?? '', event.id);
        this.#streams.delete(stream.session);
        break;
      case 'stream-failed':
        this.#left(stream, 'FAILED', status.reason ?? '', event.id);
        this.#streams.delete(stream.session);
        break;
    }
  }

  /**
   * The stream of `session`, NEW to its backend when first heard of, whoever tells first (its reservation's event, or its
   * source connecting before that event is heard); `reservedEvent`: the event that told.
   */
  #track(session: string, from: { channel: string; appKey: string; format: string; record: boolean; metadata: Record<string, string> }, createDate: number, reservedEvent: number | undefined): Stream {
    let stream = this.#streams.get(session);
    if (!stream) {
      stream = {
        session, channel: from.channel, appKey: from.appKey, format: from.format, record: from.record, metadata: from.metadata,
        bitrate: 0, createDate, connected: false, live: false, keepAlive: undefined,
      };
      this.#streams.set(session, stream);
      this.#status(stream, 'NEW', '', reservedEvent);
    }
    return stream;
  }

  #left(stream: Stream, status: HookStatus, info: string, eventId: number | undefined): void {
    stream.live = false;
    stream.keepAlive?.cancel();
    this.#status(stream, status, info, eventId);
    if (stream.connected) this.#connection(stream.session, this.#source(stream), 'DISCONNECTED');
    stream.connected = false;
  }

  #status(stream: Stream, status: HookStatus, info: string, eventId: number | undefined): void {
    void this.#lanes.run(stream.session, async () => {
      const app = this.#options.apps.get(stream.appKey);
      if (app) await this.#options.caller.notify(app, 'StreamStatusEvent', this.#body(stream, status, info), eventId ?? null);
    });
  }

  #connection(lane: string, about: Body, status: 'ESTABLISHED' | 'DISCONNECTED'): void {
    void this.#lanes.run(lane, async () => {
      const app = this.#options.apps.get(about.appKey as string);
      const { nodeId, appKey, sessionId, name, published, client } = about;
      if (app) await this.#options.caller.notify(app, 'ConnectionStatusEvent', { nodeId, appKey, sessionId, name, published, client, status, info: '' }, null);
    });
  }

  #armKeepAlive(stream: Stream): void {
    stream.keepAlive?.cancel();
    const { clock, keepAliveMs } = this.#options;
    stream.keepAlive = clock.at(clock.now() + keepAliveMs, () => {
      void this.#lanes.run(stream.session, () => this.#keepAlive(stream));
    });
  }

  /** A 403 to a keep-alive ends the stream; any other answer keeps it going. */
  async #keepAlive(stream: Stream): Promise<void> {
    const app = this.#options.apps.get(stream.appKey);
    if (!app || !stream.live) return;
    const status = await this.#options.caller.notify(app, 'StreamKeepAliveEvent', this.#body(stream, 'PUBLISHING', ''), null);
    if (status !== 403) {
      if (stream.live) this.#armKeepAlive(stream);
      return;
    }
    const about = { channel: stream.channel, session: stream.session, app: app.name };
    this.#options.logger.info(about, 'the hook backend ended the stream (keep-alive answered 403)');
    try {
      await this.#options.gate.terminate(stream.session, 'refused');
    } catch (error) {
      // The stream ended meanwhile: nothing left to end.
      if (!(error instanceof NotFound)) throw error;
      this.#options.logger.debug(about, 'the stream had ended already');
    }
  }

  #source(stream: Stream): Body {
    return { ...this.#common(stream.appKey, stream.session), name: stream.channel, published: true };
  }

  #common(appKey: string, session: string): Body {
    return { nodeId: this.#options.nodeId, appKey, sessionId: session, mediaSessionId: session };
  }

  /** StreamStatusEvent's body, with seed 004's fields where they apply. */
  #body(stream: Stream, status: HookStatus, info: string): Body {
    return {
      ...this.#common(stream.appKey, stream.session), name: stream.channel, published: true,
      hasVideo: stream.format === 'mpegts', hasAudio: true, status, info, record: stream.record, width: 0, height: 0,
      bitrate: stream.bitrate, quality: 0, mediaProvider: 'SRT', createDate: stream.createDate, metadata: stream.metadata,
    };
  }
}
