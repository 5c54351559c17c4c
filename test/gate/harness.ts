import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { systemClock, type Clock } from '../../src/core/clock.ts';
import { loadConfig } from '../../src/core/config.ts';
import { migrate, openDatabase, type Database } from '../../src/core/db/database.ts';
import { EventBus, type BusEvent } from '../../src/core/events/bus.ts';
import { eventMigrations } from '../../src/core/events/migrations.ts';
import { registerSse } from '../../src/core/events/sse.ts';
import { createHttpServer, type App } from '../../src/core/http/server.ts';
import { createMetrics } from '../../src/core/metrics.ts';
import { nodeIdentity } from '../../src/core/node.ts';
import { createOutbound, outboundMigrations } from '../../src/core/outbound/index.ts';
import type { Gate } from '../../src/gate/contract.ts';
import { createGate, type GateArea } from '../../src/gate/index.ts';
import type { HoldLimits } from '../../src/gate/session.ts';
import type { EventType, ProgrammeEvent, ProgrammeReader, ScheduledInstance } from '../../src/programme/contract.ts';
import type { Archive, ArchivedFile, ArchiveKind } from '../../src/recordings/contract.ts';
import type { TestDatabase } from '../support/databases.ts';
import { NO_FALLBACK, requestJson, tempDir, waitFor, type Answer } from '../support/onair.ts';

const run = promisify(execFile);

/** A free UDP port (bound and released at once). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '0.0.0.0', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * Stand-in programme until the programme area is wired into onair: events with one instance each,
 * starting at their naive `start` read as UTC.
 */
export class StandInProgramme implements ProgrammeReader {
  readonly events = new Map<string, ProgrammeEvent>();

  add(type: EventType, startsAt: number, duration = 3600): ProgrammeEvent {
    const event: ProgrammeEvent = {
      id: crypto.randomUUID(), showId: crypto.randomUUID(), type, start: new Date(startsAt).toISOString().slice(0, 19),
      duration, timezone: 'UTC', recurrence: null, liveJob: null,
    };
    this.events.set(event.id, event);
    return event;
  }

  #scheduled(event: ProgrammeEvent): ScheduledInstance {
    const startsAt = Date.parse(`${event.start}Z`);
    const endsAt = startsAt + event.duration * 1000;
    return { event, instance: { eventId: event.id, start: event.start, end: new Date(endsAt).toISOString().slice(0, 19), startsAt, endsAt } };
  }

  async getEvent(id: string) {
    return this.events.get(id);
  }

  async getInstance(eventId: string, start: string) {
    const event = this.events.get(eventId);
    return event && event.start === start ? this.#scheduled(event) : undefined;
  }

  async instancesBetween(from: number, to: number, types?: EventType[]) {
    return [...this.events.values()].map((e) => this.#scheduled(e))
      .filter((s) => s.instance.startsAt < to && s.instance.endsAt > from && (!types || types.includes(s.event.type)));
  }

  async showInstancesBetween(showId: string, from: number, to: number, types?: EventType[]) {
    return (await this.instancesBetween(from, to, types)).filter((s) => s.event.showId === showId);
  }

  async liveJobInstancesBetween(from: number, to: number) {
    return (await this.instancesBetween(from, to, ['live'])).filter((s) => s.event.liveJob !== null);
  }
}

/** Stand-in archive until the recordings area is wired: moves adopted files into a folder and probes them. */
export class StandInArchive implements Archive {
  readonly stagingDir: string;
  readonly dir: string;
  readonly adopted: ArchivedFile[] = [];

  constructor(dataDir: string) {
    this.stagingDir = join(dataDir, 'staging');
    this.dir = join(dataDir, 'archive');
    mkdirSync(this.dir, { recursive: true });
  }

  async find(kind: ArchiveKind, event: string, start: string) {
    return this.adopted.filter((f) => f.kind === kind && f.event === event && f.start === start);
  }

  async latest() {
    const last = this.adopted.at(-1);
    return last ? this.find(last.kind, last.event, last.start) : [];
  }

  async adopt(kind: ArchiveKind, event: string, start: string, file: string): Promise<ArchivedFile> {
    const part = (await this.find(kind, event, start)).length + 1;
    const path = join(this.dir, `${event}-${start.replaceAll(':', '')}-${part}.${file.split('.').pop()}`);
    renameSync(file, path);
    const probe = await ffprobe(path);
    const archived: ArchivedFile = {
      kind, event, start, part, path, size: statSync(path).size, contentType: 'audio/ogg', format: probe.format,
      duration: probe.duration, createdAt: Date.now(),
    };
    this.adopted.push(archived);
    return archived;
  }
}

export async function ffprobe(path: string): Promise<{ format: string; duration: number; codecs: string[] }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=format_name,duration:stream=codec_name', '-of', 'json', path]);
  const parsed = JSON.parse(stdout) as { format: { format_name: string; duration?: string }; streams: Array<{ codec_name: string }> };
  return { format: parsed.format.format_name, duration: Number(parsed.format.duration ?? NaN), codecs: parsed.streams.map((s) => s.codec_name) };
}

/** Decodes audio bytes and answers their length in seconds and the dominant frequency (zero crossings). */
export async function analyse(bytes: Buffer): Promise<{ seconds: number; frequency: number; codecs: string[] }> {
  const dir = tempDir('onair-gate-probe-');
  try {
    const file = join(dir, 'audio.bin');
    writeFileSync(file, bytes);
    const { codecs } = await ffprobe(file);
    const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-ac', '1', '-ar', '48000', '-f', 's16le', 'pipe:1'],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
    const samples = new Int16Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.length / 2));
    let crossings = 0;
    for (let i = 1; i < samples.length; i++) if ((samples[i - 1] < 0) !== (samples[i] < 0)) crossings++;
    const seconds = samples.length / 48000;
    return { seconds, frequency: crossings / 2 / seconds, codecs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Source {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
}

/** A live source: ffmpeg pushing a generated tone over SRT, as a newcomer would from the README. */
export function pushTone(url: string, options: { seconds: number; frequency?: number; format?: 'ogg' | 'mpegts'; passphrase?: string }): Source {
  const format = options.format ?? 'ogg';
  const input = format === 'ogg'
    ? ['-f', 'lavfi', '-i', `sine=f=${options.frequency ?? 440}:d=${options.seconds}`, '-c:a', 'libopus', '-b:a', '64k',
      '-page_duration', '20000', '-flush_packets', '1', '-f', 'ogg']
    : ['-f', 'lavfi', '-i', `testsrc=size=320x240:rate=25:d=${options.seconds}`, '-f', 'lavfi', '-i', `sine=f=${options.frequency ?? 440}:d=${options.seconds}`,
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-c:a', 'aac', '-f', 'mpegts'];
  // A passphrase as an option, as encoders take it: an srt:// URL cannot carry every printable character.
  const passphrase = options.passphrase === undefined ? [] : ['-passphrase', options.passphrase, '-pbkeylen', '32'];
  const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', ...input, ...passphrase, url], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

/** A show on the channel: a live instance reserved, a tone pushed for `seconds`, and the channel idle again. */
export async function liveShow(server: GateServer, seconds: number): Promise<void> {
  const event = server.programme.add('live', Date.now() - 60_000);
  const reserved = await server.request('POST', '/reserve', { instance: { event: event.id, start: event.start } });
  if (reserved.status !== 201) throw new Error(`reserve answered ${reserved.status}: ${JSON.stringify(reserved.body)}`);
  const source = pushTone(reserved.body.url, { seconds, frequency: 440 });
  const code = await source.exited;
  if (code !== 0) throw new Error(`the source exited with ${code}: ${source.stderr()}`);
  await waitFor(async () => (await server.request('GET', '/check')).body.state === 'idle', 'the show to end', 15_000);
}

/** Opens an HTTP stream and collects what arrives until it ends or `close` (status 0 when closed before the answer came). */
export function listen(url: string): { done: Promise<{ status: number; type: string | undefined; bytes: Buffer }>; firstByte: Promise<void>; close(): void } {
  let close = () => {};
  let first = () => {};
  const firstByte = new Promise<void>((resolve) => {
    first = resolve;
  });
  const done = new Promise<{ status: number; type: string | undefined; bytes: Buffer }>((resolve, reject) => {
    const req = httpRequest(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        first();
      });
      const finish = () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], bytes: Buffer.concat(chunks) });
      res.on('end', finish);
      res.on('close', finish);
    });
    // A listener that leaves before the answer came is done, with nothing: no error of the server's.
    let left = false;
    req.on('error', (error) => (left ? resolve({ status: 0, type: undefined, bytes: Buffer.alloc(0) }) : reject(error)));
    req.end();
    close = () => {
      left = true;
      req.destroy();
    };
  });
  return { done, firstByte, close: () => close() };
}

/** ffmpeg processes this test process started, directly or through onair's supervisor. */
export function ffmpegChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (stat.includes('(ffmpeg)') && Number(fields[1]) === process.pid) pids.push(Number(entry));
    } catch { /* gone */ }
  }
  return pids;
}

/** A process's command line, its arguments NUL-separated; empty once it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

export interface GateServer {
  url: string;
  /** The gate as other areas see it (its contract). */
  gate: Gate;
  area: GateArea;
  app: App;
  bus: EventBus;
  database: Database;
  programme: StandInProgramme;
  archive: StandInArchive;
  dataDir: string;
  port: number;
  /** The durable events the gate recorded, in order (not its lossy figures). */
  events: BusEvent[];
  /** Every line onair logged (debug and up), to check that no secret is in them. */
  logs: string[];
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer>;
  /** Stops the server; `keep` leaves the data dir and database for a restart. */
  stop(keep?: boolean): Promise<void>;
}

/** onair's core plus the gate, with the stand-in programme and archive. */
export async function startGate(options: {
  database: TestDatabase;
  env?: Record<string, string>;
  clock?: Clock;
  dataDir?: string;
  databaseUrl?: string;
  programme?: StandInProgramme;
  holdLimits?: HoldLimits;
}): Promise<GateServer> {
  const dataDir = options.dataDir ?? tempDir('onair-gate-');
  const databaseUrl = options.databaseUrl ?? (await options.database.create());
  const port = Number(options.env?.ONAIR_SRT_PORT_START ?? (await freeUdpPort()));
  const config = loadConfig({
    ONAIR_HTTP_PORT: '0', ONAIR_DATA_DIR: dataDir, ONAIR_SRT_PORT_START: String(port), ...NO_FALLBACK,
    ...(databaseUrl ? { ONAIR_DATABASE_URL: databaseUrl } : {}), ...options.env,
  });
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(line) });
  const clock = options.clock ?? systemClock;
  const database = await openDatabase({ url: config.databaseUrl, dataDir, logger });
  const node = nodeIdentity(config);
  const bus = new EventBus({ database, origin: node.id, logger, now: () => clock.now() });
  const metrics = createMetrics();
  const app = await createHttpServer({ clock, logger, metrics, apiKey: config.apiKey, http: config.http, version: 'test' });
  const programme = options.programme ?? new StandInProgramme();
  const archive = new StandInArchive(dataDir);
  const outbound = createOutbound({ config, database, clock, logger, metrics });
  const area = createGate({ config, database, bus, clock, logger, metrics, node, outbound, programme, archive, holdLimits: options.holdLimits });
  await migrate(database, eventMigrations, outboundMigrations, area.migrations);
  await bus.start();
  registerSse(app, bus);
  await app.register(area.routes);
  const events: BusEvent[] = [];
  // The changes the gate recorded, in order; its figures every second (session-stats, lossy: no id) are not among them.
  bus.subscribe((event) => { if (event.id !== undefined) events.push(event); });
  await area.start();
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url, gate: area.gate, area, app, bus, database, programme, archive, dataDir, port, events, logs,
    request: (method, path, body, headers) => requestJson(url, method, path, body, headers),
    async stop(keep = false) {
      await app.close();
      await area.stop();
      await bus.stop();
      await database.close();
      if (keep) return;
      if (!options.databaseUrl) await options.database.drop(databaseUrl);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
