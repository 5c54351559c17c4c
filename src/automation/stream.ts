import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { Type, type Static } from 'typebox';
import type { Clock } from '../core/clock.ts';
import { ChannelBusy } from '../core/errors.ts';
import type { ProcessSupervisor, Supervised } from '../core/processes.ts';
import { ChannelName, type Gate, type Reservation } from '../gate/contract.ts';
import { DAY, NaiveLocal } from '../core/time.ts';
import type { EventBus } from '../core/events/bus.ts';
import type { ProgrammeEvent, ProgrammeReader, ScheduledInstance } from '../programme/contract.ts';
import type { Archive, ArchiveKind, ArchivedFile } from '../recordings/contract.ts';
import type { Operation, OperationContext } from '../tasks/contract.ts';

const REPLAY_LOOKBACK_MS = 60 * DAY;
export const StreamParameters = Type.Object({
  event: Type.String({ minLength: 1, maxLength: 100, description: 'The event id' }),
  start: NaiveLocal('Naive local start of the instance'),
  channel: Type.Optional(Type.Unsafe<string>({ ...ChannelName, description: 'Gate channel; the first one when omitted' })),
}, { additionalProperties: false });
type StreamParameters = Static<typeof StreamParameters>;

export interface StreamDeps {
  programme: ProgrammeReader;
  archive: Archive;
  /** The archive's `archive-file-stored` events wake a task waiting for its recording. */
  bus: EventBus;
  gate: Pick<Gate, 'reserve' | 'waitUntilFree' | 'defaultChannel'>;
  clock: Clock;
  logger: Logger;
  supervisor: ProcessSupervisor;
  /** Where each task copies its recording (a directory per task, removed at the end). */
  workDir: string;
  reserveLeadMs: number;
  streamLeadMs: number;
  reserveTimeoutMs: number;
  /**
   * How long audio takes from being fed to our ffmpeg to the gate's HTTP output (SRT handshake and latency, the
   * relay): the file is fed this much before the instance so that its first audio goes out on time.
   */
  outputDelayMs: number;
  /** True once onair is stopping: the gate may end the stream before the task is told to stop. */
  stopping(): boolean;
}

type Context = OperationContext<StreamParameters>;

/** Resolves at `at` on the clock; rejects at once when `signal` aborts. */
export function waitUntil(clock: Clock, at: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      alarm.cancel();
      reject(signal.reason);
    };
    const alarm = clock.at(at, () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs one step; a failure names it (unless the task was cancelled or stopped). */
async function step<T>(context: Context, name: string, detail: Record<string, unknown>, work: () => Promise<T>): Promise<T> {
  context.progress({ step: name, ...detail });
  try {
    return await work();
  } catch (error) {
    if (context.signal.aborted) throw error;
    throw new Error(`Step ${name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

async function findInstance(deps: StreamDeps, { event, start }: StreamParameters, now: number): Promise<ScheduledInstance> {
  const found = await deps.programme.getInstance(event, start);
  if (!found) {
    if (!(await deps.programme.getEvent(event))) throw new Error(`event ${event} is no longer in the programme`);
    throw new Error(`event ${event} has no instance starting at ${start} any more`);
  }
  if (found.event.type !== 'prerecorded' && found.event.type !== 'replay') throw new Error(`event ${event} is ${found.event.type}, not automated`);
  if (now >= found.instance.endsAt) throw new Error(`the instance starting at ${start} has already ended`);
  return found;
}

const kindOf = (event: ProgrammeEvent): ArchiveKind => (event.type === 'prerecorded' ? 'prerecordings' : 'recordings');

/** The recording to play, in parts: the instance's prerecording, or the recording of the show's latest live instance. */
async function findRecording(deps: StreamDeps, { event, instance }: ScheduledInstance, now: number): Promise<ArchivedFile[]> {
  if (event.type === 'prerecorded') return deps.archive.find('prerecordings', event.id, instance.start);
  const lives = await deps.programme.showInstancesBetween(event.showId, now - REPLAY_LOOKBACK_MS, now, ['live']);
  const events = [...new Set(lives.map((s) => s.event.id))];
  return deps.archive.latest('recordings', events, now - REPLAY_LOOKBACK_MS, now);
}

function noRecording({ event, instance }: ScheduledInstance): string {
  return event.type === 'prerecorded'
    ? `no prerecording was uploaded for event ${event.id} at ${instance.start}`
    : `show ${event.showId} has no recording of a live instance in the last 60 days`;
}

/**
 * The recording, waited for until `deadline` when it is not there yet (an instance created late, a file uploaded
 * late): every file the archive stores wakes the search, on this instance or another.
 */
async function awaitRecording(deps: StreamDeps, context: Context, found: ScheduledInstance, deadline: number): Promise<ArchivedFile[]> {
  for (;;) {
    context.signal.throwIfAborted();
    const stored = nextStored(deps, kindOf(found.event), deadline, context.signal);
    try {
      const parts = await findRecording(deps, found, deps.clock.now());
      if (parts.length > 0) return parts;
      if (deps.clock.now() >= deadline) throw new Error(`${noRecording(found)} by ${new Date(deadline).toISOString()} (the reserve lead)`);
      context.progress({ step: 'recording', type: found.event.type, waiting: 'recording', until: new Date(deadline).toISOString() });
      await stored.arrived;
    } finally {
      stored.cancel();
    }
  }
}

/** Settles on the archive's next `archive-file-stored` of `kind` or at `deadline`; rejects when `signal` aborts. */
function nextStored(deps: StreamDeps, kind: ArchiveKind, deadline: number, signal: AbortSignal): { arrived: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const arrived = new Promise<void>((resolve, reject) => {
    const alarm = deps.clock.at(deadline, () => resolve());
    const unsubscribe = deps.bus.subscribe((event) => {
      if (event.type === 'archive-file-stored' && (event.data as { kind?: string }).kind === kind) resolve();
    });
    const aborted = () => reject(signal.reason);
    signal.addEventListener('abort', aborted, { once: true });
    cancel = () => {
      alarm.cancel();
      unsubscribe();
      signal.removeEventListener('abort', aborted);
    };
  });
  return { arrived, cancel: () => cancel() };
}

async function reserve(deps: StreamDeps, context: Context, channel: string, instance: ScheduledInstance, format: Format): Promise<Reservation> {
  const { clock, gate } = deps;
  const deadline = clock.now() + deps.reserveTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await gate.reserve(channel, {
        instance: { event: instance.event.id, start: instance.instance.start }, format, who: `automation task ${context.task.id}`,
      });
    } catch (error) {
      if (!(error instanceof ChannelBusy)) throw error;
      if (clock.now() >= deadline) throw new Error(`channel ${channel} was still busy after ${deps.reserveTimeoutMs / 1000} s`);
      context.progress({ step: 'reserve', channel, waiting: 'channel busy', attempt });
      const waiting = new AbortController();
      const alarm = clock.at(deadline, () => waiting.abort());
      const stop = () => waiting.abort();
      context.signal.addEventListener('abort', stop, { once: true });
      await gate.waitUntilFree(channel, waiting.signal).catch(() => {});
      alarm.cancel();
      context.signal.removeEventListener('abort', stop);
      context.signal.throwIfAborted();
    }
  }
}

type Format = 'ogg' | 'mpegts';

const sum = (parts: ArchivedFile[], field: 'duration' | 'size') => parts.reduce((total, p) => total + p[field], 0);

const formatOf = (file: ArchivedFile): Format => (file.format.split(',').includes('ogg') ? 'ogg' : 'mpegts');

/** ffmpeg arguments: real time (-re), no re-encoding, to the gate's SRT URL; `input` is a file, or stdin (pipe:0). */
export function playArgs(input: string, format: Format, positionS: number, url: string): string[] {
  const seek = positionS > 0 ? ['-ss', positionS.toFixed(3)] : [];
  // A stream copy seeks to the page (Ogg) or packet before the position: those first packets get negative
  // timestamps, which the Ogg muxer writes as huge granules the gate's relay cannot read. Start them at zero.
  const shift = positionS > 0 ? ['-avoid_negative_ts', 'make_zero'] : [];
  const output = format === 'ogg' ? ['-f', 'ogg', '-page_duration', '20000', '-flush_packets', '1'] : ['-f', 'mpegts', '-flush_packets', '1'];
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    '-re', ...seek, '-probesize', '32768', '-analyzeduration', '0', '-i', input,
    '-map', '0', '-c', 'copy', ...shift, ...output, url,
  ];
}

/**
 * Plays the recording so that its audio at `position` leaves the gate at `at`. On time, ffmpeg is started
 * early reading standard input, and the file is fed at the precise moment; when late (a resumed task, a
 * busy channel), it seeks to the position matching the current time.
 */
async function play(deps: StreamDeps, context: Context, file: string, format: Format, reservation: Reservation, startsAt: number, durationS: number): Promise<number> {
  const { clock, supervisor, signal } = { ...deps, signal: context.signal };
  const feedAt = startsAt - deps.outputDelayMs;
  const positionS = Math.max(0, (clock.now() + 50 - feedAt) / 1000);
  if (positionS >= durationS) return 0;
  const piped = positionS === 0;
  if (!piped) deps.logger.warn({ task: context.task.id, lateMs: Math.round(clock.now() - feedAt), position: positionS }, 'broadcast starts late: it joins the recording where the clock is');
  const child = supervisor.spawn(`stream-${context.task.id}`, 'ffmpeg', playArgs(piped ? 'pipe:0' : file, format, positionS, reservation.url),
    [piped ? 'pipe' : 'ignore', 'ignore', 'pipe']);
  let diagnostics = '';
  child.child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    diagnostics = (diagnostics + text).slice(-4000);
  });
  // ffmpeg pacing with -re takes its time over SIGTERM: a cancelled broadcast stops at once.
  const kill = () => child.child.kill('SIGKILL');
  signal.addEventListener('abort', kill, { once: true });
  const reporter = setInterval(() => context.progress({
    step: 'stream', position: Math.round((clock.now() - startsAt) / 1000), duration: durationS,
  }), 10_000);
  try {
    if (piped) await feed(deps.clock, child, file, feedAt, signal);
    const exit = await child.exited;
    // The gate stops before the task engine: wait to be stopped too, so that the task resumes after the restart.
    if (exit.code !== 0 && deps.stopping() && !signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    signal.throwIfAborted();
    if (exit.code !== 0) {
      const last = diagnostics.replaceAll(reservation.token, '***').trim().split('\n').at(-1);
      throw new Error(`ffmpeg exited with ${exit.code ?? exit.signal}${last ? `: ${last}` : ''}`);
    }
    return durationS - positionS;
  } finally {
    clearInterval(reporter);
    signal.removeEventListener('abort', kill);
    await child.stop(500);
  }
}

/** How much of the recording is read before the feed time, so that the feed itself waits on no disk or thread pool. */
const FIRST_READ = 256 * 1024;

async function feed(clock: Clock, child: Supervised, file: string, at: number, signal: AbortSignal): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(FIRST_READ), 0, FIRST_READ, 0);
    await waitUntil(clock, at, signal);
    const stdin = child.child.stdin!;
    // ffmpeg may exit early (refused connection): its exit code tells why, not the broken pipe.
    stdin.on('error', () => {});
    stdin.write(buffer.subarray(0, bytesRead));
    await pipeline(handle.createReadStream({ start: bytesRead, autoClose: false }), stdin, { signal }).catch(() => {});
  } finally {
    await handle.close();
  }
}

/** What the player plays: a copy of the recording, its parts of one format joined in order. */
interface Playable {
  path: string;
  format: Format;
  duration: number;
  /** The parts played, and those left out because they are of another format. */
  parts: number[];
  skipped: number[];
}

/** The format most of the recording is in (by duration): the gate relays one format per session. */
function mainFormat(parts: ArchivedFile[]): Format {
  const seconds = (format: Format) => parts.filter((p) => formatOf(p) === format).reduce((sum, p) => sum + p.duration, 0);
  return seconds('ogg') >= seconds('mpegts') ? 'ogg' : 'mpegts';
}

/**
 * Copies the recording into the task's own directory, under a name that identifies the stored files it was made of
 * (each stored version has a unique name), and only once complete: a run resumed after a crash finds the copy the
 * interrupted run made and plays it at once, unless the recording changed meanwhile.
 */
async function copyRecording(deps: StreamDeps, context: Context, parts: ArchivedFile[], dir: string): Promise<Playable> {
  const format = mainFormat(parts);
  const played = parts.filter((p) => formatOf(p) === format);
  const made = createHash('sha256').update(played.map((p) => basename(p.path)).join('\n')).digest('hex').slice(0, 16);
  const path = join(dir, `recording-${made}.${format === 'ogg' ? 'ogg' : 'bin'}`);
  const playable = {
    path, format, duration: played.reduce((total, p) => total + p.duration, 0),
    parts: played.map((p) => p.part), skipped: parts.filter((p) => !played.includes(p)).map((p) => p.part),
  };
  if (await stat(path).then(() => true, () => false)) return playable;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const partial = `${path}.partial`;
  if (played.length === 1) await pipeline(createReadStream(played[0]!.path), createWriteStream(partial), { signal: context.signal });
  else await joinParts(deps, context, played, format, partial);
  await rename(partial, path);
  return playable;
}

/** Joins parts of one format into `path` with ffmpeg's concat demuxer (no re-encoding, timestamps made continuous). */
async function joinParts(deps: StreamDeps, context: Context, parts: ArchivedFile[], format: Format, path: string): Promise<void> {
  const list = `${path}.parts`;
  await writeFile(list, parts.map((p) => `file '${p.path.replaceAll("'", "'\\''")}'\n`).join(''));
  const output = format === 'ogg' ? ['-f', 'ogg', '-page_duration', '20000'] : ['-f', 'mpegts'];
  const child = deps.supervisor.spawn(`join-${context.task.id}`, 'ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'concat', '-safe', '0', '-i', list, '-map', '0', '-c', 'copy', ...output, path,
  ], ['ignore', 'ignore', 'pipe']);
  let diagnostics = '';
  child.child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    diagnostics = (diagnostics + text).slice(-2000);
  });
  const kill = () => child.child.kill('SIGKILL');
  context.signal.addEventListener('abort', kill, { once: true });
  try {
    const exit = await child.exited;
    context.signal.throwIfAborted();
    if (exit.code !== 0) throw new Error(`joining parts ${parts.map((p) => p.part).join(', ')} failed: ${diagnostics.trim().split('\n').at(-1) ?? exit.code}`);
  } finally {
    context.signal.removeEventListener('abort', kill);
  }
}

/** The `stream` operation: plays the recording of an automated instance through the gate at its time. */
export function streamOperation(deps: StreamDeps): Operation<typeof StreamParameters> {
  return {
    type: 'stream',
    summary: 'Plays the recording of a replay or prerecorded instance through the gate at its start',
    parameters: StreamParameters,
    resumable: true,
    async run(context) {
      const { clock } = deps;
      const { parameters, signal } = context;
      const channel = parameters.channel ?? deps.gate.defaultChannel;
      const dir = join(deps.workDir, context.task.id);
      try {
        const found = await step(context, 'programme', { event: parameters.event, start: parameters.start, resumed: context.resumed },
          () => findInstance(deps, parameters, clock.now()));
        const { startsAt } = found.instance;
        const parts = await step(context, 'recording', { type: found.event.type },
          () => awaitRecording(deps, context, found, startsAt - deps.reserveLeadMs));
        const recording = await step(context, 'copy', { parts: parts.length, duration: sum(parts, 'duration'), size: sum(parts, 'size') },
          () => copyRecording(deps, context, parts, dir));
        await step(context, 'wait', { until: new Date(startsAt - deps.reserveLeadMs).toISOString() },
          () => waitUntil(clock, startsAt - deps.reserveLeadMs, signal));
        const reservation = await step(context, 'reserve', { channel }, () => reserve(deps, context, channel, found, recording.format));
        await step(context, 'wait', { until: new Date(startsAt - deps.streamLeadMs).toISOString() },
          () => waitUntil(clock, startsAt - deps.streamLeadMs, signal));
        const played = await step(context, 'stream', { channel, startsAt: new Date(startsAt).toISOString(), duration: recording.duration },
          () => play(deps, context, recording.path, recording.format, reservation, startsAt, recording.duration));
        const { kind, event, start } = parts[0]!;
        return {
          event: found.event.id, start: found.instance.start, channel,
          recording: { kind, event, start, parts: recording.parts, ...(recording.skipped.length > 0 ? { skipped: recording.skipped } : {}) }, played,
        };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
