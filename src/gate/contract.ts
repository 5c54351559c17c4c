/**
 * What other areas (the automation, the live scheduler) may ask of the gate, and the events it publishes. Refusals are
 * the core's domain errors: NotFound (no such channel), InvalidInput (naming the field), Conflict (a name or port
 * taken, a configured channel changed), ChannelBusy (reserved or live; waiting may help).
 */

import { APP_KEY, CHANNEL_NAME, DEFAULT_APP, STREAM_KEY, type OutputType } from '../core/config.ts';
import type { FallbackForm } from '../core/fallback.ts';
import { Text } from '../core/http/validation.ts';

export const ChannelName = Text(CHANNEL_NAME.source, '1 to 64 lowercase letters, digits, - or _, starting with a letter or digit', { description: 'Channel name' });
export const AppKey = Text(APP_KEY.source, '1 to 64 letters, digits, ., _ or -', {
  description: `The hook application that decides on its connections, sources and listeners (${DEFAULT_APP} unless named)`,
});
export const StreamKey = Text(STREAM_KEY.source, '10 to 79 printable characters without spaces (an SRT passphrase)', {
  description: 'Stream key of static mode (the SRT passphrase): 10 to 79 printable characters',
});

export type Format = 'ogg' | 'mpegts';

export interface InstanceRef {
  event: string;
  start: string;
}

export type Mode = 'reservation' | 'static';

/**
 * `reserved`: the listener waits for the source; `publishing`: on air; `disconnected` (static mode): the encoder
 * dropped and the channel listens for it again; `ended`, `failed`: over.
 */
export type SessionState = 'reserved' | 'publishing' | 'disconnected' | 'ended' | 'failed';

/**
 * A push output of a session: `waiting` until the session is on air, then `connected`, or `failed` once ffmpeg dropped
 * it (it is not retried during that run); `skipped` when the session's format cannot go there.
 */
export interface OutputState {
  type: OutputType;
  /** Without credentials. */
  url: string;
  state: 'waiting' | 'connected' | 'failed' | 'skipped';
  error: string | null;
}

export interface SessionStats {
  bytes: number;
  /** Bits per second over the time on air. */
  bitrate: number;
  /** Seconds since the source first went on air. */
  duration: number;
  codec: string | null;
  listeners: number;
  outputs: OutputState[];
}

/** A channel as anyone may see it: never its stream key. */
export interface ChannelInfo {
  name: string;
  /** UDP port of its SRT listener. */
  port: number;
  /** From ONAIR_CHANNELS: neither changed nor removed at run time. */
  configured: boolean;
  /** It has a stream key, so it can be activated (static mode). */
  static: boolean;
  /** What its listeners hear between shows: its own, or ONAIR_GATE_FALLBACK's. */
  fallback: FallbackForm;
  /** The hook application of its sessions unless a request names one. */
  appKey: string;
}

/** Where an encoder sends a static channel's stream; the key is a secret, for API-key holders only. */
export interface Ingest {
  host: string;
  port: number;
  /** srt:// URL without the key: encoders take it as their passphrase option. */
  url: string;
  streamKey: string;
}

export interface ChannelWithIngest extends ChannelInfo {
  ingest: Ingest;
}

/** A channel made at run time: a static channel (it always has a key), with no push outputs. */
export interface ChannelRequest {
  name: string;
  /** From the SRT port range; the lowest free one when omitted. */
  port?: number;
  /** SRT passphrase, 10 to 79 printable characters; 192 random bits when omitted. */
  key?: string;
  /** As in ONAIR_CHANNELS; ONAIR_GATE_FALLBACK's when omitted or null. */
  fallback?: FallbackForm | null;
  /** `defaultApp` when omitted. */
  appKey?: string;
}

/** A change to a run-time channel, refused while it is reserved or live. */
export interface ChannelChange {
  port?: number;
  key?: string;
  /** null: back to ONAIR_GATE_FALLBACK's. */
  fallback?: FallbackForm | null;
  appKey?: string;
}

export interface ReserveRequest {
  /** The instance the broadcast belongs to; or `event`, then its instance nearest to now (within an hour). */
  instance?: InstanceRef;
  event?: string;
  format?: Format;
  record?: boolean;
  metadata?: Record<string, string>;
  /** The hook application that decides; the channel's when omitted. */
  appKey?: string;
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

/** Static mode: how one activation of a channel runs, from `activate` until `deactivate` or a limit below. */
export interface ActivateRequest {
  /** The instance the session belongs to; required to record (an instance of a live event). */
  instance?: InstanceRef;
  format?: Format;
  record?: boolean;
  metadata?: Record<string, string>;
  /** No encoder this long after activation: the activation ends by itself (reason `max-wait`). Unset: no limit. */
  maxWaitMs?: number;
  /** The encoder dropped: it may come back within this, else the activation ends (`reconnect-window`). Unset: no limit. */
  reconnectWindowMs?: number;
  /** The hook application that decides; the channel's when omitted. */
  appKey?: string;
  who?: string;
}

export interface Availability {
  channel: string;
  instance: InstanceRef | null;
  checkedAt: number;
  state: 'idle' | 'reserved' | 'publishing' | 'disconnected';
  session: string | null;
  /** Since when the session is in its state. */
  since: number | null;
  /** While no source is on air: when the channel stops waiting for one (reservation, maximum wait, reconnect window). */
  expiresAt: number | null;
  stats: SessionStats | null;
}

/** Why onair itself ended a session (the reason of its `stream-ended`). */
export type StopReason = 'expired' | 'deactivated' | 'max-wait' | 'reconnect-window' | 'stopped' | 'refused' | 'terminated';

/** What every view of a stream (a session that holds or held a channel) tells of it. */
export interface StreamIdentity {
  channel: string;
  session: string;
  /** The hook application that decides on it. */
  appKey: string;
  mode: Mode;
  state: SessionState;
  instance: InstanceRef | null;
  format: Format;
  record: boolean;
  metadata: Record<string, string>;
}

export interface StreamStatus extends StreamIdentity {
  stats: SessionStats;
  /** As in Availability, ISO 8601: when the channel stops waiting for a source; null while on air or without a limit. */
  expiresAt: string | null;
  exitCode?: number | null;
  /** stream-ended: a StopReason or `source-left`; stream-failed: ffmpeg's last line or `owner-lost`; stream-reserved: the failed attempt. */
  reason?: string;
}

export interface AvailabilityChanged {
  channel: string;
  availability: { instance: InstanceRef | null; checkedAt: string };
}

export interface OutputFailed {
  channel: string;
  session: string;
  /** Its place in the channel's configured outputs. */
  index: number;
  output: OutputState;
}

/** A run-time channel was created, changed or removed (ChannelInfo carries `channel` as its name, for the per-channel streams). */
export interface ChannelChanged extends ChannelInfo {
  channel: string;
}

declare module '../core/events/bus.ts' {
  interface EventMap {
    'availability-changed': AvailabilityChanged;
    'stream-output-failed': OutputFailed;
    /** A session opened and its listener waits for the source; again after each failed attempt to connect (`reason`). */
    'stream-reserved': StreamStatus;
    /** The source is on air; in static mode again after each reconnection. */
    'stream-publishing': StreamStatus;
    /** Static mode: the encoder dropped; the channel listens for it until `expiresAt` (the reconnect window). */
    'stream-disconnected': StreamStatus;
    'stream-ended': StreamStatus;
    'stream-failed': StreamStatus;
    'channel-created': ChannelChanged;
    'channel-changed': ChannelChanged;
    'channel-removed': ChannelChanged;
  }
  interface LossyEventMap {
    /** Every second, for each session this node runs: its figures (bytes, bitrate, listeners, outputs) as they stand. */
    'session-stats': SessionFigures;
  }
}

export interface SessionFigures {
  channel: string;
  session: string;
  state: SessionState;
  stats: SessionStats;
}

/** Who asks for a channel (a reservation or an activation), as an Admission sees it before anything is opened. */
export interface ConnectRequest {
  kind: 'reserve' | 'activate';
  channel: string;
  /** The hook application that decides: the request's, else the channel's, else `defaultApp`. */
  appKey: string;
  format: Format;
  record: boolean;
  metadata: Record<string, string>;
  /** The client's address, or the area that asks. */
  who: string;
}

/** What an Admission may change in a request it lets through (a hook backend's OVERWRITE). */
export interface ConnectChange {
  record?: boolean;
  metadata?: Record<string, string>;
}

/** A source that has connected: its audio is held back from listeners, outputs and the archive until it is let through. */
export interface PublishRequest {
  channel: string;
  session: string;
  appKey: string;
  mode: Mode;
  format: Format;
  record: boolean;
  metadata: Record<string, string>;
  instance: InstanceRef | null;
}

/** A listener asking to hear a channel, over /listen or an HLS playlist. */
export interface PlayRequest {
  kind: 'listen' | 'hls';
  channel: string;
  /** The session on air, if any. */
  session: string | null;
  appKey: string;
  /** The listener's own query string, passed on (a backend may check its own tickets). */
  query: Record<string, string>;
  /** The listener's address. */
  client: string;
}

/**
 * Who may connect, publish and play: the gate asks before it acts, and a refusal (Refused, its detail the reason) stops
 * it. The hooks area provides one (REST hooks); without it everything is let through.
 */
export interface Admission {
  connect(request: ConnectRequest): Promise<ConnectChange>;
  /** Resolves to let the source through; rejects to cut it off (the session ends with reason `refused`). */
  publish(request: PublishRequest): Promise<void>;
  /** Resolves to let the listener in, with what the gate calls (only once) when it leaves; rejects for a 403 before any audio. */
  play(request: PlayRequest): Promise<() => void>;
}

/** A stream as `Gate.streams` lists it: a session that holds a channel now, on any instance. */
export interface StreamInfo extends StreamIdentity {
  /** The node that runs it. */
  node: string;
  reservedAt: number;
  publishedAt: number | null;
}

/** One channel as this node carries it now, for the directory's reports. */
export interface LocalChannelLoad {
  channel: string;
  /** A session of this node is on air on it: this node is its origin. */
  publishing: boolean;
  /** This node relays it from the node that holds its session (an edge). */
  relaying: boolean;
  /** HTTP listeners here. */
  listeners: number;
  /** When the source went on air, or the relay started (epoch ms). */
  since: number;
  instance: InstanceRef | null;
}

/** What this node carries now: the channels on air or relayed here, and bytes taken in and sent out since it started. */
export interface LocalLoad {
  channels: LocalChannelLoad[];
  bytesIn: number;
  bytesOut: number;
}

/**
 * Where an edge pulls a channel that another node has on air: the directory knows each node's URL. Without one (or
 * when it answers undefined), a listener of a channel on air elsewhere is told to listen there (404).
 */
export interface Upstreams {
  /** The URL of the channel's live stream on `node`, the node that holds its session; undefined: do not relay it here. */
  origin(channel: string, node: string): string | undefined;
}

/** The gate as other areas use it: channels, and one source at a time on each. */
export interface Gate {
  /** The first configured channel, which the bare paths (/check, /reserve) serve. */
  readonly defaultChannel: string;
  /** Every channel, configured ones first. */
  channels(): Promise<ChannelInfo[]>;
  channel(name: string): Promise<ChannelInfo>;
  /** Persisted at once (it survives restarts); its name and port are unique across every instance sharing the database. */
  createChannel(request: ChannelRequest): Promise<ChannelWithIngest>;
  changeChannel(name: string, change: ChannelChange): Promise<ChannelWithIngest>;
  removeChannel(name: string): Promise<void>;
  /** The stream key and where to send: a secret, for operators only. */
  ingest(name: string): Promise<Ingest>;
  reserve(name: string, request: ReserveRequest): Promise<Reservation>;
  /** Static mode: opens the channel to its encoder (its stream key), reconnections included, until `deactivate` or a limit. */
  activate(name: string, request?: ActivateRequest): Promise<Availability>;
  /** Ends the activation (the session on air within a second) and refuses new connections; from any instance. */
  deactivate(name: string): Promise<void>;
  availability(name: string): Promise<Availability>;
  /** Resolves once nobody holds the channel (on any instance); rejects when `signal` aborts. */
  waitUntilFree(name: string, signal?: AbortSignal): Promise<void>;
  /** Who decides on connections, sources and listeners from now on (one at a time: the hooks area). */
  admit(admission: Admission): void;
  /** Every session that holds a channel now, on every instance. */
  streams(): Promise<StreamInfo[]>;
  /**
   * Ends a session at once wherever it runs (its source cut off); `reason` as its stream-ended says. What went on air
   * stays recorded; `refused` discards a recording of a source never let through.
   */
  terminate(session: string, reason: 'refused' | 'terminated'): Promise<void>;
  /** What this node carries now (read from memory). */
  localLoad(): LocalLoad;
  /** Who tells an edge where to pull a channel on air on another node (one at a time: the directory). */
  relayFrom(upstreams: Upstreams): void;
}
