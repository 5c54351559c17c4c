// Live scheduler figures, each beside a baseline from the same run: how late a scheduled activation opens the job's
// SRT port after its time_utc, beside a bare ffmpeg spawn -> bound; and the same with 10,000 workflows pending.
// Goal from issue 12: p99 < 100 ms.
// npx node bench/live.ts [--quick] [--jobs=100] [--pending=10000]
import { spawn } from 'node:child_process';
import { udpPortBound } from '../src/gate/session.ts';
import { freeUdpPort } from '../test/gate/harness.ts';
import {
  attempt, cells, finish, fixed, inFlight, judge, option, preciseNow, printConditions, printTable, quick, ratio, startInProcess, summary, tail,
  testDatabases, waitFor, type Row,
} from './support.ts';

const JOBS = Number(option('jobs') ?? (quick ? 20 : 100));
const PENDING = Number(option('pending') ?? (quick ? 1000 : 10_000));
/** Activations this far apart: one job is open at a time, so each lateness is measured alone. */
const SPACING_S = 1;
const HOUR_S = 3600;

printConditions('live');
const rows: Row[] = [];
const server = await startInProcess(testDatabases[0]!, { ONAIR_SRT_PORT_START: '23000', ONAIR_SRT_PORT_END: '23999' });
const post = async (path: string, body: unknown) => {
  const answer = await server.request('POST', path, body);
  if (answer.status >= 300) throw new Error(`POST ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
};

/** Resolves once `port` is bound, polled every millisecond; answers when (epoch ms). */
async function boundAt(port: number, timeoutMs: number): Promise<number> {
  await waitFor(() => udpPortBound(port), `port ${port} bound`, timeoutMs, 1);
  return preciseNow();
}

/** Bare ffmpeg: spawn an SRT listener and wait until its port is bound. */
async function bareSpawns(n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freeUdpPort();
    const start = preciseNow();
    const child = spawn('ffmpeg', ['-nostdin', '-loglevel', 'quiet', '-i', `srt://0.0.0.0:${port}?mode=listener&listen_timeout=5000000`, '-f', 'null', '-'], { stdio: 'ignore' });
    times.push(await boundAt(port, 5000) - start);
    child.kill('SIGKILL');
  }
  return times;
}

/** `n` jobs, each activated by a workflow SPACING_S after the previous one and closed SPACING_S later: each one's lateness. */
async function scheduledLateness(n: number): Promise<number[]> {
  const jobs = await inFlight(Array.from({ length: n }), 4, async () => (await post('/v1/jobs', { static: true })) as { id: string; ingest: { port: number } });
  const first = Math.ceil(Date.now() / 1000) + 3;
  await inFlight(jobs, 4, (job, i) => post('/v1/scheduler/jobstartstop', {
    job_id: job.id, activation: { time_utc: first + i * SPACING_S }, deactivation: { time_utc: first + (i + 1) * SPACING_S },
  }));
  const late: number[] = [];
  for (const [i, job] of jobs.entries()) late.push(await boundAt(job.ingest.port, (first + i * SPACING_S) * 1000 - Date.now() + 5000) - (first + i * SPACING_S) * 1000);
  return late;
}

/** PENDING workflows of one job, an hour apart from tomorrow on: 2 pending tasks each. */
async function pendingWorkflows(count: number): Promise<number> {
  const job = (await post('/v1/jobs', { static: true, name: 'far future' })) as { id: string };
  const start = Math.ceil(Date.now() / 1000) + 86_400;
  const made = await inFlight(Array.from({ length: count }), 8, (_, i) => server.onair.live.scheduler.schedule({
    job: job.id, activation: (start + i * HOUR_S) * 1000, deactivation: (start + i * HOUR_S + 60) * 1000,
  }));
  return made.length;
}

const bare = summary(await bareSpawns(quick ? 10 : 30));
const lateness = async (figure: string) => {
  const ours = summary(await scheduledLateness(JOBS));
  rows.push({
    figure, ...cells(ours), 'baseline is': 'bare ffmpeg spawn -> bound', ...cells(bare, 'baseline '), ratio: ratio(ours.median, bare.median),
    ...judge('p99 < 100', tail(ours) < 100, tail(bare) >= 100 ? `bare ffmpeg p99 ${fixed(tail(bare))} ms` : undefined),
  });
};
await attempt('lateness', () => lateness(`time_utc -> SRT port bound, ms (${JOBS} jobs)`));
const pending = await attempt('pending workflows', () => pendingWorkflows(PENDING));
if (pending !== undefined) await attempt('lateness with pending', () => lateness(`the same with ${pending} workflows pending, ms`));
printTable('live scheduler (SQLite)', rows);
await server.stop();
finish();
