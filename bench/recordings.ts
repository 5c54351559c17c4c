import { execFile } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../test/support/onair.ts';
import { printConditions, printTable, quick, ratio, requestJson, startChild, testDatabases, timed, type ChildOnair } from './support.ts';

/**
 * Archive throughput: uploading and downloading one large WAV file (1 GiB; 256 MiB with --quick) through the
 * HTTP API, each beside `cp` of the same file, and the server's peak memory growth while doing so.
 * Run: npx node bench/recordings.ts [--quick]
 */

const run = promisify(execFile);
const BYTES_PER_SECOND = 48_000 * 2 * 2;
const SIZE = (quick ? 256 : 1024) * 1024 * 1024;
const GOAL_RATIO = 2;
const GOAL_MEMORY_MIB = 50;
const MiB = 1024 * 1024;

function status(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`))!;
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

async function liveInstance(server: ChildOnair): Promise<string> {
  const show = await requestJson(server.url, 'POST', '/shows', { title: 'Bench', description: 'archive throughput' });
  const event = await requestJson(server.url, 'POST', '/events', {
    showId: show.body.id, type: 'live', start: '2026-12-04T20:00:00', duration: 3600, timezone: 'UTC',
  });
  if (event.status !== 201) throw new Error(`could not create the event: ${JSON.stringify(event.body)}`);
  return `/recordings/${event.body.id}/2026-12-04T20:00:00`;
}

const curl = (out: string, ...args: string[]) => run('curl', ['-sS', '-o', out, '-w', '%{http_code}', ...args]);

printConditions('recordings');
const dir = tempDir('onair-bench-recordings-');
const server = await startChild(testDatabases[0]);
try {
  const source = join(dir, 'programme.wav');
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=f=440:r=48000:d=${Math.ceil(SIZE / BYTES_PER_SECOND)}`,
    '-ac', '2', '-c:a', 'pcm_s16le', source]);
  const size = statSync(source).size;
  const path = await liveInstance(server);
  const pid = server.child.pid!;
  const rssStarted = status(pid, 'VmRSS');
  await curl('/dev/null', '-T', source, '-H', 'content-type: audio/wav', `${server.url}${path}`);
  const rssBefore = status(pid, 'VmRSS');
  const hwmBefore = status(pid, 'VmHWM');

  const cp = await timed(() => run('cp', [source, join(dir, 'copy.wav')]));
  const upload = await timed(() => curl('/dev/null', '-T', source, '-H', 'content-type: audio/wav', `${server.url}${path}`));
  rmSync(join(dir, 'copy.wav'));
  const cpBack = await timed(() => run('cp', [source, join(dir, 'copy.wav')]));
  const download = await timed(() => curl(join(dir, 'download.wav'), `${server.url}${path}`));
  const hwmAfter = status(pid, 'VmHWM');
  if (upload.value.stdout !== '200' || download.value.stdout !== '200') throw new Error(`unexpected answers ${upload.value.stdout} ${download.value.stdout}`);
  if (statSync(join(dir, 'download.wav')).size !== size) throw new Error('the download is not the whole file');

  const mibPerSecond = (ms: number) => size / MiB / (ms / 1000);
  printTable(`${(size / MiB).toFixed(0)} MiB WAV through the archive (goal: within ${GOAL_RATIO}x of cp)`, [
    { what: 'upload (PUT, streamed, fsync, ffprobe)', ms: upload.ms, 'MiB/s': mibPerSecond(upload.ms), 'cp ms': cp.ms, 'cp MiB/s': mibPerSecond(cp.ms), ratio: ratio(upload.ms, cp.ms) },
    { what: 'download (GET)', ms: download.ms, 'MiB/s': mibPerSecond(download.ms), 'cp ms': cpBack.ms, 'cp MiB/s': mibPerSecond(cpBack.ms), ratio: ratio(download.ms, cpBack.ms) },
  ]);
  const growth = (hwmAfter - hwmBefore) / MiB;
  printTable(`server memory (goal: peak growth < ${GOAL_MEMORY_MIB} MiB)`, [
    { 'RSS at start MiB': rssStarted / MiB, 'RSS after warm-up MiB': rssBefore / MiB, 'peak before MiB': hwmBefore / MiB, 'peak after MiB': hwmAfter / MiB, 'peak growth MiB': growth,
      'file MiB': size / MiB, 'growth / file': ratio(growth, size / MiB, 0) },
  ]);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
