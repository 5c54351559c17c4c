import { DateTime } from 'luxon';
import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, get, getAll, query } from '../api.ts';
import { useLive } from '../live.ts';
import type { ScheduleAnswer, Show } from '../programme.ts';
import { Empty, formatTime, Page, Refusal, useStation, type Instant } from '../ui.tsx';
import './timeline.css';

interface InstanceRef { event: string; start: string }
interface Session {
  id: string; channel: string; instance: InstanceRef | null; state: string; metadata: Record<string, string>;
  reservedAt: string; publishedAt: string | null; endedAt: string | null; reason: string | null;
}
interface WindowStep { at: string; state: string | null }
interface LiveWindow extends InstanceRef { startsAt: string; endsAt: string; job: string; workflow: string | null; activation: WindowStep; deactivation: WindowStep; error: string | null }
interface Broadcast extends InstanceRef { startsAt: string; reserveAt: string; playerAt: string; task: string; status: string | null }
interface Fired { state: string; fired_at?: string; error?: string }
interface Workflow { workflow_id: string; activation: Fired; deactivation: Fired }
interface Planned extends InstanceRef { title: string; type: string; startsAt: string; endsAt: string }

/** What only operators may read: without the key the timeline shows the plan alone. */
interface Reality { windows: LiveWindow[]; broadcasts: Broadcast[]; sessions: Session[]; workflows: Record<string, Workflow> }
interface TimelineData { planned: Planned[]; reality: Reality | undefined }

const HOUR = 3_600_000;
/** How much of the day the axis shows, in hours: 12 (the last 6 and the next 6) at first. */
const SPANS = [2, 12, 24];
/** On air later than planned by more than this is a late start; a shorter stretch with nothing on air is no gap. */
const TOLERANCE_MS = 5000;
const CHANGES = ['programme-changed', 'stream-reserved', 'stream-publishing', 'stream-disconnected', 'stream-ended', 'stream-failed',
  'task-status-changed', 'live-workflow-changed'];

const keyOf = (ref: InstanceRef) => `${ref.event}|${ref.start}`;
const ms = (iso: string) => Date.parse(iso);

async function loadPlanned(from: number, to: number, signal: AbortSignal): Promise<Planned[]> {
  const window = query({ start: new Date(from).toISOString(), end: new Date(to).toISOString() });
  const [schedules, shows] = await Promise.all([
    getAll<ScheduleAnswer['schedules'][number]>(`/schedule${window}`, 'schedules', signal),
    getAll<Show>('/shows', 'shows', signal),
  ]);
  const titles = new Map(shows.map((show) => [show.id, show.title]));
  return schedules.flatMap(({ event, instances }) => instances.map((instance) => ({
    event: event.id, start: instance.start, startsAt: instance.startsAt, endsAt: instance.endsAt, type: event.type,
    title: titles.get(event.showId) ?? 'Untitled show',
  })));
}

async function loadReality(from: number, to: number, signal: AbortSignal): Promise<Reality> {
  const workflowWindow = query({ start: Math.floor(from / 1000) - 86_400, end: Math.ceil(to / 1000), page_size: 1000 });
  const [windows, broadcasts, channels, workflows] = await Promise.all([
    get<{ windows: LiveWindow[] }>('/automation/windows', signal),
    get<{ broadcasts: Broadcast[] }>('/automation/broadcasts', signal),
    get<Array<{ channel: string }>>('/channels', signal),
    get<{ workflows: Workflow[] }>(`/v1/scheduler/jobstartstop${workflowWindow}`, signal),
  ]);
  const histories = await Promise.all(channels.map(({ channel }) =>
    get<Session[]>(`/channels/${encodeURIComponent(channel)}/sessions?limit=200`, signal)));
  const sessions = histories.flat().filter((s) => ms(s.reservedAt) < to && (s.endedAt === null || ms(s.endedAt) > from));
  return {
    windows: windows.windows, broadcasts: broadcasts.broadcasts, sessions,
    workflows: Object.fromEntries(workflows.workflows.map((w) => [w.workflow_id, w])),
  };
}

async function load(from: number, to: number, signal: AbortSignal): Promise<TimelineData> {
  const [planned, reality] = await Promise.all([
    loadPlanned(from, to, signal),
    loadReality(from, to, signal).catch((reason: unknown) => {
      if (reason instanceof ApiError && reason.status === 401) return undefined;
      throw reason;
    }),
  ]);
  return { planned, reality };
}

type Tone = 'planned' | 'window' | 'automation' | 'air' | 'reserved' | 'gap' | 'late';
interface Block { id: string; from: number; to: number; label: string; details: string; tone: Tone }
interface Lane { name: string; blocks: Block[] }

/** A length of time in words: "12 s", "4 min 5 s", "1 h 20 min". */
function inWords(duration: number): string {
  const seconds = Math.round(duration / 1000);
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min${seconds % 60 ? ` ${seconds % 60} s` : ''}`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

/** The stretches of `span` that none of `covered` covers, longer than the tolerance. */
function uncovered(span: [number, number], covered: Array<[number, number]>): Array<[number, number]> {
  const holes: Array<[number, number]> = [];
  let at = span[0];
  for (const [from, to] of [...covered].sort((a, b) => a[0] - b[0])) {
    if (from > at) holes.push([at, Math.min(from, span[1])]);
    at = Math.max(at, to);
    if (at >= span[1]) break;
  }
  if (at < span[1]) holes.push([at, span[1]]);
  return holes.filter(([from, to]) => to - from > TOLERANCE_MS);
}

/** What every lane's blocks are read with: times in the station's zone, titles and sessions by instance. */
interface Reading {
  t(at: Instant | null | undefined): string;
  now: number;
  instances: Map<string, Planned>;
  sessionsOf: Map<string, Session[]>;
}

const titleOf = (r: Reading, ref: InstanceRef | null) => (ref ? r.instances.get(keyOf(ref))?.title : undefined);

function lanes(data: TimelineData, now: number, zone: string): Lane[] {
  const sessionsOf = new Map<string, Session[]>();
  const oldestFirst = [...data.reality?.sessions ?? []].sort((a, b) => a.reservedAt.localeCompare(b.reservedAt));
  for (const s of oldestFirst) if (s.instance) sessionsOf.set(keyOf(s.instance), [...(sessionsOf.get(keyOf(s.instance)) ?? []), s]);
  const r: Reading = { t: (at) => formatTime(at, zone, false), now, instances: new Map(data.planned.map((p) => [keyOf(p), p])), sessionsOf };
  const planned: Lane = { name: 'Planned', blocks: data.planned.map((p) => plannedBlock(r, p)) };
  if (data.reality === undefined) return [planned];
  const { windows, broadcasts, sessions, workflows } = data.reality;
  return [
    planned,
    { name: 'Live windows', blocks: windows.map((w) => windowBlock(r, w, w.workflow ? workflows[w.workflow] : undefined)) },
    { name: 'Automation', blocks: broadcasts.flatMap((b) => automationBlock(r, b)) },
    { name: 'On air', blocks: sessions.map((s) => airBlock(r, s)) },
    { name: 'Gaps and late starts', blocks: data.planned.flatMap((p) => misses(r, p)) },
  ];
}

function plannedBlock(r: Reading, p: Planned): Block {
  return {
    id: `planned-${keyOf(p)}`, from: ms(p.startsAt), to: ms(p.endsAt), tone: 'planned', label: p.title,
    details: `${p.title} (${p.type}): planned ${r.t(p.startsAt)} to ${r.t(p.endsAt)}`,
  };
}

/** A step's planned time, and when it was done if it was. */
const step = (r: Reading, name: string, planned: string, done: string | null | undefined) =>
  `${name} planned ${r.t(planned)}${done ? `, done ${r.t(done)}` : ', not done'}`;

function windowBlock(r: Reading, w: LiveWindow, workflow: Workflow | undefined): Block {
  const title = titleOf(r, w) ?? w.start;
  return {
    id: `window-${keyOf(w)}`, from: ms(w.activation.at), to: ms(w.deactivation.at), tone: 'window', label: `Window: ${title}`,
    details: `Live window of ${title}, job ${w.job} (${w.workflow ? `opening ${w.activation.state}, closing ${w.deactivation.state}` : 'no workflow'}): `
      + `${step(r, 'opening', w.activation.at, workflow?.activation.fired_at)}; ${step(r, 'closing', w.deactivation.at, workflow?.deactivation.fired_at)}`
      + `${w.error ? `; refused: ${w.error}` : ''}`,
  };
}

/** An automated broadcast: its task, and each timed step planned against what the gate's session of it recorded. */
function automationBlock(r: Reading, b: Broadcast): Block[] {
  const instance = r.instances.get(keyOf(b));
  if (instance === undefined) return [];
  const session = r.sessionsOf.get(keyOf(b))?.[0];
  return [{
    id: `automation-${keyOf(b)}`, from: ms(b.reserveAt), to: ms(instance.endsAt), tone: 'automation', label: `${instance.title}: ${b.status ?? 'no task'}`,
    details: `Automated ${instance.title}, stream task ${b.status ?? 'not there'}: ${step(r, 'reserve', b.reserveAt, session?.reservedAt)}; `
      + `player planned ${r.t(b.playerAt)}; ${step(r, 'on air', b.startsAt, session?.publishedAt)}; ${step(r, 'end', instance.endsAt, session?.endedAt)}`,
  }];
}

function airBlock(r: Reading, s: Session): Block {
  const title = titleOf(r, s.instance) ?? s.metadata.title ?? 'no instance';
  return {
    id: `air-${s.id}`, from: ms(s.publishedAt ?? s.reservedAt), to: s.endedAt ? ms(s.endedAt) : r.now, tone: s.publishedAt ? 'air' : 'reserved',
    label: `${s.channel}: ${title}`,
    details: `${s.channel}: ${title}; reserved ${r.t(s.reservedAt)}, on air ${s.publishedAt ? r.t(s.publishedAt) : 'never'}, `
      + `${s.endedAt ? `ended ${r.t(s.endedAt)}${s.reason ? ` (${s.reason})` : ''}` : 'still on'}`,
  };
}

/** Planned time of an instance with nothing of it on air: a late start when it came on air afterwards, else a gap. */
function misses(r: Reading, p: Planned): Block[] {
  const span: [number, number] = [ms(p.startsAt), Math.min(ms(p.endsAt), r.now)];
  if (span[1] <= span[0]) return [];
  const covered = (r.sessionsOf.get(keyOf(p)) ?? []).filter((s) => s.publishedAt !== null)
    .map((s): [number, number] => [ms(s.publishedAt!), s.endedAt ? ms(s.endedAt) : r.now]);
  return uncovered(span, covered).map(([from, to]) => {
    const late = from === span[0] && covered.some(([start]) => start >= to);
    const words = late ? `late by ${inWords(to - from)}` : `gap: nothing on air for ${inWords(to - from)}`;
    return {
      id: `${late ? 'late' : 'gap'}-${keyOf(p)}-${from}`, from, to, tone: late ? 'late' : 'gap', label: words,
      details: `${p.title}: ${words}, from ${r.t(from)} to ${r.t(to)}`,
    };
  });
}

/** The least part of the axis a block is drawn over, so that a reservation of seconds can be pointed at. */
const LEAST_WIDTH = 1 / 80;

/** Blocks of a lane in rows, so that none overlaps another as drawn: each until its end, or `least` ms after its start. */
function rows(blocks: Block[], least: number): Array<Block & { row: number; until: number }> {
  const ends: number[] = [];
  return [...blocks].sort((a, b) => a.from - b.from).map((block) => {
    const until = Math.max(block.to, block.from + least);
    let row = ends.findIndex((end) => end <= block.from);
    if (row < 0) row = ends.length;
    ends[row] = until;
    return { ...block, row, until };
  });
}

/** Axis marks in the station's zone: every quarter, hour or two hours, so that their labels never crowd. */
function ticks(from: number, to: number, zone: string): Array<{ at: number; label: string }> {
  const step = to - from <= 2 * HOUR ? 15 : to - from <= 12 * HOUR ? 60 : 120;
  const result = [];
  for (let at = DateTime.fromMillis(from, { zone }).startOf('hour'); at.toMillis() < to; at = at.plus({ minutes: 15 })) {
    if (at.toMillis() >= from + (to - from) / 50 && (at.hour * 60 + at.minute) % step === 0) {
      result.push({ at: at.toMillis(), label: at.hour === 0 && at.minute === 0 ? at.toFormat('ccc d LLL') : at.toFormat('HH:mm') });
    }
  }
  return result;
}

/** Draws again every `every` ms, so that the now line and the gaps grow with the clock. */
function useTick(every: number): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), every);
    return () => clearInterval(timer);
  }, [every]);
}

export default function Timeline() {
  const { timezone } = useStation();
  const [center, setCenter] = useState(() => Math.round(Date.now() / 60_000) * 60_000);
  const [span, setSpan] = useState(12);
  const [from, to] = [center - (span / 2) * HOUR, center + (span / 2) * HOUR];
  const { data, error } = useLive((signal) => load(from, to, signal), CHANGES, [from, to]);
  useTick(15_000);
  const now = Date.now();
  const move = (hours: number) => setCenter((c) => c + hours * HOUR);
  const actions = (
    <div className="actions tl-moves">
      <div role="group" aria-label="Move the timeline">
        <button type="button" onClick={() => move(-24)}>− 1 day</button>
        <button type="button" onClick={() => move(-1)}>− 1 h</button>
        <button type="button" onClick={() => setCenter(Math.round(Date.now() / 60_000) * 60_000)}>Now</button>
        <button type="button" onClick={() => move(1)}>+ 1 h</button>
        <button type="button" onClick={() => move(24)}>+ 1 day</button>
      </div>
      <div role="group" aria-label="Hours shown">
        {SPANS.map((hours) => <button key={hours} type="button" aria-pressed={span === hours} onClick={() => setSpan(hours)}>{hours} h</button>)}
      </div>
    </div>
  );
  return (
    <Page title="Timeline" actions={actions}>
      <p className="tl-range">Plan against reality from {formatTime(from, timezone)} to {formatTime(to, timezone)} ({timezone}).</p>
      <Refusal error={error} />
      {data === undefined ? <Empty>Loading the timeline…</Empty> : (
        <>
          {data.reality === undefined && <p className="notice">Live windows, automation and what went on air need the API key: only the plan is shown.</p>}
          <Chart lanes={lanes(data, now, timezone)} from={from} to={to} now={now} zone={timezone} />
        </>
      )}
    </Page>
  );
}

function Chart({ lanes: shown, from, to, now, zone }: { lanes: Lane[]; from: number; to: number; now: number; zone: string }) {
  const [selected, setSelected] = useState<Block>();
  const x = (at: number) => `${((Math.min(Math.max(at, from), to) - from) / (to - from)) * 100}%`;
  const hourTicks = useMemo(() => ticks(from, to, zone), [from, to, zone]);
  const scroller = useRef<HTMLDivElement>(null);
  // Where the axis is wider than the screen (a phone), the middle of the span is what shows first.
  useEffect(() => {
    const box = scroller.current;
    if (box) box.scrollLeft = (box.scrollWidth - box.clientWidth) / 2;
  }, [from, to]);
  return (
    <>
      <div ref={scroller} className="tl-scroll" role="region" aria-label="Timeline (scrolls sideways)" tabIndex={0}>
        <div className="tl-track" style={{ minWidth: `${((to - from) / HOUR) * 70}px` }}>
          <div className="tl-axis" aria-hidden="true">
            {hourTicks.map((tick) => <span key={tick.at} style={{ left: x(tick.at) }}>{tick.label}</span>)}
          </div>
          {shown.map((lane) => (
            <LaneView key={lane.name} lane={lane} x={x} from={from} to={to} selected={selected} onSelect={setSelected} />
          ))}
          {now > from && now < to && <div className="tl-now" style={{ left: x(now) }}><span>now</span></div>}
        </div>
      </div>
      <p className="tl-details" aria-live="polite">{selected ? selected.details : 'Focus or pick a block to read its details here.'}</p>
    </>
  );
}

function LaneView({ lane, x, from, to, selected, onSelect }: {
  lane: Lane; x: (at: number) => string; from: number; to: number; selected: Block | undefined; onSelect: (block: Block) => void;
}) {
  const placed = rows(lane.blocks.filter((b) => b.to > from && b.from < to), (to - from) * LEAST_WIDTH);
  const height = Math.max(...placed.map((b) => b.row + 1));
  return (
    <section className="tl-lane" aria-label={lane.name}>
      <h2 className="tl-lane-name">{lane.name}</h2>
      {placed.length === 0 ? <p className="tl-none">nothing</p> : (
        <ul style={{ height: `calc(${height} * var(--tl-row))` }}>
          {placed.map((block) => (
            <li key={block.id} style={{ left: x(block.from), width: `calc(${x(block.until)} - ${x(block.from)})`, top: `calc(${block.row} * var(--tl-row))` }}>
              <button type="button" className={`tl-block tl-${block.tone}`} title={block.details} aria-label={`${block.label}. ${block.details}`}
                aria-pressed={selected?.id === block.id} onFocus={() => onSelect(block)} onClick={() => onSelect(block)}>
                {block.label}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
