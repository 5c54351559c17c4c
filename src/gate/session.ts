import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { ChannelConfig } from '../core/config.ts';
import type { Exit, ProcessSupervisor, Supervised } from '../core/processes.ts';
import type { Air, Feed } from './air.ts';
import type { Format, InstanceRef, Mode, OutputState, SessionState, SessionStats } from './contract.ts';
import { failedSlave, publicUrl, pushSlaves, pusherArgs, redactor, relayArgs, skippedOutputs, teeSlaves, type RelayPlan, type Slave } from './pipeline.ts';

/** A run of the relay that ended before its source was on air: a refused or broken connection. */
export interface Attempt {
  at: number;
  /** ffmpeg's last line, passphrase removed. */
  error: string;
}

export interface RunEnd {
  exit: Exit;
  /** Its source went on air (a source still held back for its admission did not). */
  published: boolean;
  /** Last lines ffmpeg wrote, passphrase removed. */
  diagnostics: string;
}

/** How much of a source a session keeps in memory at most, in bytes. */
export interface HoldLimits {
  /** What its source sends while its admission decides: past it, the source is cut off (a failed attempt). */
  heldBytes: number;
  /** What its pusher (see Run) has not taken yet: past it, the pusher is dropped and its outputs fail. */
  pusherBehindBytes: number;
}

/** heldBytes: twice what a 2 Mb/s source (MPEG-TS with video) sends in 60 s, the longest a hook may take. */
export const HOLD_LIMITS: HoldLimits = { heldBytes: 32 * 1024 * 1024, pusherBehindBytes: 8 * 1024 * 1024 };

/** The push outputs' own ffmpeg when the relay leaves them to onair (`RelayPlan.held`), fed the relay's output. */
interface Pusher {
  input: Writable;
  process: Supervised;
  /** Indexes in `outputs`. */
  outputs: number[];
}

/** One run of the relay: where its audio goes; `held` (and `heldBytes` of it) while its source waits for admission. */
interface Run {
  feed: Feed | undefined;
  held: Buffer[] | undefined;
  heldBytes: number;
  over: boolean;
  pusher: Pusher | undefined;
  /** Starts that pusher; undefined when the relay feeds the push outputs itself, or there are none. */
  startPusher: (() => Pusher) | undefined;
  onOutputFailed: (index: number) => void;
}

// Each pusher gets a name of its own: one finishing may still be in the supervisor as the next starts.
let pushers = 0;

const TAIL_LINES = 8;
const BIND_TIMEOUT_MS = 3000;

function mebibytes(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 100) / 100} MiB`;
}

function udpTables(): string {
  return ['/proc/net/udp', '/proc/net/udp6'].map((table) => {
    try {
      return readFileSync(table, 'latin1');
    } catch {
      return ''; // no IPv6
    }
  }).join('\n');
}

/** Whether some socket is bound to this UDP port (IPv4 or IPv6). */
export function udpPortBound(port: number): boolean {
  return udpTables().includes(`:${port.toString(16).toUpperCase().padStart(4, '0')} `);
}

/** Every UDP port some socket of this machine is bound to. */
export function boundUdpPorts(): Set<number> {
  return new Set([...udpTables().matchAll(/^\s*\d+: [0-9A-F]+:([0-9A-F]{4}) /gm)].map((match) => parseInt(match[1]!, 16)));
}

/**
 * One source on one channel: runs the relay ffmpeg (again after each disconnect in static mode),
 * feeds its stdout to the channel's HTTP listeners (its Air) and keeps the figures of the session.
 */
export class LiveSession {
  readonly id: string;
  readonly channel: ChannelConfig;
  readonly mode: Mode;
  readonly instance: InstanceRef | null;
  readonly format: Format;
  readonly record: boolean;
  readonly metadata: Record<string, string>;
  /** The hook application that decides on it. */
  readonly appKey: string;
  readonly reservedAt: number;
  /** While no source is on air: when the channel stops waiting for one; undefined waits for ever. */
  expiresAt: number | undefined;
  state: SessionState = 'reserved';
  since: number;
  publishedAt: number | undefined;
  codec: string | null = null;
  readonly air: Air;
  process: Supervised | undefined;
  /** Why onair ended the session itself (expired, stopped, deactivated), if it did. */
  stopReason: string | undefined;
  readonly attempts: Attempt[] = [];
  readonly outputs: OutputState[];
  bytes = 0;
  /** The relay's run under way. */
  #run: Run | undefined;
  readonly #limits: HoldLimits;

  constructor(fields: Pick<LiveSession, 'id' | 'channel' | 'mode' | 'instance' | 'format' | 'record' | 'metadata' | 'appKey' | 'reservedAt' | 'expiresAt' | 'air'>, limits = HOLD_LIMITS) {
    this.#limits = limits;
    this.id = fields.id;
    this.channel = fields.channel;
    this.mode = fields.mode;
    this.instance = fields.instance;
    this.format = fields.format;
    this.record = fields.record;
    this.metadata = fields.metadata;
    this.appKey = fields.appKey;
    this.reservedAt = fields.reservedAt;
    this.expiresAt = fields.expiresAt;
    this.since = fields.reservedAt;
    this.air = fields.air;
    const skipped = skippedOutputs(this.channel, this.format);
    this.outputs = this.channel.outputs.map((output) => ({
      type: output.type, url: publicUrl(output), state: skipped.includes(output) ? 'skipped' : 'waiting',
      error: skipped.includes(output) ? `a ${this.format} session cannot go to ${output.type}` : null,
    }));
  }

  stats(now: number): SessionStats {
    const duration = this.publishedAt === undefined ? 0 : Math.max(0, now - this.publishedAt) / 1000;
    return {
      bytes: this.bytes,
      bitrate: duration > 0 ? Math.round((this.bytes * 8) / duration) : 0,
      duration: Math.round(duration * 1000) / 1000,
      codec: this.codec,
      listeners: this.air.listeners,
      outputs: this.outputs.map((output) => ({ ...output })),
    };
  }

  /** Its source has connected and waits for its admission: nothing of it has reached the listeners. */
  get held(): boolean {
    return this.#run?.held !== undefined;
  }

  /**
   * The admission let the source of `run` through: listeners hear it from its first page (what it sent meanwhile comes
   * at once). False when that run is over already: a later run's source waits for its own answer.
   */
  #letThrough(run: Run): boolean {
    if (!run.held || run.over) return false;
    run.feed = this.air.live(this.format);
    run.pusher = run.startPusher?.();
    this.#outputsConnected();
    for (const chunk of run.held) this.#send(run, chunk);
    run.held = undefined;
    return true;
  }

  /** A run's output to its listeners, and to its pusher if it has one: a pusher too far behind is dropped, as slow listeners are. */
  #send(run: Run, chunk: Buffer): void {
    run.feed!.push(chunk);
    const pusher = run.pusher;
    if (!pusher) return;
    pusher.input.write(chunk);
    if (pusher.input.writableLength <= this.#limits.pusherBehindBytes) return;
    run.pusher = undefined;
    void pusher.process.stop(1000);
    this.#outputsFailed(run, pusher.outputs, `its ffmpeg fell more than ${mebibytes(this.#limits.pusherBehindBytes)} behind the source`);
  }

  #outputsFailed(run: Run, indexes: number[], error: string): void {
    for (const index of indexes.filter((i) => this.outputs[i]!.state !== 'failed')) {
      Object.assign(this.outputs[index]!, { state: 'failed', error });
      run.onOutputFailed(index);
    }
  }

  #outputsConnected(): void {
    for (const output of this.outputs.filter((o) => o.state === 'waiting')) output.state = 'connected';
  }

  /** The push outputs of a source that waited for its admission: an ffmpeg of their own, fed the relay's output. */
  #startPusher(run: Run, options: { supervisor: ProcessSupervisor; plan: RelayPlan }, slaves: Slave[], redact: (text: string) => string): Pusher {
    const pusher = options.supervisor.spawn(`push-${this.id}-${++pushers}`, 'ffmpeg', pusherArgs(options.plan), ['pipe', 'ignore', 'pipe']);
    this.#watch(run, pusher, slaves, redact);
    const input = pusher.child.stdin!;
    // A pusher gone (every output failed, its ffmpeg killed) leaves the broadcast going on without it, as the relay's tee would.
    input.on('error', () => {});
    return { input, process: pusher, outputs: slaves.flatMap((slave) => (slave.output === undefined ? [] : [slave.output])) };
  }

  /** Reads an ffmpeg's stderr line by line, credentials removed: a push output it dropped (`slaves`) is marked failed; `each` sees every line. */
  #watch(run: Run, child: Supervised, slaves: Slave[], redact: (text: string) => string, each: (line: string) => void = () => {}): void {
    let partial = '';
    child.child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      const lines = (partial + text).split(/\r|\n/);
      partial = lines.pop() ?? '';
      for (const line of lines.filter(Boolean)) {
        const shown = redact(line);
        each(shown);
        const failed = failedSlave(shown);
        const index = failed && slaves[failed.slave]?.output;
        if (failed && index !== undefined) this.#outputsFailed(run, [index], failed.error);
      }
    });
  }

  /**
   * Starts ffmpeg and resolves once its SRT port is bound (or rejects if it exits first);
   * `ended` settles when that ffmpeg is gone.
   */
  async run(options: {
    supervisor: ProcessSupervisor;
    logger: Logger;
    /** `held`: its source waits for `letThrough` (an admission decides) before anything of it goes out. */
    plan: RelayPlan;
    /** The source connected: its first bytes are here; `letThrough` lets that run's source on air (held plans). */
    onConnected: (letThrough: () => boolean) => void;
    /** ffmpeg dropped the push output at this index of `outputs`. */
    onOutputFailed: (index: number) => void;
  }): Promise<{ ended: Promise<RunEnd> }> {
    const { plan } = options;
    if (udpPortBound(plan.channel.port)) throw new Error(`UDP port ${plan.channel.port} is taken by another program`);
    for (const output of this.outputs.filter((o) => o.state !== 'skipped')) Object.assign(output, { state: 'waiting', error: null });
    const child = options.supervisor.spawn(`gate-${this.id}`, 'ffmpeg', relayArgs(plan));
    this.process = child;
    let connected = false;
    const redact = redactor(plan);
    const later = plan.held ? pushSlaves(plan) : [];
    const run: Run = {
      feed: undefined, held: undefined, heldBytes: 0, over: false, pusher: undefined, startPusher: undefined, onOutputFailed: options.onOutputFailed,
    };
    if (later.length > 0) run.startPusher = () => this.#startPusher(run, options, later, redact);
    let cutOff: string | undefined;
    this.#run = run;
    child.child.stdout?.on('data', (chunk: Buffer) => {
      if (!connected) {
        connected = true;
        if (plan.held) run.held = [];
        else this.#outputsConnected();
        options.onConnected(() => this.#letThrough(run));
        if (!plan.held) run.feed = this.air.live(this.format);
      }
      if (run.over) return;
      this.bytes += chunk.length;
      if (!run.held) return this.#send(run, chunk);
      run.held.push(chunk);
      run.heldBytes += chunk.length;
      if (run.heldBytes <= this.#limits.heldBytes) return;
      // Nothing of it was on air: the reservation waits for a source again, as after a failed handshake.
      cutOff = `the source sent more than ${mebibytes(this.#limits.heldBytes)} while its admission decided: cut off`;
      options.logger.warn({ channel: plan.channel.name, session: this.id, held: run.heldBytes }, cutOff);
      run.over = true;
      run.held = undefined;
      void child.stop(1000);
    });
    // Its output is over before the process is gone (ffmpeg closes SRT and the tee's outputs after): the fallback need not wait.
    child.child.stdout?.on('close', () => {
      run.over = true;
      run.held = undefined;
      run.pusher?.input.end();
      this.air.ended(run.feed);
    });
    const tail: string[] = [];
    this.#watch(run, child, teeSlaves(plan), redact, (line) => {
      const codec = /Stream #0:\d+.*?: (?:Audio|Video): ([\w-]+)/.exec(line);
      if (codec && this.codec === null) this.codec = codec[1];
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    });
    const ended = child.exited.then((exit): RunEnd => {
      return { exit, published: run.feed !== undefined, diagnostics: [...tail, ...cutOff ? [cutOff] : []].join('\n') };
    });
    let exited = false;
    void ended.then(() => {
      exited = true;
    });
    const deadline = Date.now() + BIND_TIMEOUT_MS;
    while (!udpPortBound(plan.channel.port)) {
      if (exited || Date.now() > deadline) {
        await child.stop(500);
        const end = await ended;
        options.logger.warn({ channel: plan.channel.name, diagnostics: end.diagnostics }, 'the SRT listener did not start');
        throw new Error(`the SRT listener on port ${plan.channel.port} did not start`);
      }
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    return { ended };
  }
}
