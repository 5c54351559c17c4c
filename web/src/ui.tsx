import { createContext, useCallback, useContext, useId, useState, type ReactNode } from 'react';
import { ApiError, type Access } from './api.ts';
import { useStreamState } from './live.ts';

/** This station, from GET /station: its time zone is the one every page shows times in. */
export interface Station {
  timezone: string;
  version: string;
  node: { id: string; region: string };
  access: Access;
}

/** Until /station answers (or if it cannot be read): UTC, and a key asked for only when onair refuses without one. */
export const UNKNOWN_STATION: Station = { timezone: 'UTC', version: '', node: { id: '', region: '' }, access: { keyRequired: false, publicRoutes: [] } };

export const StationContext = createContext<Station>(UNKNOWN_STATION);
export const useStation = () => useContext(StationContext);

/** A page: its title, what it is about, and a note when its live updates are off. */
export function Page({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  const stream = useStreamState();
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-header">
        <h1 id="page-title">{title}</h1>
        {actions}
      </header>
      {stream === 'needs-key' && (
        <p className="notice">Live updates need the API key: this page shows what the public API allows, as of its loading.</p>
      )}
      {children}
    </section>
  );
}

/** What the API answered when it refused, in its own words. */
export function Refusal({ error }: { error: ApiError | undefined }) {
  if (error === undefined) return null;
  return <p className="error" role="alert">{error.message}</p>;
}

/** A change in progress: busy while it runs, and the API's refusal if any (for the fields it names). */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const run = useCallback(async <T,>(change: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await change();
    } catch (reason) {
      setError(reason instanceof ApiError ? reason : new ApiError(0, String(reason)));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { run, busy, error, clear: () => setError(undefined) };
}

/**
 * A labelled form field with the API's message for it beside it. `name` is the field's name in the request
 * (`title`, `recurrence.rule`); the input is the child, given its id and its description by render props.
 */
export function Field({ label, name, error, hint, children }: {
  label: string;
  name: string;
  error?: ApiError;
  hint?: ReactNode;
  children: (props: { id: string; name: string; 'aria-invalid': boolean; 'aria-describedby': string | undefined }) => ReactNode;
}) {
  const id = useId();
  const message = error?.field(name);
  const described = [hint ? `${id}-hint` : '', message ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${message ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, name, 'aria-invalid': message !== undefined, 'aria-describedby': described })}
      {hint && <small id={`${id}-hint`} className="hint">{hint}</small>}
      {message && <small id={`${id}-error`} className="field-error" role="alert">{message}</small>}
    </div>
  );
}

/** A form's refusal that names no field of the form (or fields it has not): shown once, at the form's foot. */
export function FormRefusal({ error, fields }: { error: ApiError | undefined; fields: string[] }) {
  if (error === undefined) return null;
  const named = Object.keys(error.fields).some((field) => fields.includes(field));
  return named ? null : <Refusal error={error} />;
}

/** An instant as the API gives it: ISO 8601, or epoch milliseconds. */
export type Instant = string | number;

/** An instant in the station's time zone (or `zone`), as "Sun 6 Dec, 16:24:03". */
export function formatTime(at: Instant | null | undefined, zone: string, withDate = true): string {
  if (at === null || at === undefined || at === '') return '—';
  const options: Intl.DateTimeFormatOptions = { timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
  if (withDate) Object.assign(options, { weekday: 'short', day: 'numeric', month: 'short' });
  return new Intl.DateTimeFormat('en-GB', options).format(new Date(at));
}

export function Time({ value, withDate = true }: { value: Instant | null | undefined; withDate?: boolean }) {
  const { timezone } = useStation();
  if (value === null || value === undefined || value === '') return <span>—</span>;
  return <time dateTime={new Date(value).toISOString()}>{formatTime(value, timezone, withDate)}</time>;
}

/** A byte count, as "1.2 MB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** A number of seconds, as "1:02:03" or "2:03". */
export function formatSeconds(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const [h, m, s] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

/** A button that copies a value (an ingest URL, a key) and says so. */
export function CopyButton({ value, label }: { value: string; label: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(value);
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button type="button" className="small" onClick={() => void copy()} aria-label={`Copy ${label}`}>
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}

/** A state as a coloured badge with its name in words (colour is never the only sign). */
export function Badge({ state }: { state: string }) {
  return <span className={`badge badge-${state.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`}>{state}</span>;
}

/** Nothing to show yet (loading) or at all. */
export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
