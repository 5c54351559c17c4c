import { execFile, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { tempDir } from '../test/support/onair.ts';
import {
  attempt, cells, finish, fixed, judge, option, printConditions, printTable, quick, ratio, requestJson, startChild, summary, testDatabases, timed,
  type ChildOnair, type Row, type Summary,
} from './support.ts';

/**
 * Archive throughput: uploading and downloading one large WAV file (1 GiB; 256 MiB with --quick) through the
 * HTTP API, beside baselines measured in the same run on the same file: `cat file > /dev/null`, `cp`, `cp` then
 * `sync` of the copy (an upload is fsynced), and a bare node:http server streaming the file over loopback to and
 * from curl (a transport baseline, writing 1 MiB at a time as the archive does). Every figure is over several runs
 * (--runs=N, 5 by default, 3 with --quick), compared by their medians; before each run the dirty pages of earlier runs
 * are flushed (`sync`) and the source file is read once, so that every side starts from the same warm page cache and
 * none pays for another's writeback. Goals: each transfer within 2x of cp; the server's memory grows by less than 50 MiB.
 * Then the server's memory: VmRSS and VmHWM of the onair child process around its first large upload. Node reads a
 * socket into a fresh buffer per chunk, and V8 frees dead ones only when their total nears its external-memory
 * threshold (64 MiB): the growth is about that, whatever the file size.
 * Run: npx node bench/recordings.ts [--quick] [--runs=N]
 */

const run = promisify(execFile);
const BYTES_PER_SECOND = 48_000 * 2 * 2;
const SIZE = (quick ? 256 : 1024) * 1024 * 1024;
const RUNS = Number(option('runs') ?? (quick ? 3 : 5));
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

/** curl, answering the status code; fails on anything but `expected`. */
async function curl(expected: string, out: string, ...args: string[]): Promise<void> {
  const { stdout } = await run('curl', ['-sS', '-o', out, '-w', '%{http_code}', ...args]);
  if (stdout !== expected) throw new Error(`curl ${args.join(' ')} answered ${stdout}, not ${expected}`);
}

/** Like `cat file > /dev/null`: reads the whole file, output discarded. */
function cat(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    spawn('cat', [file], { stdio: 'ignore' }).on('error', reject)
      .on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cat exited with ${code}`))));
  });
}

/** The transport floor: node:http alone, serving GET of `file` and taking PUT to `target`, fsynced, 1 MiB a read or write like the archive. */
async function bareServer(file: string, target: string): Promise<{ url: string; server: Server }> {
  const size = statSync(file).size;
  const server = createServer((request, response) => {
    const done = (error?: unknown) => (error ? response.destroy() : response.end());
    if (request.method === 'PUT') {
      pipeline(request, createWriteStream(target, { flush: true, highWaterMark: MiB })).then(() => done(), done);
    } else {
      response.writeHead(200, { 'content-length': size, 'content-type': 'audio/wav' });
      pipeline(createReadStream(file, { highWaterMark: MiB }), response).catch(done);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, server };
}

/**
 * Runs `work` RUNS times, each after `settle` and before `after` (neither timed), and summarises the milliseconds; a
 * failure costs only this figure (undefined).
 */
function measure(name: string, settle: () => Promise<void>, work: () => Promise<unknown>, after: () => void = () => {}): Promise<Summary | undefined> {
  return attempt(name, async () => {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await settle();
      times.push((await timed(work)).ms);
      after();
    }
    return summary(times);
  });
}

printConditions('recordings');
const dir = tempDir('onair-bench-recordings-');
const source = join(dir, 'programme.wav');
await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=f=440:r=48000:d=${Math.ceil(SIZE / BYTES_PER_SECOND)}`,
  '-ac', '2', '-c:a', 'pcm_s16le', source]);
const bare = await bareServer(source, join(dir, 'bare-upload.wav'));
const server = await startChild(testDatabases[0]);
try {
  const copy = join(dir, 'copy.wav');
  const size = statSync(source).size;
  const settle = async () => {
    await run('sync');
    await cat(source);
  };
  const drop = (file: string) => () => rmSync(file, { force: true });
  const path = await liveInstance(server);
  const pid = server.child.pid!;

  // Memory first, on a fresh server: what its first large upload costs.
  const memory = await attempt('memory', async () => {
    await settle();
    const rssStarted = status(pid, 'VmRSS');
    const hwmStarted = status(pid, 'VmHWM');
    // From here VmHWM is the peak since now (Linux: "5" to clear_refs resets the high-water mark), not that of start-up.
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    await curl('201', '/dev/null', '-T', source, '-H', 'content-type: audio/wav', `${server.url}${path}`);
    return { rssStarted, hwmStarted, rssFirst: status(pid, 'VmRSS'), hwmFirst: status(pid, 'VmHWM') };
  });

  const baselines = {
    cat: await measure('cat', settle, () => cat(source)),
    cp: await measure('cp', settle, () => run('cp', [source, copy]), drop(copy)),
    cpSync: await measure('cp; sync', settle, async () => {
      await run('cp', [source, copy]);
      await run('sync', [copy]);
    }, drop(copy)),
    bareUpload: await measure('bare upload', settle, () => curl('200', '/dev/null', '-T', source, bare.url), drop(join(dir, 'bare-upload.wav'))),
    bareDownload: await measure('bare download', settle, () => curl('200', '/dev/null', bare.url)),
    bareDownloadFile: await measure('bare download to a file', settle, () => curl('200', copy, bare.url), drop(copy)),
  };
  const upload = await measure('upload', settle, () => curl('200', '/dev/null', '-T', source, '-H', 'content-type: audio/wav', `${server.url}${path}`));
  const download = await measure('download', settle, () => curl('200', '/dev/null', `${server.url}${path}`));
  const downloadFile = await measure('download to a file', settle, async () => {
    await curl('200', copy, `${server.url}${path}`);
    if (statSync(copy).size !== size) throw new Error('the download is not the whole file');
  }, drop(copy));
  const hwmEnd = status(pid, 'VmHWM');

  const mibPerSecond = (ms: number) => size / MiB / (ms / 1000);
  const cpTimes = (ms: number) => (baselines.cp ? ms / baselines.cp.median : NaN);
  const row = (what: string, m: Summary | undefined): Row => ({
    what, ...(m ? cells(m) : { n: 0 }), 'MiB/s': mibPerSecond(m?.median ?? NaN),
    'vs cp': ratio(m?.median ?? NaN, baselines.cp?.median ?? NaN), 'vs cp+sync': ratio(m?.median ?? NaN, baselines.cpSync?.median ?? NaN),
  });
  /** An archive transfer, judged against cp; its bare node:http counterpart missing the goal too says the transport cannot. */
  const archiveRow = (what: string, m: Summary | undefined, floor: Summary | undefined): Row => {
    const floorOff = floor && cpTimes(floor.median) > GOAL_RATIO ? `bare node:http ${fixed(cpTimes(floor.median), 2)}x cp` : undefined;
    return { ...row(what, m), 'vs bare': ratio(m?.median ?? NaN, floor?.median ?? NaN), ...judge(`<= ${GOAL_RATIO}x cp`, cpTimes(m?.median ?? NaN) <= GOAL_RATIO, floorOff) };
  };
  const title = `${(size / MiB).toFixed(0)} MiB WAV, ms over ${RUNS} runs, each from a warm page cache with earlier writes synced`;
  printTable(`${title}: baselines`, [
    row('cat file > /dev/null', baselines.cat),
    row('cp file copy', baselines.cp),
    row('cp file copy; sync copy', baselines.cpSync),
    row('bare node:http PUT <- curl -T (fsync)', baselines.bareUpload),
    row('bare node:http GET -> curl > /dev/null', baselines.bareDownload),
    row('bare node:http GET -> curl -o file', baselines.bareDownloadFile),
  ]);
  printTable(`${title}: the archive`, [
    archiveRow('upload: PUT (streamed, fsync, ffprobe)', upload, baselines.bareUpload),
    archiveRow('download: GET -> curl > /dev/null', download, baselines.bareDownload),
    archiveRow('download: GET -> curl -o file', downloadFile, baselines.bareDownloadFile),
  ]);
  if (memory) {
    const first = (memory.hwmFirst - memory.rssStarted) / MiB;
    const all = (hwmEnd - memory.rssStarted) / MiB;
    printTable('server memory, onair child process, MiB', [
      { 'RSS idle': memory.rssStarted / MiB, 'peak of start-up': memory.hwmStarted / MiB, 'RSS after 1st upload': memory.rssFirst / MiB,
        'peak after 1st upload': memory.hwmFirst / MiB, 'peak at end': hwmEnd / MiB, 'growth 1st upload': first, 'growth whole run': all,
        file: size / MiB, ...judge(`growth < ${GOAL_MEMORY_MIB}`, all < GOAL_MEMORY_MIB) },
    ]);
  }
} finally {
  bare.server.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
finish();
