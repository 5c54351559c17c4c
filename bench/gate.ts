// Gate figures, each beside a baseline from the same run: reserve -> bound SRT port, CPU per relay,
// delay the relay adds over a direct SRT link, how soon a vanished source frees the channel,
// HTTP listeners served with their lag, and the switches between a show and the fallback at a listener;
// goals from the spec (02-gate.md), the seed and issue 10.
// npx node bench/gate.ts [--quick] [--listeners=1000]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processCpuTicks } from '../src/core/processes.ts';
import { udpPortBound } from '../src/gate/session.ts';
import { fallbackArgs, fallbackInput } from '../src/gate/pipeline.ts';
import { freeUdpPort, liveShow, pushTone, startGate } from '../test/gate/harness.ts';
import { capture, firstAudioPage, switchAt } from '../test/gate/listener.ts';
import {
  attempt, cells, finish, fixed, judge, option, printConditions, printTable, quick, ratio, summary, tail, testDatabases, waitFor, type Row,
} from './support.ts';

const TICKS = 100;
const BINDS = quick ? 3 : 10;
const RELAYS = quick ? 3 : 5;
const RELAY_SECONDS = quick ? 5 : 10;
const VANISHES = quick ? 2 : 3;
const SHOWS = quick ? 3 : 5;
const SRT_IDLE_MS = 5000;
printConditions('gate');
const server = await startGate({ database: testDatabases[0], env: { ONAIR_GATE_RESERVATION_TTL: '30' } });
const event = server.programme.add('live', Date.now(), 86_400);
const rows: Row[] = [];
const idle = () => waitFor(async () => (await server.request('GET', '/check')).body.state === 'idle', 'idle', 20_000);
const reserve = async () => (await server.request('POST', '/reserve', { event: event.id })).body as { url: string };
const relayPid = () => {
  const dir = join(server.dataDir, 'gate', 'pids');
  return Number(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8').split(' ')[0]);
};

async function bindTimes(n: number) {
  const gate: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < n; i++) {
    let start = performance.now();
    await reserve();
    gate.push(performance.now() - start);
    await server.area.service.stop().catch(() => {});
    await server.area.start();
    const port = await freeUdpPort();
    start = performance.now();
    const child = spawn('ffmpeg', ['-nostdin', '-loglevel', 'quiet', '-i', `srt://0.0.0.0:${port}?mode=listener&listen_timeout=5000000`, '-f', 'null', '-'], { stdio: 'ignore' });
    await waitFor(() => udpPortBound(port), 'bare ffmpeg to bind', 5000, 1);
    bare.push(performance.now() - start);
    child.kill('SIGKILL');
  }
  const [ours, theirs] = [summary(gate), summary(bare)];
  rows.push({
    figure: 'POST /reserve -> SRT port bound, ms', ...cells(ours), 'baseline is': 'bare ffmpeg spawn -> bound', ...cells(theirs, 'baseline '),
    ratio: ratio(ours.median, theirs.median),
    ...judge('every one <= 150', ours.max <= 150, theirs.max > 150 ? `bare ffmpeg max ${fixed(theirs.max)} ms` : undefined),
  });
}

function firstByteAfter(start: number, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, (res) => res.once('data', () => {
      resolve(performance.now() - start);
      res.destroy();
    })).on('error', reject);
  });
}

/** First byte of a direct ffmpeg-to-ffmpeg SRT link, from the source's start: what the relay's delay adds to. */
async function directFirstByte(): Promise<number> {
  const port = await freeUdpPort();
  const direct = spawn('ffmpeg', ['-nostdin', '-loglevel', 'quiet', '-probesize', '4096', '-analyzeduration', '0',
    '-i', `srt://0.0.0.0:${port}?mode=listener`, '-c', 'copy', '-f', 'ogg', '-page_duration', '20000', '-flush_packets', '1', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await waitFor(() => udpPortBound(port), 'direct listener', 5000, 1);
    const start = performance.now();
    const first = new Promise<number>((resolve) => direct.stdout!.once('data', () => resolve(performance.now() - start)));
    const source = pushTone(`srt://127.0.0.1:${port}`, { seconds: 2 });
    const ms = await first;
    await source.exited;
    return ms;
  } finally {
    direct.kill('SIGKILL');
  }
}

/** One relayed session: first byte at a listener from the source's start, then the CPU of relay and source. */
async function relayed(seconds: number): Promise<{ firstByte: number; relayCpu: number; sourceCpu: number }> {
  const { url } = await reserve();
  const start = performance.now();
  const heard = firstByteAfter(start, `${server.url}/listen`);
  const source = pushTone(url, { seconds });
  const firstByte = await heard;
  const relay = relayPid();
  const [relay0, source0, t0] = [processCpuTicks(relay) ?? 0, processCpuTicks(source.child.pid!) ?? 0, performance.now()];
  await sleep((seconds - 2) * 1000);
  const wall = (performance.now() - t0) / 1000;
  const relayCpu = ((processCpuTicks(relay) ?? 0) - relay0) / TICKS / wall * 100;
  const sourceCpu = ((processCpuTicks(source.child.pid!) ?? 0) - source0) / TICKS / wall * 100;
  await source.exited;
  await idle();
  return { firstByte, relayCpu, sourceCpu };
}

/** RELAYS sessions, each beside a direct link measured just before it. */
async function delayAndCpu() {
  const direct: number[] = [];
  const runs: Array<{ firstByte: number; relayCpu: number; sourceCpu: number }> = [];
  for (let i = 0; i < RELAYS; i++) {
    direct.push(await directFirstByte());
    runs.push(await relayed(RELAY_SECONDS));
  }
  const [relayCpu, sourceCpu] = [summary(runs.map((r) => r.relayCpu)), summary(runs.map((r) => r.sourceCpu))];
  rows.push({
    figure: 'CPU of one audio relay, % of a core', ...cells(relayCpu), 'baseline is': 'the Opus source encoder', ...cells(sourceCpu, 'baseline '),
    ratio: ratio(relayCpu.median, sourceCpu.median), ...judge('every one <= 2', relayCpu.max <= 2),
  });
  const [ours, theirs] = [summary(runs.map((r) => r.firstByte)), summary(direct)];
  // Two measurements apart: their difference is judged on its median, the maximum being mostly their noise.
  const added = summary(runs.map((r, i) => r.firstByte - direct[i]!));
  rows.push({
    figure: 'source start -> first byte, ms', ...cells(ours), 'baseline is': 'direct ffmpeg-to-ffmpeg SRT', ...cells(theirs, 'baseline '),
    ratio: ratio(ours.median, theirs.median), ...judge('added, median <= 50', added.median <= 50, undefined, `added: ${fixed(added.min)} to ${fixed(added.max)}, median ${fixed(added.median)}`),
  });
}

/** Source killed -> channel free, beside a listener that relies on SRT's own peer idle timeout. */
async function vanish() {
  const killAndTime = async (url: string, over: () => Promise<unknown>) => {
    const source = pushTone(url, { seconds: 30 });
    await sleep(1500);
    source.child.kill('SIGKILL');
    const start = performance.now();
    await over();
    return performance.now() - start;
  };
  const bareListener = async () => {
    const port = await freeUdpPort();
    const bare = spawn('ffmpeg', ['-nostdin', '-loglevel', 'quiet', '-i', `srt://0.0.0.0:${port}?mode=listener`, '-c', 'copy', '-f', 'ogg', '-'], { stdio: 'ignore' });
    try {
      await waitFor(() => udpPortBound(port), 'bare listener', 5000, 1);
      return await killAndTime(`srt://127.0.0.1:${port}`, () => new Promise((resolve) => bare.once('exit', resolve)));
    } finally {
      bare.kill('SIGKILL');
    }
  };
  const gate: number[] = [];
  const srt: number[] = [];
  for (let i = 0; i < VANISHES; i++) {
    gate.push(await killAndTime((await reserve()).url, idle));
    srt.push(await bareListener());
  }
  const [ours, theirs] = [summary(gate), summary(srt)];
  rows.push({
    figure: 'source killed -> channel free, ms', ...cells(ours), 'baseline is': 'ffmpeg listener, SRT peer idle', ...cells(theirs, 'baseline '),
    ratio: ratio(ours.median, theirs.median), ...judge(`every one < SRT idle (${SRT_IDLE_MS})`, ours.max < SRT_IDLE_MS),
  });
}

/** Lag of byte offsets at each listener behind the first listener to receive them. */
async function listeners(count: number, seconds: number) {
  const { url } = await reserve();
  const arrivals: Array<Array<[number, number]>> = [];
  const opened = await Promise.all(Array.from({ length: count }, (_, i) => new Promise<void>((resolve, reject) => {
    arrivals[i] = [];
    let offset = 0;
    get({ host: '127.0.0.1', port: new URL(server.url).port, path: '/listen', agent: false }, (res) => {
      resolve();
      res.on('data', (chunk: Buffer) => {
        offset += chunk.length;
        arrivals[i].push([offset, performance.now()]);
      });
    }).on('error', reject);
  })));
  void opened;
  const source = pushTone(url, { seconds });
  await source.exited;
  await idle();
  const first = new Map<number, number>();
  for (const list of arrivals) for (const [offset, at] of list) first.set(offset, Math.min(first.get(offset) ?? Infinity, at));
  const lags: number[] = [];
  for (const list of arrivals) for (const [offset, at] of list) lags.push(at - (first.get(offset) ?? at));
  const longest = Math.max(...arrivals.map((l) => l.at(-1)?.[0] ?? 0));
  const complete = arrivals.filter((list) => list.length > 0 && list.at(-1)![0] === longest).length;
  return { lag: summary(lags), complete };
}

async function listenersFigures() {
  const many = Number(option('listeners') ?? (quick ? 200 : 1000));
  const few = await listeners(10, 4);
  const lots = await listeners(many, quick ? 4 : 8);
  const fewShort = few.complete < 10 ? `${few.complete} of 10` : undefined;
  rows.push({
    figure: 'listeners served to the end', count: `${lots.complete} of ${many}`, 'baseline is': '10 listeners', 'baseline count': `${few.complete} of 10`,
    ...judge(`all ${many}`, lots.complete === many, fewShort),
  });
  rows.push({
    figure: 'listener delivery lag behind the first listener, ms', ...cells(lots.lag), 'baseline is': '10 listeners', ...cells(few.lag, 'baseline '),
    ratio: ratio(tail(lots.lag), tail(few.lag)),
    ...judge('p99 < 500', tail(lots.lag) < 500, tail(few.lag) >= 500 ? `10 listeners p99 ${fixed(tail(few.lag))} ms` : undefined),
  });
}

/** An ffmpeg fallback started at the moment of a switch: from its spawn to its first audio page, ms. */
async function fallbackStart(): Promise<number> {
  const start = performance.now();
  const child = spawn('ffmpeg', fallbackArgs(fallbackInput(undefined)), { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    return await firstAudioPage(child.stdout!) - start;
  } finally {
    child.kill('SIGKILL');
  }
}

/** SHOWS shows heard by one listener across the fallback of a channel (its own onair), each switch measured at it. */
async function switches() {
  const withFallback = await startGate({ database: testDatabases[0], env: { ONAIR_GATE_FALLBACK: 'silence' } });
  const baseline: number[] = [];
  try {
    const listener = capture(`${withFallback.url}/listen`);
    for (let i = 0; i < SHOWS; i++) {
      baseline.push(await fallbackStart());
      await sleep(1000);
      await liveShow(withFallback, 3);
    }
    await sleep(1000);
    listener.close();
    const figures = Array.from({ length: SHOWS * 2 }, (_, i) => switchAt(listener.arrivals, i + 1));
    const [toFallback, missing, theirs] = [summary(figures.filter((_, i) => i % 2 === 1).map((f) => f.pause)), summary(figures.map((f) => f.missing)), summary(baseline)];
    rows.push({
      figure: 'show over -> fallback at a listener, ms without a page', ...cells(toFallback), 'baseline is': 'an ffmpeg fallback started then',
      ...cells(theirs, 'baseline '), ratio: ratio(toFallback.median, theirs.median), ...judge('every one < 100', toFallback.max < 100),
    });
    rows.push({
      figure: 'audio a listener misses at a switch (either way), ms', ...cells(missing), ...judge('every one < 100', missing.max < 100),
    });
  } finally {
    await withFallback.stop();
  }
}

/** One figure: a failure costs only its own rows, and the gate is idle again (or given time to be) for the next. */
async function figure(name: string, run: () => Promise<void>) {
  await attempt(name, async () => {
    await idle();
    await run();
  });
}

try {
  await figure('reserve -> bound', () => bindTimes(BINDS));
  await figure('relay delay and CPU', delayAndCpu);
  await figure('vanished source', vanish);
  await figure('listeners', listenersFigures);
  await figure('switches to and from the fallback', switches);
  printTable('gate', rows);
} finally {
  await server.stop();
}
finish();
