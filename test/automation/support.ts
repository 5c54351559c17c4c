import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { OggPages, granule } from '../../src/gate/broadcast.ts';
import { media } from '../recordings/support.ts';
import { waitFor, type Answer } from '../support/onair.ts';

const run = promisify(execFile);
const RATE = 48_000;
/** The stepped tone: second n of the recording sounds at BASE_HZ + STEP_HZ * n. */
const BASE_HZ = 300;
const STEP_HZ = 100;

export interface Heard {
  bytes: Buffer;
  /** Wall-clock time the first audio page (granule > 0) reached the listener. */
  firstAudioAt: number | undefined;
}

/** Listens to the gate's HTTP output until it ends, noting when the first audio page arrives. */
export function listenTimed(url: string): Promise<Heard> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, (res) => {
      const chunks: Buffer[] = [];
      const pages = new OggPages();
      let firstAudioAt: number | undefined;
      res.on('data', (chunk: Buffer) => {
        const at = Date.now();
        chunks.push(chunk);
        if (firstAudioAt === undefined && pages.push(chunk).some((page) => granule(page) > 0n)) firstAudioAt = at;
      });
      res.on('close', () => resolve({ bytes: Buffer.concat(chunks), firstAudioAt }));
    });
    req.on('error', reject);
    req.end();
  });
}

type Request = (method: string, path: string, body?: unknown) => Promise<Answer>;

/** POSTs and answers the id of what was created (201). */
export async function created(request: Request, path: string, body: unknown): Promise<string> {
  const answer = await request('POST', path, body);
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.id;
}

/** The id of the stream task the automation made for `event`, once it exists. */
export async function streamTask(request: Request, event: string): Promise<string> {
  const broadcast = await waitFor(async () => (await request('GET', '/automation/broadcasts')).body.broadcasts
    .find((b: { event: string; task: string | null }) => b.event === event && b.task), 'the stream task', 10_000, 20);
  return broadcast.task;
}

/** Waits for a task to finish; answers its status and the view of that status. */
export async function finished(request: Request, task: string, timeoutMs: number): Promise<{ status: string; body: any }> {
  const done = await waitFor(async () => {
    const answer = await request('GET', `/tasks/${task}`);
    return ['completed', 'failed', 'cancelled'].includes(answer.body.status) ? answer.body.status as string : undefined;
  }, 'the stream task to finish', timeoutMs, 50);
  return { status: done, body: (await request('GET', `/tasks/${done}/${task}`)).body };
}

/**
 * Waits for the channel to be reserved by a session other than `previous` and listens to it at once, so that
 * the listener is there before the first audio. Answers the session id and what the listener hears.
 */
export async function listenToNextSession(base: string, request: Request, previous: string | null = null, timeoutMs = 20_000) {
  const session: string = await waitFor(async () => {
    const check = (await request('GET', '/check')).body;
    return check?.state !== 'idle' && check?.session !== previous ? check.session : undefined;
  }, 'a new session on the channel', timeoutMs, 10);
  return { session, heard: listenTimed(`${base}/listen`) };
}

/** An Ogg/Opus recording of `seconds` whose frequency steps up by STEP_HZ each second, so that any excerpt tells its position. */
export function steppedTone(dir: string, name: string, seconds: number): Promise<string> {
  return media(dir, name, '-f', 'lavfi', '-i', `aevalsrc=sin(2*PI*(${BASE_HZ}+${STEP_HZ}*floor(t))*t):s=${RATE}:d=${seconds}`,
    '-c:a', 'libopus', '-b:a', '64k');
}

export async function decode(bytes: Buffer): Promise<Int16Array> {
  const child = run('ffmpeg', ['-v', 'error', '-i', 'pipe:0', '-ac', '1', '-ar', String(RATE), '-f', 's16le', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
  child.child.stdin!.end(bytes);
  const { stdout } = await child;
  return new Int16Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.length / 2));
}

/** Dominant frequency of samples[from, to) by counting zero crossings. */
function frequency(samples: Int16Array, from: number, to: number): number {
  let crossings = 0;
  for (let i = from + 1; i < to; i++) if ((samples[i - 1]! < 0) !== (samples[i]! < 0)) crossings++;
  return crossings / 2 / ((to - from) / RATE);
}

/**
 * Where in a stepped-tone recording an excerpt begins, in seconds: the step heard first, and how long it lasts
 * before the next step starts (found in 50 ms windows).
 */
export function positionOf(samples: Int16Array): number {
  const window = RATE / 20;
  const stepAt = (w: number) => Math.round((frequency(samples, w * window, (w + 1) * window) - BASE_HZ) / STEP_HZ);
  // The first window may hold the decoder's pre-roll: read the first step from the second one.
  const first = stepAt(1);
  for (let w = 2; (w + 1) * window <= samples.length; w++) {
    if (stepAt(w) > first && stepAt(w + 1) > first) return first + 1 - w / 20;
  }
  throw new Error(`no change of step after step ${first} in ${samples.length / RATE} s`);
}

export const seconds = (samples: Int16Array): number => samples.length / RATE;

/** Mean frequency over the whole excerpt, its first and last 100 ms aside. */
export const toneOf = (samples: Int16Array): number => frequency(samples, RATE / 10, samples.length - RATE / 10);

/** The ffmpeg processes (anyone's child) whose command line mentions `needle`, e.g. a channel's SRT port. */
export function ffmpegWith(needle: string): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.startsWith('ffmpeg\0') && cmdline.includes(needle);
    } catch {
      return false;
    }
  }).map(Number);
}

/** Naive local start (UTC) of a moment a whole second after `ms` from now. */
export function startIn(ms: number): { startsAt: number; start: string } {
  const startsAt = Math.ceil((Date.now() + ms) / 1000) * 1000;
  return { startsAt, start: new Date(startsAt).toISOString().slice(0, 19) };
}
