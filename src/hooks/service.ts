import { InvalidInput, NotFound } from '../core/errors.ts';
import type { HookApp } from '../core/hook-apps.ts';
import type { Gate, StreamInfo } from '../gate/contract.ts';
import type { HookStatus, StreamFilter, StreamView } from './contract.ts';

const STATUS: Record<StreamInfo['state'], HookStatus> = {
  reserved: 'NEW', publishing: 'PUBLISHING', disconnected: 'UNPUBLISHED', ended: 'STOPPED', failed: 'FAILED',
};

/** An app as an operator may see it: its URL without user, password or query (where a backend's secret would be). */
export function appView(app: HookApp) {
  const url = new URL(app.url);
  return {
    name: app.name, appKey: app.appKey, url: `${url.origin}${url.pathname}`, methods: app.methods, timeoutMs: app.timeoutMs,
    restClientConfig: app.restClientConfig,
  };
}

function streamView(stream: StreamInfo): StreamView {
  return {
    nodeId: stream.node, appKey: stream.appKey, sessionId: stream.session, mediaSessionId: stream.session, name: stream.channel,
    published: true, hasVideo: stream.format === 'mpegts', hasAudio: true, status: STATUS[stream.state], record: stream.record,
    mediaProvider: 'SRT', createDate: stream.reservedAt, metadata: stream.metadata,
  };
}

/** seed 004's REST API on streams: find them, and cut them off, on any instance. */
export class StreamApi {
  #gate: Gate;

  constructor(gate: Gate) {
    this.#gate = gate;
  }

  /** The streams matching every field of the filter; NotFound when none does. */
  async find(filter: StreamFilter): Promise<StreamView[]> {
    const found = (await this.#gate.streams()).map(streamView)
      .filter((stream) => Object.entries(filter).every(([field, value]) => stream[field as keyof StreamFilter] === value));
    if (found.length === 0) throw new NotFound('No stream matches the filter');
    return found;
  }

  /** Ends the matching streams wherever they run; answers them. An empty filter would end every stream: refused. */
  async terminate(filter: StreamFilter): Promise<StreamView[]> {
    if (Object.keys(filter).length === 0) throw new InvalidInput('body', 'name at least one of mediaSessionId, name, published, status or appKey');
    const found = await this.find(filter);
    const ends = await Promise.allSettled(found.map((stream) => this.#gate.terminate(stream.mediaSessionId, 'terminated')));
    // One that ended meanwhile is ended all the same; any other failure is answered once every stream was asked.
    const failed = ends.find((end) => end.status === 'rejected' && !(end.reason instanceof NotFound));
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return found;
  }
}
