import { parseArgs } from 'node:util';
import { parseDateTime } from '../core/time.ts';
import { OnairClient } from './client.ts';
import type { Output } from './output.ts';

export const SCHEDULER_USAGE = `onair scheduler add JOB_ID ACTIVATION DEACTIVATION [--description T] [--notification-url URL]
                   [--activation-notification S] [--deactivation-notification S]
                                       schedule a job's activation and deactivation (a jobstartstop workflow);
                                       times: ISO 8601 (UTC unless it has an offset) or Unix seconds; S: seconds
                                       before the time to send notify-activate / notify-deactivate
onair scheduler list [--job ID] [--state S,...] [--start T] [--end T] [--page-size N] [--start-token T]
                                       workflows by activation time, from --start to before --end
                                       (--start-token: the next_token of the previous page)
onair scheduler show ID                a workflow
onair scheduler move ID [--activation T] [--deactivation T]
                                       move its tasks still pending
onair scheduler cancel ID              cancel it: both tasks before the activation, the deactivation after`;

interface Task { state: string; time_utc: number }
interface Workflow {
  workflow_id: string; job_id: string; activation: Task; deactivation: Task; description?: string;
  notification_webhook?: string; notification_secret?: string;
}

const when = (task: Task) => `${new Date(task.time_utc * 1000).toISOString()} (${task.state})`;
/** A workflow in a sentence, with the secret of its notification webhook when this answer made it (shown only now). */
const said = (done: string) => (w: Workflow) =>
  `workflow ${w.workflow_id} ${done}: job ${w.job_id}, activation ${when(w.activation)}, deactivation ${when(w.deactivation)}`
  + (w.notification_secret ? `\nnotifications signed by webhook ${w.notification_webhook}, secret: ${w.notification_secret} (shown only now)` : '');

/** One row per workflow, its two tasks side by side. */
const rows = (body: { workflows: Workflow[]; next_token: string | null }) => ({
  workflows: body.workflows.map((w) => ({
    id: w.workflow_id, job: w.job_id, activation: new Date(w.activation.time_utc * 1000).toISOString(), 'activation state': w.activation.state,
    deactivation: new Date(w.deactivation.time_utc * 1000).toISOString(), 'deactivation state': w.deactivation.state, description: w.description ?? '',
  })),
  next_token: body.next_token ?? 'none (last page)',
});

/** Unix seconds of a time given as Unix seconds or as an ISO 8601 date-time. */
function unixSeconds(what: string, value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const ms = parseDateTime(value);
  if (ms === undefined) throw new Error(`${what} must be an ISO 8601 date-time or Unix seconds, got "${value}"`);
  return Math.floor(ms / 1000);
}

const integer = (flag: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${flag} must be a whole number of seconds, got "${value}"`);
  return Number(value);
};

const task = (what: string, time: string | undefined, notification?: number) =>
  (time === undefined ? undefined : { time_utc: unixSeconds(what, time), ...(notification === undefined ? {} : { notification }) });

const PATH = '/v1/scheduler/jobstartstop';

/** `onair scheduler ...` */
export async function schedulerCommand(args: string[], out: Output, client = new OnairClient()): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      description: { type: 'string' }, 'notification-url': { type: 'string' }, 'activation-notification': { type: 'string' },
      'deactivation-notification': { type: 'string' }, job: { type: 'string' }, state: { type: 'string' }, 'page-size': { type: 'string' },
      'start-token': { type: 'string' }, activation: { type: 'string' }, deactivation: { type: 'string' }, start: { type: 'string' },
      end: { type: 'string' },
    },
  });
  const [verb, first, second, third] = positionals;
  const one = () => `${PATH}/${encodeURIComponent(first!)}`;
  switch (verb) {
    case 'add':
      if (!third) break;
      return out.print(await client.request('POST', PATH, {
        job_id: first, activation: task('ACTIVATION', second, integer('activation-notification', values['activation-notification'])),
        deactivation: task('DEACTIVATION', third, integer('deactivation-notification', values['deactivation-notification'])),
        description: values.description, notification_url: values['notification-url'],
      }), said('scheduled'));
    case 'list': {
      const query = new URLSearchParams();
      if (values.job) query.set('job_id', values.job);
      if (values.state) query.set('state', values.state);
      if (values.start) query.set('start', String(unixSeconds('--start', values.start)));
      if (values.end) query.set('end', String(unixSeconds('--end', values.end)));
      if (values['page-size']) query.set('page_size', values['page-size']);
      if (values['start-token']) query.set('start_token', values['start-token']);
      return out.print(await client.request('GET', `${PATH}${query.size > 0 ? `?${query}` : ''}`), rows);
    }
    case 'show':
      if (!first) break;
      return out.print(await client.request('GET', one()));
    case 'move':
      if (!first || (values.activation === undefined && values.deactivation === undefined)) break;
      return out.print(await client.request('PUT', one(), {
        activation: task('--activation', values.activation), deactivation: task('--deactivation', values.deactivation),
      }), said('moved'));
    case 'cancel':
      if (!first) break;
      return out.print(await client.request('DELETE', one()), said('cancelled'));
  }
  process.stderr.write(`${SCHEDULER_USAGE}\n`);
  return 2;
}
