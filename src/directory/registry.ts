import { availableParallelism, loadavg } from 'node:os';
import type { Logger } from 'pino';
import type { Alarm, Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { Notifier } from '../core/db/notifier.ts';
import { Conflict, NotFound } from '../core/errors.ts';
import type { EventBus } from '../core/events/bus.ts';
import type { NodeIdentity } from '../core/node.ts';
import type { Gate } from '../gate/contract.ts';
import type { DirectoryNode, NodeAdmin, NodeChanged, NodeReport, NodeSnapshot, NodeState, NodeStream } from './contract.ts';
import { EMPTY_REPORT, type NodeAnnounce, type NodePatch, type NodeStore } from './store.ts';
import { streamsOf } from './streams-of.ts';

/** Called after each report of this node (the audience of programme instances counts its listeners). */
export type ReportHook = (node: { id: string; region: string }, streams: NodeStream[], intervalMs: number, at: number) => void | Promise<void>;

export interface RegistryDeps {
  store: NodeStore;
  bus: EventBus;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  node: NodeIdentity;
  settings: Config['directory'];
  gate: Pick<Gate, 'localLoad' | 'channels'>;
  onReport?: ReportHook;
}

/** NOTIFY: a node of the registry changed (payload: its id); every instance reads its row again. */
const CHANNEL = 'onair_directory';
/** The states a node that stops reporting leaves for FAULT. */
const LIVE: readonly NodeState[] = ['STARTED', 'INSERVICE', 'SOFT_SUNSET'];
/** The states a node that reports again leaves for service. */
const SILENT: readonly NodeState[] = ['STARTED', 'FAULT', 'STOPPED'];

const sum = (streams: NodeStream[], count: 'publishers' | 'subscribers') => streams.reduce((total, stream) => total + stream[count], 0);
const serving = (node: DirectoryNode): NodeState => (node.drained ? 'SOFT_SUNSET' : 'INSERVICE');

/**
 * This node in the registry (registered at start, a report every interval, STOPPED at a graceful stop), FAULT for
 * nodes that went silent, the admin's compare-and-set changes, and a snapshot of every node in memory that each
 * change, here or on another instance, refreshes.
 */
export class NodeRegistry implements NodeSnapshot, NodeAdmin {
  readonly self: string;
  readonly #deps: RegistryDeps;
  #byId = new Map<string, DirectoryNode>();
  #list: readonly DirectoryNode[] = [];
  /** When the first node that counts as live goes overdue: until then the list needs no second look. */
  #faultDue = Infinity;
  #listeners: Array<() => void> = [];
  #running = false;
  #url = '';
  #alarm: Alarm | undefined;
  #ticking: Promise<void> | undefined;
  #reading: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;
  /** What the next read reads: the nodes named since the last one began, or all. */
  #wanted: Set<string> | 'all' | undefined;

  constructor(deps: RegistryDeps) {
    this.#deps = deps;
    this.self = deps.node.id;
    deps.notifier.listen(CHANNEL, (id) => {
      if (this.#running) void this.#reload(id);
    });
  }

  /** Registers this node (STARTED), reports once (INSERVICE, or SOFT_SUNSET when drained), then every interval. */
  async start(listenUrl: string): Promise<void> {
    this.#running = true;
    this.#url = this.#deps.settings.url ?? listenUrl;
    await this.#register(this.#deps.clock.now(), EMPTY_REPORT);
    await this.#tick(this.#deps.clock.now());
  }

  /** Reports no more and leaves the registry STOPPED. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#alarm?.cancel();
    await this.#ticking;
    try {
      await this.#deps.store.change(this.self, () => ({ state: 'STOPPED', stateChangedAt: this.#deps.clock.now() }), this.#announce);
      await this.#tell([this.self]);
    } catch (err) {
      this.#deps.logger.warn({ err }, 'could not mark this node STOPPED in the directory; it turns FAULT once it is overdue');
    }
  }

  nodes(): readonly DirectoryNode[] {
    const now = this.#deps.clock.now();
    return now <= this.#faultDue ? this.#list : this.#list.map((node) => this.#view(node, now));
  }

  node(id: string): DirectoryNode | undefined {
    const node = this.#byId.get(id);
    return node && this.#view(node, this.#deps.clock.now());
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  drain(id: string): Promise<DirectoryNode> {
    return this.#admin(id, (node) => {
      if (node.state !== 'INSERVICE' && node.state !== 'STARTED') throw new Conflict(`Node ${id} is ${node.state}: only a node INSERVICE or STARTED can be drained`);
      return { state: 'SOFT_SUNSET', drained: true, stateChangedAt: this.#deps.clock.now() };
    });
  }

  resume(id: string): Promise<DirectoryNode> {
    return this.#admin(id, (node) => {
      if (node.state !== 'SOFT_SUNSET') throw new Conflict(`Node ${id} is ${node.state}: only a node in SOFT_SUNSET (drained) can be resumed`);
      return { state: 'INSERVICE', drained: false, stateChangedAt: this.#deps.clock.now() };
    });
  }

  async remove(id: string, force: boolean): Promise<void> {
    const removed = await this.#deps.store.remove(id, (node) => {
      const { state } = this.#view(node, this.#deps.clock.now());
      if (!force && state !== 'FAULT' && state !== 'STOPPED') {
        throw new Conflict(`Node ${id} is ${state}: only a node in FAULT or STOPPED can be removed, unless forced`);
      }
    }, this.#announce);
    if (!removed) throw new NotFound(`There is no node ${id}`);
    await this.#tell([id]);
  }

  /** A node as lookups see it: one that is overdue counts as FAULT before any sweep writes it. */
  #view(node: DirectoryNode, now: number): DirectoryNode {
    const due = node.reportedAt + this.#deps.settings.faultAfterMs;
    return LIVE.includes(node.state) && due < now ? { ...node, state: 'FAULT', stateChangedAt: due } : node;
  }

  async #admin(id: string, decide: (node: DirectoryNode) => NodePatch): Promise<DirectoryNode> {
    const node = await this.#deps.store.change(id, decide, this.#announce);
    if (!node) throw new NotFound(`There is no node ${id}`);
    await this.#tell([id]);
    return this.node(id) ?? node;
  }

  /** Every state change records node-changed, in the transaction that makes it. */
  readonly #announce: NodeAnnounce = async (trx, changes) => {
    const at = this.#deps.clock.now();
    const events: NodeChanged[] = changes.filter(({ before, after }) => before?.state !== after?.state).map(({ before, after }) => ({
      node: (after ?? before)!.id, region: (after ?? before)!.region, previous: before?.state ?? null, state: after?.state ?? null, at,
    }));
    await this.#deps.bus.record(trx, 'node-changed', events);
  };

  async #register(at: number, report: NodeReport): Promise<void> {
    const { node, settings } = this.#deps;
    await this.#deps.store.register({
      id: node.id, address: settings.address, url: this.#url, region: node.region, geozone: settings.geozone ?? null, roles: [...node.roles],
      capacity: settings.capacity, state: 'STARTED', drained: false, startedAt: at, reportedAt: at, stateChangedAt: at, report,
    }, this.#announce);
  }

  /** Writes this node's report (a silent node is back in service), puts overdue nodes in FAULT, and reads the registry again. */
  async #tick(at: number): Promise<void> {
    const { settings, store, gate } = this.#deps;
    const ports = Object.fromEntries((await gate.channels()).map((channel) => [channel.name, channel.port]));
    const load = gate.localLoad();
    const streams = streamsOf(load, settings.scope);
    const report: NodeReport = {
      streams, publishers: sum(streams, 'publishers'), subscribers: sum(streams, 'subscribers'),
      cpuLoad: loadavg()[0]! / availableParallelism(), bytesIn: load.bytesIn, bytesOut: load.bytesOut, ports,
    };
    const reported = (node: DirectoryNode): NodePatch => ({ report, reportedAt: at, ...(SILENT.includes(node.state) && { state: serving(node), stateChangedAt: at }) });
    // Removed (forced) while it runs: a node that reports is there, so it registers again.
    if (!await store.change(this.self, reported, this.#announce)) {
      await this.#register(at, report);
      await store.change(this.self, reported, this.#announce);
    }
    // No state change, no durable event: a lossy one tells the dashboards that the load moved.
    this.#deps.bus.publish('node-reported', {
      node: this.self, region: this.#deps.node.region, publishers: report.publishers, subscribers: report.subscribers, streams: streams.length, at,
    });
    const faulted = await store.sweep(at - settings.faultAfterMs, LIVE, at, this.#announce);
    await this.#notify([this.self, ...faulted.map((node) => node.id)]);
    // Every node, each interval: makes up for a NOTIFY lost while the LISTEN connection was down.
    await this.#reload();
    try {
      await this.#deps.onReport?.({ id: this.self, region: this.#deps.node.region }, streams, settings.reportIntervalMs, at);
    } catch (err) {
      this.#deps.logger.warn({ err }, 'the report hook failed on this report');
    }
    // A tick that ran late is not made up for: the next one is an interval on, or now.
    this.#schedule(Math.max(at + settings.reportIntervalMs, this.#deps.clock.now()));
  }

  #schedule(at: number): void {
    if (!this.#running) return;
    this.#alarm = this.#deps.clock.at(at, () => {
      const now = this.#deps.clock.now();
      this.#ticking = this.#tick(now).catch((err: unknown) => {
        this.#deps.logger.warn({ err }, 'could not report this node to the directory; trying again at the next interval');
        this.#schedule(now + this.#deps.settings.reportIntervalMs);
      });
    });
  }

  /** Tells every instance which nodes changed, and reads them again here. */
  async #tell(ids: string[]): Promise<void> {
    await this.#notify(ids);
    await Promise.all(ids.map((id) => this.#reload(id)));
  }

  async #notify(ids: string[]): Promise<void> {
    for (const id of ids) {
      await this.#deps.notifier.notify(CHANNEL, id).catch((err: unknown) =>
        this.#deps.logger.warn({ err }, 'could not tell the other instances of a directory change; they read it at their next report'));
    }
  }

  /**
   * Reads the node named (every node without one), together with those named while the read waits to begin; a read
   * begins after the last one ended, so the snapshot ends as the database last was.
   */
  #reload(id?: string): Promise<void> {
    const wanted = this.#wanted;
    this.#wanted = id === undefined || wanted === 'all' ? 'all' : new Set([...(wanted ?? []), id]);
    this.#queued ??= this.#reading.then(() => {
      this.#queued = undefined;
      const wanted = this.#wanted!;
      this.#wanted = undefined;
      this.#reading = this.#read(wanted);
      return this.#reading;
    });
    return this.#queued;
  }

  async #read(wanted: Set<string> | 'all'): Promise<void> {
    let nodes: DirectoryNode[];
    try {
      nodes = wanted === 'all' ? await this.#deps.store.all() : await this.#deps.store.some([...wanted]);
    } catch (err) {
      this.#deps.logger.warn({ err }, 'could not read the directory; the snapshot stays as it was until the next report');
      return;
    }
    if (wanted === 'all') this.#byId = new Map();
    else for (const id of wanted) this.#byId.delete(id);
    for (const node of nodes) this.#byId.set(node.id, node);
    this.#list = [...this.#byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const { faultAfterMs } = this.#deps.settings;
    this.#faultDue = Math.min(...this.#list.filter((node) => LIVE.includes(node.state)).map((node) => node.reportedAt + faultAfterMs));
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (err) {
        this.#deps.logger.error({ err }, 'a directory listener failed');
      }
    }
  }
}
