import { useEffect, useRef, useState } from 'react';
import { get, getAll, query } from '../api.ts';
import { useLive, type LiveEvent } from '../live.ts';
import type { ScheduleAnswer, Show } from '../programme.ts';
import { Badge, Empty, formatBytes, formatSeconds, Page, Refusal, Time } from '../ui.tsx';

interface OutputState { type: string; url: string; state: string; error: string | null }
interface SessionStats { bytes: number; bitrate: number; duration: number; codec: string | null; listeners: number; outputs: OutputState[] }
interface Channel {
  channel: string;
  port: number;
  state: 'idle' | 'reserved' | 'publishing' | 'disconnected';
  instance: { event: string; start: string } | null;
  session: string | null;
  since: string | null;
  expiresAt: string | null;
  stats: SessionStats | null;
  /** What listeners hear between shows: "silence", "none", or an instance's file of the archive in a loop. */
  fallback: 'silence' | 'none' | { recording: { event: string; start: string } } | { prerecording: { event: string; start: string } };
  static: boolean;
}
interface Next { title: string; type: string; startsAt: string }
interface OnAirState {
  channels: Channel[];
  /** By event id: the title of its show. */
  titles: Record<string, string>;
  /** By "event/start" (naive local): the instant the instance starts, for those on air or to come. */
  starts: Record<string, string>;
  next: Next[];
}

/** What a listener of the channel hears: its source, the fallback between shows, or nothing. */
function heard(channel: Channel): string {
  if (channel.state === 'publishing') return 'live';
  // disconnected: a static channel's encoder dropped; its listeners hear the fallback until it is back.
  if (channel.state === 'reserved') return 'reserved';
  return channel.fallback === 'none' ? 'idle' : 'fallback';
}

function fallbackWords(fallback: Channel['fallback']): string {
  if (typeof fallback === 'string') return fallback === 'none' ? 'none' : `fallback (${fallback})`;
  const [kind, ref] = 'recording' in fallback ? ['recording', fallback.recording] : ['prerecording', fallback.prerecording];
  return `fallback (the ${kind} of ${ref.start}, in a loop)`;
}

/** How far ahead the page looks for what comes next, and how many instances it lists. */
const DAYS_AHEAD = 7;
const NEXT = 5;
const CHANGES = ['availability-changed', 'stream-reserved', 'stream-publishing', 'stream-disconnected', 'stream-ended', 'stream-failed',
  'stream-output-failed', 'channel-created', 'channel-changed', 'channel-removed', 'programme-changed'];

async function load(signal: AbortSignal): Promise<OnAirState> {
  const now = Date.now();
  const window = query({ start: new Date(now).toISOString(), end: new Date(now + DAYS_AHEAD * 86_400_000).toISOString(), limit: 500 });
  const [channels, schedule, shows] = await Promise.all([
    get<Channel[]>('/channels', signal),
    get<ScheduleAnswer>(`/schedule${window}`, signal),
    getAll<Show>('/shows', 'shows', signal),
  ]);
  const titles = Object.fromEntries(shows.map((show) => [show.id, show.title]));
  const next = schedule.schedules.flatMap(({ event, instances }) => instances.map((instance) => ({
    title: titles[event.showId] ?? 'Untitled show', type: event.type, startsAt: instance.startsAt,
  })))
    .filter((item) => Date.parse(item.startsAt) > now)
    .sort((a, b) => a.startsAt.localeCompare(b.startsAt))
    .slice(0, NEXT);
  const eventTitles = Object.fromEntries(schedule.schedules.map(({ event }) => [event.id, titles[event.showId] ?? 'Untitled show']));
  const starts = Object.fromEntries(schedule.schedules.flatMap(({ event, instances }) => instances.map((instance) => [`${event.id}/${instance.start}`, instance.startsAt])));
  return { channels, titles: eventTitles, starts, next };
}

/** The live figures of each channel's session, from the gate's session-stats events (every second while on air). */
function useFigures(): [Record<string, SessionStats>, (event: LiveEvent) => boolean] {
  const [figures, setFigures] = useState<Record<string, SessionStats>>({});
  const onEvent = (event: LiveEvent) => {
    if (event.type !== 'session-stats') return false;
    const { channel, stats } = event.data as { channel: string; stats: SessionStats };
    setFigures((current) => ({ ...current, [channel]: stats }));
    return true;
  };
  return [figures, onEvent];
}

export function OnAir() {
  const [figures, onEvent] = useFigures();
  const { data, error } = useLive(load, [...CHANGES, 'session-stats'], [], onEvent);
  return (
    <Page title="On air">
      <Refusal error={error} />
      {data === undefined ? <Empty>Loading the channels…</Empty> : (
        <>
          <div className="cards">
            {data.channels.map((channel) => (
              <ChannelCard key={channel.channel} channel={channel} title={channel.instance ? data.titles[channel.instance.event] : undefined}
                startsAt={channel.instance ? data.starts[`${channel.instance.event}/${channel.instance.start}`] : undefined}
                figures={channel.state === 'idle' ? undefined : figures[channel.channel] ?? channel.stats ?? undefined} />
            ))}
          </div>
          <h2>Next</h2>
          {data.next.length === 0 ? <Empty>Nothing planned in the next {DAYS_AHEAD} days.</Empty> : (
            <ol className="next">
              {data.next.map((item) => (
                <li key={`${item.startsAt}-${item.title}`}><Time value={item.startsAt} /> · <strong>{item.title}</strong> ({item.type})</li>
              ))}
            </ol>
          )}
        </>
      )}
    </Page>
  );
}

function ChannelCard({ channel, title, startsAt, figures }: { channel: Channel; title: string | undefined; startsAt: string | undefined; figures: SessionStats | undefined }) {
  const state = heard(channel);
  return (
    <article className="card channel" aria-labelledby={`channel-${channel.channel}`} data-state={state}>
      <h2 id={`channel-${channel.channel}`}>{channel.channel} <Badge state={state} /></h2>
      <dl className="facts">
        <dt>On air</dt><dd>{title ?? (channel.instance ? channel.instance.event : '—')}{startsAt && <>, the instance of <Time value={startsAt} /></>}</dd>
        <dt>Source</dt><dd>{channel.state === 'idle' ? fallbackWords(channel.fallback) : `${channel.static ? 'encoder (static key)' : 'reservation'} · SRT port ${channel.port}`}</dd>
        <dt>Since</dt><dd><Time value={channel.since} /></dd>
        {channel.expiresAt && <><dt>Waits until</dt><dd><Time value={channel.expiresAt} /></dd></>}
        <dt>Bitrate</dt><dd>{figures ? `${Math.round(figures.bitrate / 1000)} kbit/s${figures.codec ? ` · ${figures.codec}` : ''}` : '—'}</dd>
        <dt>On air for</dt><dd>{figures ? `${formatSeconds(figures.duration)} · ${formatBytes(figures.bytes)}` : '—'}</dd>
        <dt>Listeners</dt><dd data-testid="listeners">{figures ? figures.listeners : '—'}</dd>
      </dl>
      {figures && figures.outputs.length > 0 && (
        <ul className="outputs" aria-label="Push outputs">
          {figures.outputs.map((output) => (
            <li key={output.url}><code>{output.type} {output.url}</code> <Badge state={output.state} />{output.error && <small> {output.error}</small>}</li>
          ))}
        </ul>
      )}
      <Listen channel={channel.channel} />
    </article>
  );
}

/** The Listen button: an <audio> on the channel's /listen, with a level meter of what it plays (Web Audio). */
function Listen({ channel }: { channel: string }) {
  const [on, setOn] = useState(false);
  const [problem, setProblem] = useState<string>();
  const audio = useRef<HTMLAudioElement>(null);
  const level = useLevel(audio, on);
  useEffect(() => {
    if (!on || audio.current === null) return;
    audio.current.play().catch((reason: unknown) => setProblem(String(reason)));
  }, [on]);
  return (
    <div className="listen">
      <button type="button" className={on ? '' : 'primary'} aria-pressed={on} onClick={() => { setProblem(undefined); setOn(!on); }}>
        {on ? 'Stop listening' : 'Listen'}
      </button>
      {on && (
        <>
          <audio ref={audio} src={`/channels/${encodeURIComponent(channel)}/listen`} data-channel={channel} onError={() => setProblem('The stream cannot be played')} />
          <div className="meter" role="meter" aria-label={`Level of ${channel}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(level * 100)}>
            <span style={{ width: `${Math.round(level * 100)}%` }} />
          </div>
        </>
      )}
      {problem && <p className="error" role="alert">{problem}</p>}
    </div>
  );
}

/** The peak level (0–1) of what an <audio> element plays, read from an AnalyserNode on each animation frame. */
function useLevel(audio: React.RefObject<HTMLAudioElement | null>, on: boolean): number {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    const element = audio.current;
    if (!on || element === null) return;
    const context = new AudioContext();
    const source = context.createMediaElementSource(element);
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    analyser.connect(context.destination);
    const samples = new Float32Array(analyser.fftSize);
    let frame = 0;
    const read = () => {
      analyser.getFloatTimeDomainData(samples);
      let peak = 0;
      for (const sample of samples) peak = Math.max(peak, Math.abs(sample));
      setLevel(Math.min(1, peak));
      frame = requestAnimationFrame(read);
    };
    frame = requestAnimationFrame(read);
    return () => {
      cancelAnimationFrame(frame);
      void context.close();
      setLevel(0);
    };
  }, [audio, on]);
  return level;
}
