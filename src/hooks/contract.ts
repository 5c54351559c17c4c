import type { HookMethod } from '../core/hook-apps.ts';

/** StreamStatusEvent's statuses (seed 004). */
export type HookStatus = 'NEW' | 'PENDING' | 'PUBLISHING' | 'UNPUBLISHED' | 'PLAYING' | 'STOPPED' | 'FAILED';

/** seed 004's ErrorEvent: a hook event under `restOnError: FAIL` went wrong (the bus event `hook-error`, over SSE). */
export interface HookError {
  /** The hook application's name and app key. */
  app: string;
  appKey: string;
  method: HookMethod;
  /** The stream the call told of: its channel (seed 004's name, so the channel's /sse has it too) and its session. */
  channel: string;
  session: string | null;
  error: string;
}

declare module '../core/events/bus.ts' {
  interface EventMap {
    'hook-error': HookError;
  }
}

/** What `POST /rest-api/stream/find` and `/terminate` match; every field given must match. */
export interface StreamFilter {
  mediaSessionId?: string;
  name?: string;
  published?: boolean;
  status?: HookStatus;
  appKey?: string;
}

/** A stream as the REST API shows it, with seed 004's fields. */
export interface StreamView {
  nodeId: string;
  appKey: string;
  sessionId: string;
  mediaSessionId: string;
  name: string;
  published: boolean;
  hasVideo: boolean;
  hasAudio: boolean;
  status: HookStatus;
  record: boolean;
  mediaProvider: 'SRT';
  createDate: number;
  metadata: Record<string, string>;
}
