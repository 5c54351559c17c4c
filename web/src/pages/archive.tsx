import { useEffect, useId, useState, type DragEvent } from 'react';
import { api, ApiError, getAll, query, send } from '../api.ts';
import { ConfirmButton } from '../confirm.tsx';
import { useLive } from '../live.ts';
import type { Instance, ProgrammeEvent, Show } from '../programme.ts';
import { describeRule, parseRule } from '../recurrence.ts';
import { Badge, Empty, formatBytes, formatSeconds, Page, Refusal, Time, useAction } from '../ui.tsx';
import { upload, type UploadState } from '../upload.ts';
import './archive.css';

type Kind = 'recordings' | 'prerecordings';
/** Recordings are made of live instances, prerecordings played out at prerecorded ones; other events have no files. */
const KIND_OF: Record<string, Kind> = { live: 'recordings', prerecorded: 'prerecordings' };

interface ArchivedFile {
  event: string;
  start: string;
  part: number;
  startsAt: string;
  size: number;
  contentType: string;
  format: string;
  duration: number;
  createdAt: string;
  etag: string;
}

/** An instance of the window, or one the archive holds files of, with those files. */
interface Slot { start: string; startsAt: string; files: ArchivedFile[] }
interface EventArchive {
  event: ProgrammeEvent;
  kind: Kind;
  slots: Slot[];
  /** The files could not be read without the API key. */
  locked: boolean;
}
interface ShowArchive { show: Show; events: EventArchive[] }

const DAY = 86_400_000;
const WINDOWS = [
  { id: 'around', label: '7 days either side of now', back: 7, ahead: 7 },
  { id: 'past-month', label: 'The past 30 days', back: 30, ahead: 0 },
  { id: 'next-month', label: 'The next 30 days', back: 0, ahead: 30 },
  { id: 'past-year', label: 'The past year', back: 365, ahead: 0 },
];
const CHANGES = ['archive-file-stored', 'archive-file-deleted', 'programme-changed'];

const instant = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;
const filePath = (kind: Kind, event: string, start: string) => `/${kind}/${encodeURIComponent(event)}/${encodeURIComponent(start)}`;

async function eventArchive(event: ProgrammeEvent, instances: Instance[], window: { start: string; end: string }, signal: AbortSignal): Promise<EventArchive> {
  const kind = KIND_OF[event.type]!;
  const slots = new Map(instances.map(({ start, startsAt }) => [start, { start, startsAt, files: [] as ArchivedFile[] }]));
  let locked = false;
  try {
    const files = await getAll<ArchivedFile>(`/${kind}/${encodeURIComponent(event.id)}${query({ after: window.start, before: window.end })}`, kind, signal);
    for (const file of files) {
      const slot = slots.get(file.start) ?? { start: file.start, startsAt: file.startsAt, files: [] };
      slot.files.push(file);
      slots.set(file.start, slot);
    }
  } catch (error) {
    if (!(error instanceof ApiError && (error.status === 401 || error.status === 403))) throw error;
    locked = true;
  }
  return { event, kind, locked, slots: [...slots.values()].sort((a, b) => a.startsAt.localeCompare(b.startsAt)) };
}

async function load(windowId: string, signal: AbortSignal): Promise<ShowArchive[]> {
  const { back, ahead } = WINDOWS.find((window) => window.id === windowId) ?? WINDOWS[0]!;
  const now = Date.now();
  const window = { start: instant(now - back * DAY), end: instant(now + ahead * DAY) };
  const [shows, schedules] = await Promise.all([
    getAll<Show>('/shows', 'shows', signal),
    getAll<{ event: ProgrammeEvent; instances: Instance[] }>(`/schedule${query({ ...window, type: Object.keys(KIND_OF).join(',') })}`, 'schedules', signal),
  ]);
  const events = await Promise.all(schedules.map(({ event, instances }) => eventArchive(event, instances, window, signal)));
  return shows.map((show) => ({ show, events: events.filter(({ event }) => event.showId === show.id) })).filter(({ events: held }) => held.length > 0);
}

export default function Archive() {
  const [windowId, setWindowId] = useState(WINDOWS[0]!.id);
  const [showId, setShowId] = useState('');
  const [withFiles, setWithFiles] = useState(false);
  const { data, error } = useLive((signal) => load(windowId, signal), CHANGES, [windowId]);
  const shown = (data ?? []).filter(({ show }) => showId === '' || show.id === showId);
  return (
    <Page title="Archive">
      <form className="row archive-filters" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor="archive-window">Instances</label>
          <select id="archive-window" value={windowId} onChange={(event) => setWindowId(event.target.value)}>
            {WINDOWS.map((window) => <option key={window.id} value={window.id}>{window.label}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="archive-show">Show</label>
          <select id="archive-show" value={showId} onChange={(event) => setShowId(event.target.value)}>
            <option value="">Every show</option>
            {(data ?? []).map(({ show }) => <option key={show.id} value={show.id}>{show.title}</option>)}
          </select>
        </div>
        <label className="check"><input type="checkbox" checked={withFiles} onChange={(event) => setWithFiles(event.target.checked)} /> Only instances with files</label>
      </form>
      <Refusal error={error} />
      {data === undefined ? <Empty>Loading the archive…</Empty>
        : shown.length === 0 ? <Empty>No live or prerecorded instances in this window.</Empty>
          : shown.map(({ show, events }) => <ShowSection key={show.id} show={show} events={events} withFiles={withFiles} />)}
    </Page>
  );
}

function ShowSection({ show, events, withFiles }: { show: Show; events: EventArchive[]; withFiles: boolean }) {
  const id = useId();
  return (
    <section className="archive-show" aria-labelledby={id}>
      <h2 id={id}>{show.title}</h2>
      {events.map((archive) => <EventCard key={archive.event.id} archive={archive} title={show.title} withFiles={withFiles} />)}
    </section>
  );
}

function EventCard({ archive, title, withFiles }: { archive: EventArchive; title: string; withFiles: boolean }) {
  const { event, kind, locked } = archive;
  const slots = withFiles ? archive.slots.filter((slot) => slot.files.length > 0) : archive.slots;
  const id = useId();
  return (
    <article className="card archive-event" aria-labelledby={id}>
      <h3 id={id}>
        <Badge state={event.type} /> {describeRule(parseRule(event.recurrence?.rule), event.start)}
        {event.recurrence && <code className="archive-rule">RRULE:{event.recurrence.rule}</code>}
        <small>· {formatSeconds(event.duration)} · {event.timezone}</small>
      </h3>
      {locked && <p className="notice">The {kind} of this event need the API key.</p>}
      {slots.length === 0 ? <Empty>No {kind} in this window.</Empty> : (
        <ul className="slots">
          {slots.map((slot) => <SlotRow key={slot.start} slot={slot} kind={kind} event={event} title={title} />)}
        </ul>
      )}
    </article>
  );
}

function SlotRow({ slot, kind, event, title }: { slot: Slot; kind: Kind; event: ProgrammeEvent; title: string }) {
  const path = filePath(kind, event.id, slot.start);
  return (
    <li className="slot" aria-label={`${title} ${slot.start}`}>
      <p className="slot-when"><Time value={slot.startsAt} /> <small>({slot.start} {event.timezone})</small></p>
      {slot.files.length > 0 && (
        <ul className="files" aria-label={kind}>
          {slot.files.map((file) => <FileRow key={`${file.part}-${file.etag}`} file={file} path={path} kind={kind} />)}
        </ul>
      )}
      <DropZone path={path} kind={kind} replaces={slot.files.length > 0} />
    </li>
  );
}

/** The file, read with the API key (an <audio> or a link cannot send it): prerecordings are never public. */
async function fetchFile(path: string, part: number): Promise<Blob> {
  return (await send('GET', `${path}${query({ part })}`, { headers: { accept: '*/*' } })).blob();
}

function FileRow({ file, path, kind }: { file: ArchivedFile; path: string; kind: Kind }) {
  const [playing, setPlaying] = useState<string>();
  const action = useAction();
  useEffect(() => () => { if (playing) URL.revokeObjectURL(playing); }, [playing]);
  const play = () => action.run(async () => setPlaying(URL.createObjectURL(await fetchFile(path, file.part))));
  const download = () => action.run(async () => {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(await fetchFile(path, file.part));
    link.download = `${kind.slice(0, -1)}-${file.start.replaceAll(':', '-')}-part${file.part}.${file.format.split(',')[0]}`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  });
  const remove = () => action.run(() => api('DELETE', `${path}${query({ part: file.part })}`));
  const name = `part ${file.part}`;
  return (
    <li className="file">
      <span className="file-facts">Part {file.part} · {file.format.split(',')[0]} · {formatSeconds(file.duration)} · {formatBytes(file.size)} · stored <Time value={file.createdAt} /></span>
      <span className="actions">
        {playing === undefined && <button type="button" className="small" disabled={action.busy} onClick={() => void play()} aria-label={`Play ${name}`}>Play</button>}
        <button type="button" className="small" disabled={action.busy} onClick={() => void download()} aria-label={`Download ${name}`}>Download</button>
        <ConfirmButton label="Delete" name={`Delete ${name}`} danger busy={action.busy} question="Its file cannot be brought back."
          confirm={`Delete ${name} for good`} keep="Keep it" onConfirm={() => void remove()} />
      </span>
      {playing && <audio controls autoPlay src={playing} data-part={file.part} aria-label={`Player of ${name}`} />}
      <Refusal error={action.error} />
    </li>
  );
}

/** Where a file is dropped or chosen for an instance: its upload's progress, and the API's answer. */
function DropZone({ path, kind, replaces }: { path: string; kind: Kind; replaces: boolean }) {
  const [over, setOver] = useState(false);
  const [state, setState] = useState<UploadState>();
  const busy = state?.phase === 'sending' || state?.phase === 'checking';
  const store = (files: FileList | null) => {
    if (busy || files === null || files.length === 0) return;
    if (files.length > 1) {
      setState({ phase: 'refused', name: '', sent: 0, error: new ApiError(0, 'Drop one file at a time: an instance has one.') });
      return;
    }
    void upload(path, files[0]!, setState);
  };
  const drop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setOver(false);
    store(event.dataTransfer.files);
  };
  const what = kind.slice(0, -1);
  return (
    <div className={`dropzone${over ? ' over' : ''}`} data-testid="dropzone"
      onDragOver={(event) => { event.preventDefault(); setOver(true); }} onDragLeave={() => setOver(false)} onDrop={drop}>
      <span>Drop an audio file here {replaces ? `to replace this ${what}` : `as the ${what}`}, or</span>{' '}
      <label className="button small">
        Choose a file
        <input type="file" className="visually-hidden" accept="audio/*,video/*" disabled={busy}
          aria-label={`${replaces ? 'Replace' : 'Upload'} the ${what}`} onChange={(event) => { store(event.target.files); event.target.value = ''; }} />
      </label>
      {state && <UploadProgress state={state} />}
    </div>
  );
}

/** The API's message for the file (the request's body) reads as said of it: "notes.txt is not an audio or video file". */
function refusalWords(name: string, error: ApiError): string {
  const said = error.field('body');
  if (said !== undefined && name !== '') return `${name} ${said}`;
  return name === '' ? error.message : `${name}: ${error.message}`;
}

const PHASE_WORDS = { sending: 'Sending', checking: 'Sent; onair checks it', stored: 'Stored', refused: 'Refused' };

function UploadProgress({ state }: { state: UploadState }) {
  const percent = Math.round(state.sent * 100);
  return (
    <div className="upload" aria-live="polite">
      {state.phase !== 'refused' && (
        <>
          <progress max={100} value={percent} aria-label={`Upload of ${state.name}`} />
          <span className="upload-words">{PHASE_WORDS[state.phase]} {state.name}: {percent} %</span>
        </>
      )}
      {state.error && <p className="error" role="alert">{refusalWords(state.name, state.error)}</p>}
    </div>
  );
}
