import { Fragment, useId, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, get, query } from '../api.ts';
import { ConfirmButton } from '../confirm.tsx';
import { useLive } from '../live.ts';
import { Badge, Empty, Field, FormRefusal, Page, Refusal, Time, useAction } from '../ui.tsx';
import './tasks.css';

const STATUSES = ['queued', 'waiting', 'sleeping', 'running', 'cancelled', 'failed', 'completed'] as const;
type Status = (typeof STATUSES)[number];
const UNFINISHED: Status[] = ['queued', 'waiting', 'sleeping', 'running'];
/** The timestamps a status's details may carry, in the order a task lives them. */
const MOMENTS = ['enqueued', 'dequeued', 'slept', 'started', 'cancelled', 'failed', 'completed'] as const;
const PAGE = 50;

interface Specification { type: string; parameters: Record<string, unknown> }
/** GET /tasks/{status}/{id}: the task, the timestamps of its way so far, and its progress, error or result. */
type Details = {
  task: { id: string; operation: Specification; condition: Specification; dependencies: Record<string, string>; node?: string };
  progress?: Record<string, unknown> | null;
  error?: string | null;
  result?: unknown;
} & Partial<Record<(typeof MOMENTS)[number], string | null>>;
interface Listed { tasks: Details[]; more: boolean }

const json = (value: unknown) => JSON.stringify(value);

/**
 * The tasks of one status, one page deep per "More". A status's details do not change but a running task's progress,
 * so they are read once; a task that moved on between the list and its details is left to the event that moved it.
 */
function useTasks(status: Status, pages: number) {
  const seen = useRef(new Map<string, Details>());
  const load = async (signal: AbortSignal): Promise<Listed> => {
    const listed = await get<Partial<Record<Status, string[]>> & { next: string | null }>(`/tasks${query({ status, limit: PAGE * pages })}`, signal);
    const read = await Promise.all((listed[status] ?? []).map(async (id) => {
      const known = status === 'running' ? undefined : seen.current.get(`${status}/${id}`);
      if (known) return known;
      try {
        return await get<Details>(`/tasks/${status}/${id}`, signal);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return undefined;
        throw error;
      }
    }));
    const tasks = read.filter((task) => task !== undefined);
    seen.current = new Map(tasks.map((details) => [`${status}/${details.task.id}`, details]));
    return { tasks, more: listed.next !== null };
  };
  const types = ['task-status-changed', 'tasks-cleaned', ...(status === 'running' ? ['task-progress'] : [])];
  return useLive(load, types, [status, pages]);
}

export default function Tasks() {
  const [status, setStatus] = useState<Status>('waiting');
  const [pages, setPages] = useState(1);
  const { data, error } = useTasks(status, pages);
  const choose = (next: Status) => { setStatus(next); setPages(1); };
  return (
    <Page title="Tasks">
      <div className="tasks-layout">
        <div>
          <div className="tabs" role="group" aria-label="Status">
            {STATUSES.map((each) => (
              <button key={each} type="button" aria-pressed={each === status} onClick={() => choose(each)}>{each}</button>
            ))}
          </div>
          <Refusal error={error} />
          {data === undefined ? <Empty>Loading the tasks…</Empty>
            : data.tasks.length === 0 ? <Empty>No {status} tasks.</Empty> : (
              <>
                <p className="hint">In the order they were enqueued.</p>
                <ol className="task-list" aria-label={`${status} tasks`}>
                  {data.tasks.map((details) => <li key={details.task.id}><TaskCard details={details} status={status} /></li>)}
                </ol>
                {data.more && <button type="button" onClick={() => setPages(pages + 1)}>More {status} tasks</button>}
              </>
            )}
        </div>
        <CleanForm />
      </div>
    </Page>
  );
}

function When({ condition }: { condition: Specification }) {
  const { type, parameters } = condition;
  if (type === 'now') return <>now</>;
  if (type === 'at' && typeof parameters.datetime === 'string') {
    // The API reads a date-time without an offset as UTC.
    const at = /(Z|[+-]\d{2}:?\d{2})$/.test(parameters.datetime) ? parameters.datetime : `${parameters.datetime}Z`;
    return <>at <Time value={at} /> <small>({parameters.datetime})</small></>;
  }
  if (type === 'cron') return <>cron <code>{String(parameters.expression)}</code> ({String(parameters.timezone ?? 'UTC')})</>;
  return <>{type} <code>{json(parameters)}</code></>;
}

function TaskCard({ details, status }: { details: Details; status: Status }) {
  const { task } = details;
  const id = useId();
  const cancel = useAction();
  return (
    <article className="card task" aria-labelledby={id} data-task={task.id}>
      <h3 id={id}>{task.operation.type} <Badge state={status} /></h3>
      <dl className="facts">
        <dt>Id</dt><dd><code>{task.id}</code></dd>
        <dt>When</dt><dd><When condition={task.condition} /></dd>
        {Object.keys(task.operation.parameters).length > 0 && <><dt>Parameters</dt><dd><code>{json(task.operation.parameters)}</code></dd></>}
        {Object.keys(task.dependencies).length > 0 && <><dt>After</dt><dd><code>{json(task.dependencies)}</code></dd></>}
        {task.node && <><dt>Node</dt><dd>{task.node}</dd></>}
        {MOMENTS.filter((moment) => details[moment]).map((moment) => (
          <Fragment key={moment}><dt>{moment[0]!.toUpperCase() + moment.slice(1)}</dt><dd><Time value={details[moment]} /></dd></Fragment>
        ))}
        {details.progress && <><dt>Progress</dt><dd><code>{json(details.progress)}</code></dd></>}
        {details.result !== undefined && <><dt>Result</dt><dd><pre className="result"><code>{JSON.stringify(details.result, null, 2)}</code></pre></dd></>}
      </dl>
      {details.error && <p className="error">Error: {details.error}</p>}
      {UNFINISHED.includes(status) && (
        <ConfirmButton label="Cancel" name={`Cancel task ${task.id}`} danger busy={cancel.busy} question="It will not run; the tasks that wait for it fail."
          confirm="Cancel the task" keep="Keep it" onConfirm={() => void cancel.run(() => api('DELETE', `/tasks/${task.id}`))} />
      )}
      <Refusal error={cancel.error} />
    </article>
  );
}

/** POST /tasks/clean: every finished task, or those finished longer ago than a duration (none another depends on). */
function CleanForm() {
  const [strategy, setStrategy] = useState('timedelta');
  const [delta, setDelta] = useState('P7D');
  const [removed, setRemoved] = useState<number>();
  const action = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setRemoved(undefined);
    const answer = await action.run(() => api<{ removed: string[] }>('POST', '/tasks/clean', {
      body: { strategy: { type: strategy, parameters: strategy === 'timedelta' ? { delta } : {} } },
    }));
    if (answer) setRemoved(answer.removed.length);
  };
  return (
    <aside className="card clean" aria-labelledby="clean-title">
      <h2 id="clean-title">Clean up</h2>
      <form className="stack" onSubmit={(event) => void submit(event)}>
        <Field label="Remove" name="strategy.type" error={action.error}>
          {(props) => (
            <select {...props} value={strategy} onChange={(event) => setStrategy(event.target.value)}>
              <option value="timedelta">Tasks finished longer ago than…</option>
              <option value="all">Every finished task</option>
            </select>
          )}
        </Field>
        {strategy === 'timedelta' && (
          <Field label="Finished longer ago than" name="strategy.parameters.delta" error={action.error} hint="An ISO 8601 duration: P7D is a week, PT12H twelve hours.">
            {(props) => <input {...props} value={delta} onChange={(event) => setDelta(event.target.value)} />}
          </Field>
        )}
        <p className="hint">A task an unfinished task depends on is kept.</p>
        <div><button type="submit" className="danger" disabled={action.busy}>Remove finished tasks</button></div>
        <FormRefusal error={action.error} fields={['strategy.type', 'strategy.parameters.delta']} />
        {removed !== undefined && <p role="status">Removed {removed} {removed === 1 ? 'task' : 'tasks'}.</p>}
      </form>
    </aside>
  );
}
