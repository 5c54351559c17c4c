/**
 * The directory (seed 003): every running onair instance is a node of a shared registry; lookups choose the node a
 * broadcaster publishes to and a subscriber plays from, by region, from a snapshot in memory. Other areas use only
 * what is here.
 */

import type { NodeRole } from '../core/config.ts';
import type { InstanceRef } from '../gate/contract.ts';

/**
 * In the stream manager's words: `STARTED` (registered, not yet serving), `INSERVICE`, `SOFT_SUNSET` (draining: no new
 * clients, those there stay), `FAULT` (no report for ONAIR_NODE_FAULT_AFTER; back when reports resume), `STOPPED`.
 */
export type NodeState = 'STARTED' | 'INSERVICE' | 'SOFT_SUNSET' | 'FAULT' | 'STOPPED';
export const NODE_STATES: readonly NodeState[] = ['STARTED', 'INSERVICE', 'SOFT_SUNSET', 'FAULT', 'STOPPED'];

/** A stream as one node carries it at its last report. */
export interface NodeStream {
  /** The stream manager's name of the stream: the gate channel's name. */
  name: string;
  /** Its scope, with its leading slash (`/live`). */
  scope: string;
  /** `origin`: the node holds its session (the source publishes there); `edge`: the node relays it from its origin. */
  carriedAs: 'origin' | 'edge';
  publishers: number;
  /** Listeners on this node. */
  subscribers: number;
  /** When the source went on air (origin) or the relay started (edge), epoch ms. */
  startTime: number;
  /** The programme instance on air, if the session names one. */
  instance: InstanceRef | null;
}

/** What a node says of itself every ONAIR_NODE_REPORT_INTERVAL. */
export interface NodeReport {
  streams: NodeStream[];
  publishers: number;
  subscribers: number;
  /** The one-minute load average over the machine's cores (os.loadavg()[0] / cores). */
  cpuLoad: number;
  /** Bytes of sources and relays taken in, and bytes sent to listeners, since the node started. */
  bytesIn: number;
  bytesOut: number;
  /** The SRT port of each channel this node serves (channels of its own configuration may differ between nodes). */
  ports: Record<string, number>;
}

export interface DirectoryNode {
  id: string;
  /** ONAIR_NODE_ADDRESS: handed to clients as `serverAddress`. */
  address: string;
  /** The base URL of its HTTP API (ONAIR_NODE_URL): where an edge pulls a stream from it. */
  url: string;
  region: string;
  geozone: string | null;
  roles: NodeRole[];
  /** Listeners it takes at most (ONAIR_NODE_CAPACITY). */
  capacity: number;
  state: NodeState;
  /** Set by drain, cleared by resume: a node back from FAULT returns to SOFT_SUNSET rather than INSERVICE. */
  drained: boolean;
  startedAt: number;
  reportedAt: number;
  stateChangedAt: number;
  report: NodeReport;
}

/** A node's state changed (registered, drained, resumed, faulted, back, stopped, removed: `state` null). */
export interface NodeChanged {
  node: string;
  region: string;
  previous: NodeState | null;
  state: NodeState | null;
  at: number;
}

/** A node reported (every ONAIR_NODE_REPORT_INTERVAL): its load as it stands; read the node for its streams. */
export interface NodeReported {
  node: string;
  region: string;
  publishers: number;
  subscribers: number;
  streams: number;
  at: number;
}

declare module '../core/events/bus.ts' {
  interface EventMap {
    'node-changed': NodeChanged;
  }
  interface LossyEventMap {
    'node-reported': NodeReported;
  }
}

/** The registry as this instance knows it: a snapshot in memory, kept current by every change, read without waiting. */
export interface NodeSnapshot {
  /** This instance's node id. */
  readonly self: string;
  nodes(): readonly DirectoryNode[];
  node(id: string): DirectoryNode | undefined;
  /** Called after each change to the snapshot (a report, a state change), on every instance. */
  onChange(listener: () => void): void;
}

/** Admin of the nodes: compare-and-set on the state, from any instance. */
export interface NodeAdmin {
  /** INSERVICE (or STARTED) → SOFT_SUNSET; Conflict when the node is in another state, NotFound when unknown. */
  drain(id: string): Promise<DirectoryNode>;
  /** SOFT_SUNSET → INSERVICE; Conflict otherwise. */
  resume(id: string): Promise<DirectoryNode>;
  /** Removes a node in FAULT or STOPPED, or in any state with `force`; Conflict otherwise. */
  remove(id: string, force: boolean): Promise<void>;
}

/** A programme instance's audience over every node, kept after the stream ends. */
export interface InstanceAudience {
  event: string;
  start: string;
  /** Highest number of listeners at once (over every node, per minute). */
  peakListeners: number;
  /** When it was reached, epoch ms (the start of its minute). */
  peakAt: number;
  /** Listener-minutes divided by the minutes anyone was counted. */
  averageListeners: number;
  listenerMinutes: number;
  /** Listener-minutes per region. */
  regions: Record<string, number>;
  firstHeardAt: number;
  lastHeardAt: number;
}
