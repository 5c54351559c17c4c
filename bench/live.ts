// Live scheduler figures, each beside a baseline from the same run: how late a scheduled activation opens the job's
// SRT port after its time_utc, beside a bare ffmpeg spawn -> bound; and the same with 10,000 workflows pending.
// Goal from issue 12: p99 < 100 ms.
// npx node bench/live.ts [--quick] [--jobs=100] [--pending=10000]
import { spawn } from 'node:child_process';
import { udpPortBound } from '../src/gate/session.ts';
import { freeUdpPort } from '../test/gate/harness.ts';
import {
  attempt, cells, finish, inFlight, judge, option, preciseNow, printConditions, printTable, quick, ratio, startInProcess, summary, tail,
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

interface Opening {
  /** time_utc -> port bound: negative when open before time_utc. */
  late: number;
  /** The activation task fired -> port bound: the time the activation takes. */
  open: number;
}

/** `n` jobs, each activated by a workflow SPACING_S after the previous one and closed SPACING_S later. */
async function scheduledOpenings(n: number): Promise<Opening[]> {
  const jobs = await inFlight(Array.from({ length: n }), 4, async () => (await post('/v1/jobs', { static: true })) as { id: string; ingest: { port: number } });
  const first = Math.ceil(Date.now() / 1000) + 3;
  const workflows = await inFlight(jobs, 4, async (job, i) => (await post('/v1/scheduler/jobstartstop', {
    job_id: job.id, activation: { time_utc: first + i * SPACING_S }, deactivation: { time_utc: first + (i + 1) * SPACING_S },
  })) as { workflow_id: string });
  const bound: number[] = [];
  for (const [i, job] of jobs.entries()) bound.push(await boundAt(job.ingest.port, (first + i * SPACING_S) * 1000 - Date.now() + 5000));
  return inFlight(workflows, 4, async ({ workflow_id: id }, i) => {
    const fired = Date.parse((await server.request('GET', `/v1/scheduler/jobstartstop/${id}`)).body.activation.fired_at);
    return { late: bound[i]! - (first + i * SPACING_S) * 1000, open: bound[i]! - fired };
  });
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
const lateness = async (what: string) => {
  const openings = await scheduledOpenings(JOBS);
  const late = summary(openings.map((o) => o.late));
  const open = summary(openings.map((o) => o.open));
  rows.push({
    figure: `time_utc -> SRT port bound, ms (${what})`, ...cells(late), 'baseline is': '', ...judge('p99 < 100', tail(late) < 100, undefined,
      `negative: open before time_utc (ONAIR_LIVE_OPEN_LEAD ${server.config.live.openLeadMs} ms)`),
  });
  rows.push({
    figure: `activation fired -> SRT port bound, ms (${what})`, ...cells(open), 'baseline is': 'bare ffmpeg spawn -> bound', ...cells(bare, 'baseline '),
    ratio: ratio(open.median, bare.median), ...judge(`max < open lead`, open.max < server.config.live.openLeadMs),
  });
};
await attempt('lateness', () => lateness(`${JOBS} jobs`));
const pending = await attempt('pending workflows', () => pendingWorkflows(PENDING));
if (pending !== undefined) await attempt('lateness with pending', () => lateness(`${JOBS} jobs, ${pending} workflows pending`));
printTable('live scheduler (SQLite)', rows);
await server.stop();
finish();
