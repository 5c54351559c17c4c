// Gate figures, each beside a baseline from the same run: reserve -> bound SRT port, CPU per relay,
// delay the relay adds over a direct SRT link, how soon a vanished source frees the channel,
// and HTTP listeners served with their lag.
// npx node bench/gate.ts [--quick] [--listeners=1000]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { processCpuTicks } from '../src/core/processes.ts';
import { udpPortBound } from '../src/gate/session.ts';
import { freeUdpPort, pushTone, startGate } from '../test/gate/harness.ts';
import { fixed, option, percentile, printTable, quick, ratio, testDatabases, waitFor } from './support.ts';

const TICKS = 100;
const server = await startGate({ database: testDatabases[0], env: { ONAIR_GATE_RESERVATION_TTL: '30' } });
const event = server.programme.add('live', Date.now(), 86_400);
const rows: Array<Record<string, string | number>> = [];
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
  rows.push({ figure: 'POST /reserve -> SRT port bound, p50 ms', gate: fixed(percentile(gate, 50)), baseline: fixed(percentile(bare, 50)), 'baseline is': 'bare ffmpeg spawn -> bound', ratio: ratio(percentile(gate, 50), percentile(bare, 50)), goal: '<= 150' });
}

function firstByteAfter(start: number, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, (res) => res.once('data', () => {
      resolve(performance.now() - start);
      res.destroy();
    })).on('error', reject);
  });
}

async function delayAndCpu(seconds: number) {
  // Direct: ffmpeg source -> ffmpeg SRT listener, first byte on its stdout.
  const port = await freeUdpPort();
  const direct = spawn('ffmpeg', ['-nostdin', '-loglevel', 'quiet', '-probesize', '4096', '-analyzeduration', '0',
    '-i', `srt://0.0.0.0:${port}?mode=listener`, '-c', 'copy', '-f', 'ogg', '-page_duration', '20000', '-flush_packets', '1', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await waitFor(() => udpPortBound(port), 'direct listener', 5000, 1);
  let start = performance.now();
  const directFirst = new Promise<number>((resolve) => direct.stdout!.once('data', () => resolve(performance.now() - start)));
  const directSource = pushTone(`srt://127.0.0.1:${port}`, { seconds: 2 });
  const directMs = await directFirst;
  await directSource.exited;
  direct.kill('SIGKILL');

  const { url } = await reserve();
  start = performance.now();
  const heard = firstByteAfter(start, `${server.url}/listen`);
  const source = pushTone(url, { seconds });
  const relayMs = await heard;
  const relay = relayPid();
  const [relay0, source0, t0] = [processCpuTicks(relay) ?? 0, processCpuTicks(source.child.pid!) ?? 0, performance.now()];
  await new Promise((resolve) => setTimeout(resolve, (seconds - 2) * 1000));
  const wall = (performance.now() - t0) / 1000;
  const relayCpu = ((processCpuTicks(relay) ?? 0) - relay0) / TICKS / wall * 100;
  const sourceCpu = ((processCpuTicks(source.child.pid!) ?? 0) - source0) / TICKS / wall * 100;
  await source.exited;
  await idle();
  rows.push({ figure: 'CPU of one audio relay, % of a core', gate: fixed(relayCpu, 2), baseline: fixed(sourceCpu, 2), 'baseline is': 'the Opus source encoder', ratio: ratio(relayCpu, sourceCpu), goal: '<= 2' });
  rows.push({ figure: 'source start -> first byte, ms', gate: fixed(relayMs), baseline: fixed(directMs), 'baseline is': 'direct ffmpeg-to-ffmpeg SRT', ratio: ratio(relayMs, directMs), goal: `added <= 50 (added ${fixed(relayMs - directMs)})` });
}

/** Source killed -> channel free, beside a listener that relies on SRT's own peer idle timeout. */
async function vanish() {
  const killAndTime = async (url: string, over: () => Promise<unknown>) => {
    const source = pushTone(url, { seconds: 30 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    source.child.kill('SIGKILL');
    const start = performance.now();
    await over();
    return performance.now() - start;
  };
  const gate = await killAndTime((await reserve()).url, idle);
  const port = await freeUdpPort();
  const bare = spawn('ffmpeg', ['-nostdin', '-loglevel', 'quiet', '-i', `srt://0.0.0.0:${port}?mode=listener`, '-c', 'copy', '-f', 'ogg', '-'], { stdio: 'ignore' });
  await waitFor(() => udpPortBound(port), 'bare listener', 5000, 1);
  const srt = await killAndTime(`srt://127.0.0.1:${port}`, () => new Promise((resolve) => bare.once('exit', resolve)));
  rows.push({ figure: 'source killed -> channel free, ms', gate: fixed(gate), baseline: fixed(srt), 'baseline is': 'ffmpeg listener, SRT peer idle', ratio: ratio(gate, srt), goal: '< SRT idle (5000)' });
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
  const complete = arrivals.filter((list) => list.length > 0 && list.at(-1)![0] === Math.max(...arrivals.map((l) => l.at(-1)?.[0] ?? 0))).length;
  return { p99: percentile(lags, 99), complete };
}

await bindTimes(quick ? 3 : 10);
await delayAndCpu(quick ? 5 : 10);
await vanish();
const many = Number(option('listeners') ?? (quick ? 200 : 1000));
const few = await listeners(10, 4);
const lots = await listeners(many, quick ? 4 : 8);
rows.push({ figure: `listeners served to the end (of ${many})`, gate: lots.complete, baseline: `${few.complete} of 10`, 'baseline is': '10 listeners', ratio: '', goal: '1000' });
rows.push({ figure: 'listener delivery lag p99, ms', gate: fixed(lots.p99), baseline: fixed(few.p99), 'baseline is': '10 listeners', ratio: ratio(lots.p99, few.p99), goal: '< 500' });
printTable('gate', rows);
await server.stop();
