/**
 * What is on air where, in memory: the streams every node reported, merged with the gate's events as they arrive, so
 * that a stream is known the moment it publishes and forgotten the moment it ends, not at the next report.
 */

import type { Clock } from '../core/clock.ts';
import type { Notifier } from '../core/db/notifier.ts';
import type { BusEvent, EventBus } from '../core/events/bus.ts';
import type { StreamStatus } from '../gate/contract.ts';
import type { Placement } from './choice.ts';
import type { DirectoryNode, NodeSnapshot } from './contract.ts';

export interface StreamOnAir {
  name: string;
  /** With its leading slash. */
  scope: string;
  /** The node that holds its session; null when only relays of it are reported. */
  origin: string | null;
  /** When its source went on air, epoch ms. */
  startTime: number;
  /** Listeners on each node that carries it. */
  carriers: ReadonlyMap<string, number>;
  currentSubscribers: number;
  /** The most listeners at once over every node, as this instance saw them, and when (epoch ms). */
  peakSubscribers: number;
  peakAt: number;
}

export interface StreamsOptions {
  snapshot: NodeSnapshot;
  bus: Pick<EventBus, 'subscribe'>;
  notifier: Notifier;
  clock: Clock;
  /** The scope of the gate's channels, without its slash. */
  scope: string;
}

/** Each node's reportedAt when a mask was set: its reports up to then are not believed, later ones are. */
type Mask = Map<string, number>;

interface Announced {
  name: string;
  node: string;
  session: string;
  startTime: number;
  /** The origin's reportedAt when last looked at, and how many of its reports came since the event. */
  reportedAt: number;
  reports: number;
}

/** A node whose reports are not believed any more: silent for too long, stopped, or gone. */
const down = (node: DirectoryNode | undefined) => node === undefined || node.state === 'FAULT' || node.state === 'STOPPED';

/** NOTIFY: DELETE /admin/event was answered on the instance named in the payload. */
const CLEAR_CHANNEL = 'onair_directory_clear';

const keyOf = (scope: string, name: string) => `${scope}/${name}`;
const masked = (mask: Mask | undefined, node: DirectoryNode) => mask?.get(node.id) === node.reportedAt;

export class StreamsOnAir {
  readonly #options: StreamsOptions;
  /** Published according to the gate's events, by key. */
  readonly #announced = new Map<string, Announced>();
  /** Ended according to the gate's events: the reports that still show them, by key. */
  readonly #ended = new Map<string, Mask>();
  #cleared: Mask = new Map();
  readonly #peaks = new Map<string, { peak: number; at: number }>();
  #entries: Map<string, StreamOnAir> | undefined;
  #unsubscribe: (() => void) | undefined;
  #rebuilding = false;

  constructor(options: StreamsOptions) {
    this.#options = options;
  }

  /** Follows the nodes' reports, the gate's events and every instance's clears. */
  start(): void {
    const { snapshot, bus, notifier } = this.#options;
    snapshot.onChange(() => this.#changed());
    this.#unsubscribe = bus.subscribe((event) => this.#heard(event));
    notifier.listen(CLEAR_CHANNEL, (origin) => {
      if (origin !== snapshot.self) this.#clearHere();
    });
  }

  stop(): void {
    this.#unsubscribe?.();
  }

  get(scope: string, name: string): StreamOnAir | undefined {
    return this.#current().get(keyOf(scope, name));
  }

  list(): StreamOnAir[] {
    return [...this.#current().values()];
  }

  /** Where the stream is, for the choice of a node. */
  placement(scope: string, name: string): Placement | undefined {
    const stream = this.get(scope, name);
    return stream && { origin: stream.origin, carriers: stream.carriers };
  }

  /** Forgets every stream on every instance (they come back with their nodes' next reports); answers how many there were here. */
  async clear(): Promise<number> {
    const count = this.#current().size;
    this.#clearHere();
    await this.#options.notifier.notify(CLEAR_CHANNEL, this.#options.snapshot.self);
    return count;
  }

  #clearHere(): void {
    this.#announced.clear();
    this.#ended.clear();
    this.#peaks.clear();
    this.#cleared = this.#reportedAt();
    this.#entries = undefined;
  }

  #reportedAt(): Mask {
    return new Map(this.#options.snapshot.nodes().map((node) => [node.id, node.reportedAt]));
  }

  #heard(event: BusEvent): void {
    if (event.type !== 'stream-publishing' && event.type !== 'stream-ended' && event.type !== 'stream-failed') return;
    const { channel, session } = event.data as StreamStatus;
    const key = keyOf(`/${this.#options.scope}`, channel);
    if (event.type === 'stream-publishing') {
      const known = this.#announced.get(key);
      const startTime = known?.session === session ? known.startTime : Date.parse(event.createdAt);
      const reportedAt = this.#options.snapshot.node(event.origin)?.reportedAt ?? 0;
      this.#announced.set(key, { name: channel, node: event.origin, session, startTime, reportedAt, reports: 0 });
      this.#ended.delete(key);
    } else {
      this.#announced.delete(key);
      this.#ended.set(key, this.#reportedAt());
    }
    this.#changed();
  }

  /**
   * Reports come one NOTIFY at a time: those of one turn of the event loop make one rebuild, after them (a read in
   * between rebuilds at once). Peaks are seen as changes come, not only when someone asks.
   */
  #changed(): void {
    this.#entries = undefined;
    if (this.#rebuilding) return;
    this.#rebuilding = true;
    setImmediate(() => {
      this.#rebuilding = false;
      this.#current();
    });
  }

  #current(): Map<string, StreamOnAir> {
    this.#entries ??= this.#build();
    return this.#entries;
  }

  #build(): Map<string, StreamOnAir> {
    const entries = new Map<string, StreamOnAir & { carriers: Map<string, number> }>();
    const entry = (key: string, scope: string, name: string) => {
      let found = entries.get(key);
      if (!found) entries.set(key, (found = { name, scope, origin: null, startTime: Infinity, carriers: new Map(), currentSubscribers: 0, peakSubscribers: 0, peakAt: 0 }));
      return found;
    };
    for (const node of this.#options.snapshot.nodes()) {
      if (masked(this.#cleared, node) || down(node)) continue;
      for (const stream of node.report.streams) {
        const key = keyOf(stream.scope, stream.name);
        if (this.#ended.size > 0 && masked(this.#ended.get(key), node)) continue;
        const found = entry(key, stream.scope, stream.name);
        found.carriers.set(node.id, stream.subscribers);
        found.currentSubscribers += stream.subscribers;
        if (stream.carriedAs === 'origin') Object.assign(found, { origin: node.id, startTime: stream.startTime });
        else if (found.origin === null) found.startTime = Math.min(found.startTime, stream.startTime);
      }
    }
    for (const [key, announced] of this.#announced) {
      if (this.#refuted(announced, entries.get(key))) {
        this.#announced.delete(key);
        continue;
      }
      const found = entry(key, `/${this.#options.scope}`, announced.name);
      Object.assign(found, { origin: announced.node, startTime: announced.startTime });
      if (!found.carriers.has(announced.node)) found.carriers.set(announced.node, 0);
    }
    for (const [key, found] of entries) this.#peak(key, found);
    this.#forgetReported();
    for (const key of this.#peaks.keys()) if (!entries.has(key)) this.#peaks.delete(key);
    return entries;
  }

  /**
   * Whether a stream known from its publishing event is over without its end having been heard (its origin killed): the
   * origin is down, or two of its reports since the event did not name it.
   */
  #refuted(announced: Announced, reported: StreamOnAir | undefined): boolean {
    const origin = this.#options.snapshot.node(announced.node);
    if (down(origin)) return true;
    if (origin!.reportedAt !== announced.reportedAt) Object.assign(announced, { reportedAt: origin!.reportedAt, reports: announced.reports + 1 });
    return announced.reports >= 2 && reported?.origin !== announced.node;
  }

  /** Drops the masks of ends every node has reported since. */
  #forgetReported(): void {
    const nodes = this.#options.snapshot.nodes();
    for (const [key, mask] of this.#ended) if (!nodes.some((node) => masked(mask, node))) this.#ended.delete(key);
  }

  #peak(key: string, stream: StreamOnAir): void {
    let peak = this.#peaks.get(key);
    if (!peak || stream.currentSubscribers > peak.peak) this.#peaks.set(key, (peak = { peak: stream.currentSubscribers, at: this.#options.clock.now() }));
    Object.assign(stream, { peakSubscribers: peak.peak, peakAt: peak.at });
  }
}
