import { useCallback, useMemo, useRef, useState } from 'react';
import { DateTime } from 'luxon';
import FullCalendar from '@fullcalendar/react';
import timeGridPlugin from '@fullcalendar/timegrid';
import luxonPlugin from '@fullcalendar/luxon3';
import type { DatesSetArg, EventClickArg, EventInput, EventMountArg } from '@fullcalendar/core';
import { getAll, query } from '../api.ts';
import { useLive } from '../live.ts';
import type { Instance, ProgrammeEvent, Show } from '../programme.ts';
import { describeRule, parseRule } from '../recurrence.ts';
import { CopyButton, Empty, Page, Refusal, useStation } from '../ui.tsx';
import { EventEditor, ShowForm } from './schedule-form.tsx';
import './schedule.css';

type Range = { start: string; end: string };
interface Programme { schedules: Array<{ event: ProgrammeEvent; instances: Instance[] }>; shows: Show[] }
/** What the editor works on: a new event, or an event (and the instance clicked, if any). */
export type Selection = { event?: ProgrammeEvent; instance?: Instance };

const PHONE_WIDTH = 700;
// FullCalendar's options, made once: an option that changes (a new object or function) rebuilds the whole calendar.
const HOUR = { hour: '2-digit', minute: '2-digit', hour12: false } as const;
const PLUGINS = [timeGridPlugin, luxonPlugin];
const TOOLBAR = { start: 'prev,next today', center: 'title', end: 'timeGridWeek,timeGridDay' };
const BUTTONS = { today: 'Today', week: 'Week', day: 'Day' };
type Reading = { hour: number; minute: number };
const clock = ({ hour, minute }: Reading) => `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
/** "02:30 - 03:30" from FullCalendar's own readings in the station's zone (its range format builds an Intl formatter per entry). */
const entryTime = ({ start, end }: { start: Reading; end?: Reading }) => (end ? `${clock(start)} - ${clock(end)}` : clock(start));

async function load(range: Range | undefined, signal: AbortSignal): Promise<Programme> {
  const [schedules, shows] = await Promise.all([
    range === undefined ? [] : getAll<Programme['schedules'][number]>(`/schedule${query(range)}`, 'schedules', signal),
    getAll<Show>('/shows', 'shows', signal),
  ]);
  return { schedules, shows };
}

/** Every instance of the visible range, placed by the instants onair computed (never by its naive local times). */
function calendarEvents(programme: Programme | undefined, titles: Record<string, string>): EventInput[] {
  return (programme?.schedules ?? []).flatMap(({ event, instances }) => instances.map((instance) => ({
    id: `${event.id}/${instance.start}`,
    title: `${titles[event.showId] ?? 'Untitled show'} · ${event.type}`,
    start: instance.startsAt,
    end: instance.endsAt,
    classNames: [`type-${event.type}`],
    extendedProps: { event, instance },
  })));
}

export default function Schedule() {
  const { timezone } = useStation();
  const [range, setRange] = useState<Range>();
  const [shownDate, setShownDate] = useState('');
  const [selection, setSelection] = useState<Selection>({});
  const [pickedShow, setPickedShow] = useState<string>();
  const [warnings, setWarnings] = useState<string[]>([]);
  // The editor starts afresh from each selection and each saved version of its event.
  const [edition, setEdition] = useState(0);
  const calendar = useRef<FullCalendar>(null);
  const { data, error, reload } = useLive((signal) => load(range, signal), ['programme-changed'], [range?.start, range?.end]);
  const titles = useMemo(() => Object.fromEntries((data?.shows ?? []).map((show) => [show.id, show.title])), [data?.shows]);
  const events = useMemo(() => calendarEvents(data, titles), [data, titles]);
  const eventDidMount = useMemo(() => describeEvent(timezone), [timezone]);

  const datesSet = useCallback((arg: DatesSetArg) => {
    setShownDate(DateTime.fromJSDate(arg.view.currentStart, { zone: timezone }).toISODate() ?? '');
    const next = { start: arg.start.toISOString(), end: arg.end.toISOString() };
    setRange((current) => (current?.start === next.start && current.end === next.end ? current : next));
  }, [timezone]);
  const choose = useCallback((chosen: Selection, found: string[] = []) => { setSelection(chosen); setWarnings(found); setEdition((n) => n + 1); }, []);
  const select = useCallback(({ event }: EventClickArg) => choose(event.extendedProps as Selection), [choose]);
  const goTo = (date: string) => { if (date !== '') calendar.current?.getApi().gotoDate(date); };
  const feed = `${window.location.origin}/schedule.ics`;

  return (
    <Page title="Schedule" actions={
      <p className="feed"><a href="/schedule.ics">iCalendar feed</a> <CopyButton value={feed} label="the iCalendar feed's address" /></p>
    }>
      <Refusal error={error} />
      <div className="schedule">
        <div className="schedule-calendar">
          <div className="row calendar-tools">
            <label>Go to date <input type="date" value={shownDate} onChange={(event) => goTo(event.target.value)} /></label>
            <span className="hint">Times in {timezone}, the station's time zone</span>
          </div>
          <FullCalendar
            ref={calendar}
            plugins={PLUGINS}
            timeZone={timezone}
            initialView={window.innerWidth < PHONE_WIDTH ? 'timeGridDay' : 'timeGridWeek'}
            headerToolbar={TOOLBAR}
            buttonText={BUTTONS}
            firstDay={1}
            locale="en-GB"
            allDaySlot={false}
            slotEventOverlap={false}
            slotDuration="01:00:00"
            slotLabelFormat={HOUR}
            eventTimeFormat={entryTime}
            height="auto"
            nowIndicator
            events={events}
            datesSet={datesSet}
            eventClick={select}
            eventDidMount={eventDidMount}
          />
        </div>
        <aside className="schedule-side" aria-label="Shows and events">
          <div className="dst-warnings" role="status">
            {warnings.length > 0 && <ul className="notice">{warnings.map((warning) => <li key={warning}>{warning}</li>)}</ul>}
          </div>
          <EventEditor key={edition} selection={selection} shown={edition > 0} shows={data?.shows ?? []} pickedShow={pickedShow}
            onSaved={(saved, found) => {
              // A new event: show the week of its first instance.
              if (selection.event === undefined) goTo(saved.start.slice(0, 10));
              choose({ event: saved }, found);
              reload();
            }}
            onClosed={() => { choose({}); reload(); }} />
          <ShowForm onCreated={(show) => { setPickedShow(show.id); reload(); }} />
        </aside>
      </div>
      <EventList programme={data} titles={titles} onEdit={(event) => choose({ event })} />
    </Page>
  );
}

/**
 * A calendar entry is a button named by what and when ("Sunday 28 March, 03:30–04:30"), for keyboards and screen
 * readers; one formatter for every entry (making one costs more than using it).
 */
function describeEvent(zone: string) {
  const span = new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return ({ el, event }: EventMountArg) => {
    el.setAttribute('role', 'button');
    el.setAttribute('aria-label', `${event.title}, ${span.formatRange(event.start!, event.end!)}: edit`);
  };
}

function EventList({ programme, titles, onEdit }: { programme: Programme | undefined; titles: Record<string, string>; onEdit(event: ProgrammeEvent): void }) {
  if (programme === undefined) return <Empty>Loading the schedule…</Empty>;
  return (
    <>
      <h2>Events shown</h2>
      {programme.schedules.length === 0 ? <Empty>No event has an instance in these days.</Empty> : (
        <div className="table-wrap">
          <table>
            <thead><tr><th>Show</th><th>Type</th><th>Repeats</th><th>Time zone</th><th>Edit</th></tr></thead>
            <tbody>
              {programme.schedules.map(({ event }) => (
                <tr key={event.id}>
                  <td>{titles[event.showId] ?? 'Untitled show'}</td>
                  <td>{event.type}</td>
                  <td>{describeRule(parseRule(event.recurrence?.rule), event.start)}</td>
                  <td>{event.timezone}</td>
                  <td><button type="button" className="small" aria-label={`Edit ${titles[event.showId] ?? 'the event'} (${event.type})`} onClick={() => onEdit(event)}>Edit</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
