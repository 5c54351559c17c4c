import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, getAll, query } from '../api.ts';
import { ConfirmButton } from '../confirm.tsx';
import { dstWarnings } from '../dst.ts';
import type { Instance, ProgrammeEvent, Show } from '../programme.ts';
import { buildRule, describeRule, NO_RULE, parseRule, WEEKDAYS, withStartDay, type Frequency, type RuleDraft } from '../recurrence.ts';
import { Field, FormRefusal, Time, useAction, useStation } from '../ui.tsx';
import type { Selection } from './schedule.tsx';

const TYPES = [{ type: 'live', name: 'Live' }, { type: 'replay', name: 'Replay' }, { type: 'prerecorded', name: 'Prerecorded' }];
const FREQUENCIES: Array<{ value: Frequency; name: string; unit?: string }> = [
  { value: 'none', name: 'Does not repeat' }, { value: 'DAILY', name: 'Daily', unit: 'days' }, { value: 'WEEKLY', name: 'Weekly', unit: 'weeks' },
  { value: 'MONTHLY', name: 'Monthly', unit: 'months' }, { value: 'custom', name: 'Custom rule (RRULE)' },
];
const ZONES = Intl.supportedValuesOf('timeZone');
const DAY_MS = 86_400_000;

interface Draft {
  showId: string;
  type: string;
  /** Naive local date-time in `timezone`, as a datetime-local input holds it. */
  start: string;
  minutes: string;
  timezone: string;
  rule: RuleDraft;
  exclude: string[];
  include: string[];
}

function draftOf(event: ProgrammeEvent | undefined, zone: string, show: string | undefined): Draft {
  if (event === undefined) return { showId: show ?? '', type: 'live', start: '', minutes: '60', timezone: zone, rule: NO_RULE, exclude: [], include: [] };
  const start = event.start.slice(0, 16);
  return {
    showId: event.showId, type: event.type, start, minutes: String(event.duration / 60), timezone: event.timezone,
    rule: withStartDay(parseRule(event.recurrence?.rule), start), exclude: event.recurrence?.exclude ?? [], include: event.recurrence?.include ?? [],
  };
}

/** The request body: what a script would send (duration in seconds, the rule as RRULE text). */
function bodyOf(draft: Draft) {
  const rule = buildRule(draft.rule);
  return {
    showId: draft.showId, type: draft.type, start: draft.start, duration: Math.round(Number(draft.minutes) * 60), timezone: draft.timezone,
    recurrence: rule === undefined ? null : { rule, exclude: draft.exclude, include: draft.include },
  };
}

/** The DST change days among the saved event's instances of the next 12 months. */
async function warningsOf(event: ProgrammeEvent): Promise<string[]> {
  // A window in UTC around the naive start, wide enough for any zone: onair places the instances, not this page.
  const from = Math.max(Date.parse(`${event.start}Z`), Date.now()) - 2 * DAY_MS;
  const window = { start: new Date(from).toISOString(), end: new Date(from + 368 * DAY_MS).toISOString(), show: event.showId };
  const schedules = await getAll<{ event: ProgrammeEvent; instances: Instance[] }>(`/schedule${query(window)}`, 'schedules');
  return dstWarnings(event, schedules.find((schedule) => schedule.event.id === event.id)?.instances ?? []);
}

/** Creates an event, or changes and deletes the one selected; after a save, says which of its starts DST moves. */
export function EventEditor({ selection, shows, pickedShow, shown, onSaved, onClosed }: {
  selection: Selection;
  /** Chosen now (not at the page's load): take the focus, and come into view on a small screen. */
  shown: boolean;
  shows: Show[];
  pickedShow: string | undefined;
  onSaved(event: ProgrammeEvent, warnings: string[]): void;
  onClosed(): void;
}) {
  const { timezone } = useStation();
  const { event, instance } = selection;
  const [draft, setDraft] = useState(() => draftOf(event, timezone, pickedShow));
  const action = useAction();
  const set = (change: Partial<Draft>) => setDraft((current) => {
    const next = { ...current, ...change };
    return { ...next, rule: withStartDay(next.rule, next.start) };
  });
  useEffect(() => { if (pickedShow !== undefined && event === undefined) set({ showId: pickedShow }); }, [pickedShow]);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (!shown || heading.current === null) return;
    heading.current.focus({ preventScroll: true });
    const { top, bottom } = heading.current.getBoundingClientRect();
    // Out of sight (below the calendar on a small screen): from the warnings above the form (if any) down.
    if (top < 0 || bottom > window.innerHeight) heading.current.closest('aside')?.scrollIntoView({ block: 'start' });
  }, [shown]);

  const saved = async (change: () => Promise<ProgrammeEvent>) => {
    const result = await action.run(change);
    if (result !== undefined) onSaved(result, await warningsOf(result).catch(() => []));
  };
  const submit = (form: FormEvent) => {
    form.preventDefault();
    void saved(() => (event ? api('PATCH', `/events/${event.id}`, { body: bodyOf(draft) }) : api('POST', '/events', { body: bodyOf(draft) })));
  };
  const skip = (event: ProgrammeEvent, instance: Instance) => void saved(() => api('PATCH', `/events/${event.id}`, {
    body: { recurrence: { ...event.recurrence, exclude: [...(event.recurrence?.exclude ?? []), instance.start] } },
  }));
  const remove = async (event: ProgrammeEvent) => {
    if (await action.run(() => api('DELETE', `/events/${event.id}`)) !== undefined) onClosed();
  };
  const fields = ['showId', 'type', 'start', 'duration', 'timezone', 'recurrence', 'recurrence.rule', ...draft.exclude.map((_, i) => `recurrence.exclude.${i}`)];

  return (
    <form className="stack card event-form" onSubmit={submit} noValidate aria-labelledby="event-form-title">
      <h2 id="event-form-title" ref={heading} tabIndex={-1}>{event ? 'Edit event' : 'New event'}</h2>
      {event && instance && (
        <p className="instance">
          This broadcast: <Time value={instance.startsAt} />
          {event.recurrence && <button type="button" className="small" onClick={() => skip(event, instance)} disabled={action.busy}>Skip this instance</button>}
        </p>
      )}
      <Field label="Show" name="showId" error={action.error}>
        {(props) => (
          <select {...props} value={draft.showId} onChange={(e) => set({ showId: e.target.value })}>
            <option value="">Choose a show…</option>
            {shows.map((show) => <option key={show.id} value={show.id}>{show.title}</option>)}
          </select>
        )}
      </Field>
      <div className="row">
        <Field label="Type" name="type" error={action.error}>
          {(props) => (
            <select {...props} value={draft.type} onChange={(e) => set({ type: e.target.value })}>
              {TYPES.map(({ type, name }) => <option key={type} value={type}>{name}</option>)}
            </select>
          )}
        </Field>
        <Field label="Duration (minutes)" name="duration" error={action.error}>
          {(props) => <input {...props} type="number" min={1} step="any" inputMode="decimal" className="short" value={draft.minutes} onChange={(e) => set({ minutes: e.target.value })} />}
        </Field>
      </div>
      <div className="row">
        <Field label="Start" name="start" error={action.error} hint="Local time in the event's time zone">
          {(props) => <input {...props} type="datetime-local" value={draft.start} onChange={(e) => set({ start: e.target.value })} />}
        </Field>
        <Field label="Time zone" name="timezone" error={action.error}>
          {(props) => <input {...props} list="zones" autoComplete="off" value={draft.timezone} onChange={(e) => set({ timezone: e.target.value })} />}
        </Field>
        <datalist id="zones">{ZONES.map((zone) => <option key={zone} value={zone} />)}</datalist>
      </div>
      <RuleBuilder rule={draft.rule} start={draft.start} error={action.error} onChange={(rule) => set({ rule })} />
      {draft.rule.frequency !== 'none' && (
        <Exclusions exclude={draft.exclude} time={draft.start.slice(11, 16) || '00:00'} error={action.error} onChange={(exclude) => set({ exclude })} />
      )}
      <FormRefusal error={action.error} fields={fields} />
      <div className="actions">
        <button type="submit" className="primary" disabled={action.busy}>{event ? 'Save event' : 'Create event'}</button>
        {event && <button type="button" onClick={onClosed}>New event</button>}
        {event && <ConfirmButton label="Delete" danger busy={action.busy} question="The event goes with every instance of it."
          confirm="Delete event" keep="Keep it" onConfirm={() => void remove(event)} />}
      </div>
    </form>
  );
}

function RuleBuilder({ rule, start, error, onChange }: { rule: RuleDraft; start: string; error: ApiError | undefined; onChange(rule: RuleDraft): void }) {
  const set = (change: Partial<RuleDraft>) => onChange({ ...rule, ...change });
  const unit = FREQUENCIES.find((f) => f.value === rule.frequency)?.unit;
  const built = buildRule(rule);
  return (
    <fieldset className="rule">
      <legend>Recurrence</legend>
      <div className="row">
        <Field label="Repeats" name={rule.frequency === 'custom' ? 'recurrence' : 'recurrence.rule'} error={error}>
          {(props) => (
            <select {...props} value={rule.frequency} onChange={(e) => set({ frequency: e.target.value as Frequency, custom: built ?? rule.custom })}>
              {FREQUENCIES.map(({ value, name }) => <option key={value} value={value}>{name}</option>)}
            </select>
          )}
        </Field>
        {unit && (
          <Field label={`Interval (${unit})`} name="interval">
            {(props) => <input {...props} type="number" min={1} className="short" value={rule.interval} onChange={(e) => set({ interval: Number(e.target.value) })} />}
          </Field>
        )}
      </div>
      {rule.frequency === 'WEEKLY' && (
        <fieldset className="weekdays">
          <legend>On</legend>
          {WEEKDAYS.map(({ code, name }) => (
            <label key={code}>
              <input type="checkbox" checked={rule.weekdays.includes(code)}
                onChange={(e) => set({ weekdays: e.target.checked ? [...rule.weekdays, code] : rule.weekdays.filter((day) => day !== code) })} />
              {name.slice(0, 3)}
            </label>
          ))}
        </fieldset>
      )}
      {unit && <Ending rule={rule} set={set} />}
      {rule.frequency === 'custom' && (
        <Field label="RRULE" name="recurrence.rule" error={error} hint="RFC 5545, such as FREQ=MONTHLY;BYDAY=-1SU">
          {(props) => <input {...props} className="mono" value={rule.custom} onChange={(e) => set({ custom: e.target.value })} />}
        </Field>
      )}
      <p className="rule-words" aria-live="polite">
        <strong>{describeRule(rule, start)}</strong>
        {built !== undefined && rule.frequency !== 'custom' && <code>RRULE:{built}</code>}
      </p>
    </fieldset>
  );
}

function Ending({ rule, set }: { rule: RuleDraft; set(change: Partial<RuleDraft>): void }) {
  const choice = (ending: RuleDraft['ending'], label: string) => (
    <label><input type="radio" name="ending" checked={rule.ending === ending} onChange={() => set({ ending })} /> {label}</label>
  );
  return (
    <fieldset className="ending">
      <legend>Ends</legend>
      {choice('never', 'Never')}
      <span className="choice">
        {choice('count', 'After')}
        <input type="number" min={1} className="short" aria-label="Number of broadcasts" value={rule.count}
          onChange={(e) => set({ ending: 'count', count: Number(e.target.value) })} /> times
      </span>
      <span className="choice">
        {choice('until', 'On')}
        <input type="date" aria-label="Last day" value={rule.until} onChange={(e) => set({ ending: 'until', until: e.target.value })} />
      </span>
    </fieldset>
  );
}

/** recurrence.exclude: the instances to skip, each a naive local start; the API's message beside the one it names. */
function Exclusions({ exclude, time, error, onChange }: { exclude: string[]; time: string; error: ApiError | undefined; onChange(exclude: string[]): void }) {
  const [date, setDate] = useState('');
  const add = () => {
    if (date !== '') onChange([...new Set([...exclude, `${date}T${time}:00`])].sort());
    setDate('');
  };
  return (
    <fieldset className="exclusions">
      <legend>Dates to skip</legend>
      {exclude.length > 0 && (
        <ul>
          {exclude.map((local, i) => (
            <li key={local}>
              <span>{local.replace('T', ' ').slice(0, 16)}</span>
              <button type="button" className="small" aria-label={`Stop skipping ${local}`} onClick={() => onChange(exclude.filter((other) => other !== local))}>Remove</button>
              {error?.field(`recurrence.exclude.${i}`) && <small className="field-error" role="alert">{error.field(`recurrence.exclude.${i}`)}</small>}
            </li>
          ))}
        </ul>
      )}
      <div className="row">
        <label>Skip the broadcast of <input type="date" value={date} onChange={(e) => setDate(e.target.value)} /></label>
        <button type="button" onClick={add}>Skip</button>
      </div>
    </fieldset>
  );
}

/** A show, which the event form then offers. */
export function ShowForm({ onCreated }: { onCreated(show: Show): void }) {
  const [title, setTitle] = useState('');
  const action = useAction();
  const submit = async (form: FormEvent) => {
    form.preventDefault();
    const show = await action.run(() => api<Show>('POST', '/shows', { body: { title } }));
    if (show === undefined) return;
    setTitle('');
    onCreated(show);
  };
  return (
    <form className="stack card" onSubmit={(form) => void submit(form)} noValidate aria-labelledby="show-form-title">
      <h2 id="show-form-title">New show</h2>
      <Field label="Title" name="title" error={action.error}>
        {(props) => <input {...props} value={title} onChange={(e) => setTitle(e.target.value)} />}
      </Field>
      <FormRefusal error={action.error} fields={['title']} />
      <div className="actions"><button type="submit" className="primary" disabled={action.busy}>Add show</button></div>
    </form>
  );
}
