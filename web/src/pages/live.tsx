import { DateTime } from 'luxon';
import { useState, type FormEvent } from 'react';
import { api, get, query } from '../api.ts';
import { ConfirmButton } from '../confirm.tsx';
import { useLive } from '../live.ts';
import { Badge, CopyButton, Empty, Field, FormRefusal, Page, Refusal, Time, useAction, useStation } from '../ui.tsx';
import './live.css';

interface Job {
  id: string; name: string; state: string; sep_state: string; format: string; record: boolean; channel: string;
  ingest: { url: string; host: string; port: number; stream_key: string };
  playback_url: string; reconnect_time: number; max_waiting_time: number; updated_at: number;
}
interface WorkflowTask { state: string; time_utc: number; fired_at?: string; error?: string }
interface Workflow { workflow_id: string; job_id: string; activation: WorkflowTask; deactivation: WorkflowTask; description?: string }
interface LiveState { jobs: Job[]; workflows: Workflow[] }

const DAYS = 7;
const CHANGES = ['live-job-changed', 'live-workflow-changed'];
const OPEN = ['waiting', 'processing', 'disconnected'];

/** Every item of a seed 001 list, page by page (`next_token`). */
async function allPages<T>(path: string, key: string, signal: AbortSignal): Promise<T[]> {
  const items: T[] = [];
  let token: string | null = null;
  do {
    const page: Record<string, unknown> & { next_token: string | null } =
      await get(`${path}${path.includes('?') ? '&' : '?'}page_size=1000${token ? `&start_token=${encodeURIComponent(token)}` : ''}`, signal);
    items.push(...(page[key] as T[]));
    token = page.next_token;
  } while (token !== null);
  return items;
}

async function load(from: number, to: number, signal: AbortSignal): Promise<LiveState> {
  // A workflow that began the day before may still be open in the first day shown.
  const window = query({ start: Math.floor(from / 1000) - 86_400, end: Math.ceil(to / 1000) });
  const [jobs, workflows] = await Promise.all([
    allPages<Job>('/v1/jobs', 'jobs', signal),
    allPages<Workflow>(`/v1/scheduler/jobstartstop${window}`, 'workflows', signal),
  ]);
  // Cancelled jobs stay readable, after the others; a workflow cancelled before it opened anything never happens.
  const cancelled = (job: Job) => (job.state === 'cancelled' ? 1 : 0);
  return { jobs: jobs.sort((a, b) => cancelled(a) - cancelled(b)), workflows: workflows.filter((w) => w.activation.state !== 'cancelled') };
}

export default function Live() {
  const { timezone } = useStation();
  const [firstDay, setFirstDay] = useState(() => DateTime.now().setZone(timezone).startOf('day').toMillis());
  const to = DateTime.fromMillis(firstDay, { zone: timezone }).plus({ days: DAYS }).toMillis();
  const { data, error, reload } = useLive((signal) => load(firstDay, to, signal), CHANGES, [firstDay, to]);
  const moveDays = (days: number) => setFirstDay(DateTime.fromMillis(firstDay, { zone: timezone }).plus({ days }).toMillis());
  return (
    <Page title="Live jobs and scheduler">
      <Refusal error={error} />
      <div className="live-layout">
        <section aria-labelledby="jobs-title">
          <h2 id="jobs-title">Jobs</h2>
          {data === undefined ? <Empty>Loading the jobs…</Empty> : data.jobs.length === 0 ? <Empty>No live jobs yet: create one below.</Empty> : (
            <div className="jobs">{data.jobs.map((job) => <JobCard key={job.id} job={job} changed={reload} />)}</div>
          )}
        </section>
        <section aria-labelledby="calendar-title">
          <h2 id="calendar-title">Workflows</h2>
          <div className="actions live-days" role="group" aria-label="Move the calendar">
            <button type="button" onClick={() => moveDays(-DAYS)}>Previous week</button>
            <button type="button" onClick={() => setFirstDay(DateTime.now().setZone(timezone).startOf('day').toMillis())}>From today</button>
            <button type="button" onClick={() => moveDays(DAYS)}>Next week</button>
          </div>
          {data && <Agenda firstDay={firstDay} workflows={data.workflows} jobs={data.jobs} changed={reload} />}
        </section>
      </div>
      <div className="live-forms">
        <JobForm created={reload} />
        {data && <WorkflowForm jobs={data.jobs.filter((job) => job.state !== 'cancelled')} created={reload} />}
      </div>
    </Page>
  );
}

function JobCard({ job, changed }: { job: Job; changed: () => void }) {
  const action = useAction();
  const act = (method: string, path: string) => async () => {
    if (await action.run(() => api(method, `/v1/jobs/${job.id}/${path}`)) !== undefined) changed();
  };
  const open = OPEN.includes(job.state);
  const cancelled = job.state === 'cancelled';
  return (
    <article className="card job" aria-labelledby={`job-${job.id}`} data-state={job.state}>
      <h3 id={`job-${job.id}`}>{job.name} <Badge state={job.state} /></h3>
      <dl className="facts">
        <dt>Steps</dt><dd>{job.sep_state.replaceAll('_', ' ')}</dd>
        <dt>Format</dt><dd>{job.format}{job.record ? ' · recorded' : ''}</dd>
        {!cancelled && <Ingest job={job} />}
        <dt>Waits</dt><dd>{job.max_waiting_time} s for the encoder · {job.reconnect_time} s to reconnect</dd>
        <dt>Changed</dt><dd><Time value={job.updated_at} /></dd>
      </dl>
      {!cancelled && (
        <div className="actions">
          {open
            ? <button type="button" className="primary" disabled={action.busy} onClick={act('PUT', 'deactivate')}>Deactivate</button>
            : <button type="button" className="primary" disabled={action.busy} onClick={act('PUT', 'activate')}>Activate</button>}
          <ConfirmButton label="Rotate stream key" busy={action.busy || open} question="The encoder must then use the new key."
            confirm="Rotate the key" onConfirm={() => void act('POST', 'stream_key/rotate')()} />
          <ConfirmButton label="Cancel job" danger busy={action.busy} question="For good: its workflows are cancelled and its channel removed."
            confirm="Cancel the job" keep="Keep it" onConfirm={() => void act('PUT', 'cancel')()} />
        </div>
      )}
      <Refusal error={action.error} />
    </article>
  );
}

/** Where the encoder sends: each part with a copy button. */
function Ingest({ job }: { job: Job }) {
  const parts: Array<[string, string]> = [
    ['SRT URL', job.ingest.url], ['Host', job.ingest.host], ['Port', String(job.ingest.port)], ['Stream key', job.ingest.stream_key], ['Playback', job.playback_url],
  ];
  return parts.map(([name, value]) => (
    <div key={name} className="ingest-part">
      <dt>{name}</dt>
      <dd><code>{value}</code> <CopyButton value={value} label={`${name} of ${job.name}`} /></dd>
    </div>
  ));
}

function JobForm({ created }: { created: () => void }) {
  const action = useAction();
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const values = new FormData(form);
    const seconds = (name: string) => (values.get(name) === '' ? undefined : Number(values.get(name)));
    const body = {
      static: true, name: String(values.get('name')) || undefined, format: values.get('format'), record: values.get('record') === 'on',
      reconnect_time: seconds('reconnect_time'), max_waiting_time: seconds('max_waiting_time'),
    };
    if (await action.run(() => api('POST', '/v1/jobs', { body })) !== undefined) {
      form.reset();
      created();
    }
  };
  return (
    <section className="card live-form" aria-labelledby="new-job">
      <h3 id="new-job">New job</h3>
      <form className="stack" noValidate onSubmit={(event) => void submit(event)}>
        <Field label="Name" name="name" error={action.error} hint="job-<id> when left empty">{(props) => <input {...props} />}</Field>
        <div className="row">
          <Field label="Format" name="format" error={action.error}>
            {(props) => <select {...props}><option value="ogg">ogg (Opus audio)</option><option value="mpegts">mpegts (H.264 + AAC)</option></select>}
          </Field>
          <Field label="Reconnect time (s)" name="reconnect_time" error={action.error} hint="1–7200, 1800 when empty">{(props) => <input {...props} type="number" inputMode="numeric" />}</Field>
          <Field label="Maximum wait (s)" name="max_waiting_time" error={action.error} hint="1–7200, 1800 when empty">{(props) => <input {...props} type="number" inputMode="numeric" />}</Field>
        </div>
        <label className="check"><input type="checkbox" name="record" /> Record activations that name a programme instance</label>
        <FormRefusal error={action.error} fields={['name', 'format', 'reconnect_time', 'max_waiting_time']} />
        <div><button type="submit" className="primary" disabled={action.busy}>Create job</button></div>
      </form>
    </section>
  );
}

interface Segment { workflow: Workflow; from: number; to: number }

/** Seven days as columns, each workflow where it opens and closes its job (cut at midnight into each day it spans). */
function Agenda({ firstDay, workflows, jobs, changed }: { firstDay: number; workflows: Workflow[]; jobs: Job[]; changed: () => void }) {
  const { timezone } = useStation();
  const [selected, setSelected] = useState<string>();
  const names = new Map(jobs.map((job) => [job.id, job.name]));
  const days = Array.from({ length: DAYS }, (_, index) => DateTime.fromMillis(firstDay, { zone: timezone }).plus({ days: index }));
  const chosen = workflows.find((w) => w.workflow_id === selected);
  return (
    <>
      <div className="agenda">
        <ol className="agenda-hours" aria-hidden="true">{[0, 3, 6, 9, 12, 15, 18, 21].map((hour) => <li key={hour}>{String(hour).padStart(2, '0')}:00</li>)}</ol>
        {days.map((day) => {
          const [start, end] = [day.toMillis(), day.plus({ days: 1 }).toMillis()];
          const segments: Segment[] = workflows.map((workflow) => ({ workflow, from: workflow.activation.time_utc * 1000, to: workflow.deactivation.time_utc * 1000 }))
            .filter((s) => s.from < end && s.to > start).map((s) => ({ ...s, from: Math.max(s.from, start), to: Math.min(s.to, end) }));
          return (
            <section key={start} className="agenda-day" aria-label={day.toFormat('cccc d LLLL')}>
              <h3>{day.toFormat('ccc d LLL')}</h3>
              {segments.length === 0 && <p className="agenda-none">nothing</p>}
              <ul>
                {segments.map((segment) => (
                  <li key={segment.workflow.workflow_id} style={{ top: `${((segment.from - start) / (end - start)) * 100}%`, minHeight: `${((segment.to - segment.from) / (end - start)) * 100}%` }}>
                    <button type="button" className={`workflow workflow-${segment.workflow.deactivation.state}`} aria-pressed={selected === segment.workflow.workflow_id}
                      title={`${clock(segment.from, timezone)}–${clock(segment.to, timezone)} ${segment.workflow.description ?? ''} (${names.get(segment.workflow.job_id) ?? 'unknown job'}, ${stateWords(segment.workflow)})`}
                      onClick={() => setSelected(segment.workflow.workflow_id)}>
                      <strong>{clock(segment.from, timezone)}–{clock(segment.to, timezone)}</strong> {segment.workflow.description || names.get(segment.workflow.job_id) || segment.workflow.job_id}
                      {' '}<small>({names.get(segment.workflow.job_id) ?? 'unknown job'}, {stateWords(segment.workflow)})</small>
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
      {chosen && <WorkflowDetails workflow={chosen} jobName={names.get(chosen.job_id)} changed={changed} />}
    </>
  );
}

const clock = (at: number, zone: string) => DateTime.fromMillis(at, { zone }).toFormat('HH:mm');
const stateWords = (w: Workflow) => (w.activation.state === 'pending' ? 'pending' : `opening ${w.activation.state}, closing ${w.deactivation.state}`);

function WorkflowDetails({ workflow, jobName, changed }: { workflow: Workflow; jobName: string | undefined; changed: () => void }) {
  const action = useAction();
  const remove = async () => {
    if (await action.run(() => api('DELETE', `/v1/scheduler/jobstartstop/${workflow.workflow_id}`)) !== undefined) changed();
  };
  const deletable = workflow.deactivation.state === 'pending';
  return (
    <div className="card workflow-details" aria-live="polite">
      <h3>{workflow.description || 'Workflow'} · {jobName ?? workflow.job_id}</h3>
      <dl className="facts">
        <dt>Opens</dt><dd><Time value={workflow.activation.time_utc * 1000} /> · {workflow.activation.state}{workflow.activation.fired_at && <>, fired <Time value={workflow.activation.fired_at} /></>}{workflow.activation.error && ` · ${workflow.activation.error}`}</dd>
        <dt>Closes</dt><dd><Time value={workflow.deactivation.time_utc * 1000} /> · {workflow.deactivation.state}{workflow.deactivation.fired_at && <>, fired <Time value={workflow.deactivation.fired_at} /></>}{workflow.deactivation.error && ` · ${workflow.deactivation.error}`}</dd>
        <dt>Id</dt><dd><code>{workflow.workflow_id}</code></dd>
      </dl>
      {deletable && <ConfirmButton label="Delete workflow" danger busy={action.busy} question={`${jobName ?? 'The job'} is then no longer opened or closed by it.`}
        confirm="Delete the workflow" onConfirm={() => void remove()} />}
      <Refusal error={action.error} />
    </div>
  );
}

function WorkflowForm({ jobs, created }: { jobs: Job[]; created: () => void }) {
  const { timezone } = useStation();
  const action = useAction();
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const values = new FormData(form);
    // The inputs are the station's wall clock; the API takes Unix seconds.
    const seconds = (name: string) => Math.round(DateTime.fromISO(String(values.get(name)), { zone: timezone }).toSeconds());
    const body = {
      job_id: values.get('job_id'), activation: { time_utc: seconds('activation.time_utc') }, deactivation: { time_utc: seconds('deactivation.time_utc') },
      description: String(values.get('description')) || undefined,
    };
    if (await action.run(() => api('POST', '/v1/scheduler/jobstartstop', { body })) !== undefined) {
      form.reset();
      created();
    }
  };
  if (jobs.length === 0) return null;
  return (
    <section className="card live-form" aria-labelledby="new-workflow">
      <h3 id="new-workflow">New workflow</h3>
      <form className="stack" noValidate onSubmit={(event) => void submit(event)}>
        <Field label="Job" name="job_id" error={action.error}>
          {(props) => <select {...props}>{jobs.map((job) => <option key={job.id} value={job.id}>{job.name}</option>)}</select>}
        </Field>
        <div className="row">
          <Field label={`Opens (${timezone})`} name="activation.time_utc" error={action.error}>{(props) => <input {...props} type="datetime-local" step={1} />}</Field>
          <Field label={`Closes (${timezone})`} name="deactivation.time_utc" error={action.error}>{(props) => <input {...props} type="datetime-local" step={1} />}</Field>
        </div>
        <Field label="Description" name="description" error={action.error}>{(props) => <input {...props} />}</Field>
        <FormRefusal error={action.error} fields={['job_id', 'activation.time_utc', 'deactivation.time_utc', 'description']} />
        <div><button type="submit" className="primary" disabled={action.busy}>Schedule</button></div>
      </form>
    </section>
  );
}
