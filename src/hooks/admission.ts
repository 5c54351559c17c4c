import type { Logger } from 'pino';
import type { HookApp } from '../core/hook-apps.ts';
import type { Admission, ConnectChange, ConnectRequest, PlayRequest, PublishRequest } from '../gate/contract.ts';
import type { Body, HookCaller } from './caller.ts';
import type { StreamHooks } from './streams.ts';

/**
 * The gate's Admission by REST hooks: connect, publishStream and playStream are asked of the app the stream names
 * (its appKey); a stream whose appKey no app has is let through untold.
 */
export class HookAdmission implements Admission {
  #apps: Map<string, HookApp>;
  #caller: HookCaller;
  #streams: StreamHooks;
  #nodeId: string;
  #logger: Logger;

  constructor(options: { apps: Map<string, HookApp>; caller: HookCaller; streams: StreamHooks; nodeId: string; logger: Logger }) {
    this.#apps = options.apps;
    this.#caller = options.caller;
    this.#streams = options.streams;
    this.#nodeId = options.nodeId;
    this.#logger = options.logger;
  }

  async connect(request: ConnectRequest): Promise<ConnectChange> {
    const app = this.#apps.get(request.appKey);
    if (!app) return {};
    const { kind, channel, appKey, format, record, metadata, who } = request;
    const body = { nodeId: this.#nodeId, appKey, name: channel, kind, hasVideo: format === 'mpegts', hasAudio: true, record, metadata, client: who, mediaProvider: 'SRT' };
    return this.#change(app, await this.#caller.authorize(app, 'connect', body, JSON.stringify([channel, who])));
  }

  async publish(request: PublishRequest): Promise<void> {
    const app = this.#apps.get(request.appKey);
    if (!app) return;
    const body = this.#streams.connected(request);
    await this.#caller.authorize(app, 'publishStream', body, JSON.stringify([request.channel, request.session]));
  }

  async play(request: PlayRequest): Promise<() => void> {
    const app = this.#apps.get(request.appKey);
    if (!app) return () => {};
    const { kind, channel, appKey, session, query, client } = request;
    const body = { nodeId: this.#nodeId, appKey, name: channel, mediaSessionId: session, published: false, kind, query, client, mediaProvider: 'SRT' };
    await this.#caller.authorize(app, 'playStream', body, JSON.stringify([channel, client, query]));
    return kind === 'listen' ? this.#streams.playing(app, request) : () => {};
  }

  /** What an OVERWRITE answer may change of a reservation: `record`, and `metadata` (its tags are the gate's to judge). */
  #change(app: HookApp, taken: Body): ConnectChange {
    const change: ConnectChange = {};
    if (typeof taken.record === 'boolean') change.record = taken.record;
    if (isText(taken.metadata)) change.metadata = taken.metadata;
    const ignored = Object.keys(taken).filter((field) => !(field in change));
    if (ignored.length > 0) this.#logger.warn({ app: app.name, ignored }, 'connect\'s answer overwrites fields a reservation has not, or with values it cannot take');
    return change;
  }
}

function isText(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((text) => typeof text === 'string');
}
