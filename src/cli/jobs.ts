import { parseArgs } from 'node:util';
import { OnairClient } from './client.ts';
import type { Output } from './output.ts';

export const JOBS_USAGE = `onair jobs add [NAME] [--format ogg|mpegts] [--record] [--region R] [--reconnect-time S] [--max-waiting-time S]
                                       create a live job with a static SRT entry point; prints its ingest and stream key
onair jobs list [--state S,...] [--page-size N] [--start-token T]
                                       live jobs, newest first (--start-token: the next_token of the previous page)
onair jobs show ID                     a live job, its ingest and its history
onair jobs activate ID                 open the job to its encoder
onair jobs deactivate ID               close the job: the stream ends, new connections are refused
onair jobs cancel ID                   cancel the job for good (its workflows with it)`;

interface Job {
  id: string; name: string; state: string; sep_state: string; format: string; playback_url: string;
  ingest: { url: string; stream_key: string };
}

const said = (done: string) => (job: Job) => `job ${job.id} ${done}: ${job.name}, ${job.state} (${job.sep_state})`;
const created = (job: Job) => `${said('created')(job)}\ningest: ${job.ingest.url}\nstream key: ${job.ingest.stream_key}\nplayback: ${job.playback_url}`;

/** One row per job: what an operator looks for, without the stream keys. */
const rows = (body: { jobs: Job[]; next_token: string | null }) => ({
  jobs: body.jobs.map((job) => ({ id: job.id, name: job.name, state: job.state, 'sep state': job.sep_state, format: job.format, ingest: job.ingest.url })),
  next_token: body.next_token ?? 'none (last page)',
});

const seconds = (flag: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${flag} must be a whole number of seconds, got "${value}"`);
  return Number(value);
};

/** `onair jobs ...` */
export async function jobsCommand(args: string[], out: Output, client = new OnairClient()): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string' }, record: { type: 'boolean' }, region: { type: 'string' }, 'reconnect-time': { type: 'string' },
      'max-waiting-time': { type: 'string' }, state: { type: 'string' }, 'page-size': { type: 'string' }, 'start-token': { type: 'string' },
    },
  });
  const [verb, first] = positionals;
  const path = (suffix = '') => `/v1/jobs/${encodeURIComponent(first!)}${suffix}`;
  switch (verb) {
    case 'add':
      return out.print(await client.request('POST', '/v1/jobs', {
        static: true, name: first, format: values.format, record: values.record, region: values.region,
        reconnect_time: seconds('reconnect-time', values['reconnect-time']), max_waiting_time: seconds('max-waiting-time', values['max-waiting-time']),
      }), created);
    case 'list': {
      const query = new URLSearchParams();
      if (values.state) query.set('state', values.state);
      if (values['page-size']) query.set('page_size', values['page-size']);
      if (values['start-token']) query.set('start_token', values['start-token']);
      return out.print(await client.request('GET', `/v1/jobs${query.size > 0 ? `?${query}` : ''}`), rows);
    }
    case 'show':
      if (!first) break;
      return out.print(await client.request('GET', path()));
    case 'activate':
    case 'deactivate':
    case 'cancel':
      if (!first) break;
      return out.print(await client.request('PUT', path(`/${verb}`)), said(`${verb === 'cancel' ? 'cancelled' : `${verb}d`}`));
  }
  process.stderr.write(`${JOBS_USAGE}\n`);
  return 2;
}
