import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { apiKey, ApiError, keyNeeded } from './api.ts';

/** One event of GET /sse, as onair writes it. */
export interface LiveEvent<T = Record<string, unknown>> {
  id: string | undefined;
  type: string;
  createdAt: string;
  origin: string;
  data: T;
}

export type StreamState = 'connecting' | 'live' | 'needs-key' | 'retrying';

interface Subscriber {
  wanted(type: string): boolean;
  onEvent(event: LiveEvent): void;
  /**
   * Read the state now: the stream is (again) open, so every change after this read arrives as an event; or it cannot
   * open without the API key, and the page shows what public reads allow, as of now.
   */
  onReadable(): void;
}

const RETRY_MS = 2000;

/**
 * The tab's one stream of /sse, read with fetch (an EventSource cannot send the API key). It reconnects with
 * Last-Event-ID; each (re)connection tells every subscriber to read afresh once the stream is open, so that no
 * change falls between a page's read and its events.
 */
class EventStream {
  readonly #subscribers = new Set<Subscriber>();
  readonly #watchers = new Set<() => void>();
  #state: StreamState = 'connecting';
  #lastId: string | undefined;
  #abort: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  get state(): StreamState {
    return this.#state;
  }

  subscribe(subscriber: Subscriber): () => void {
    this.#subscribers.add(subscriber);
    if (this.#abort === undefined && this.#timer === undefined) this.#connect();
    else if (this.#state === 'live' || this.#state === 'needs-key') subscriber.onReadable();
    return () => {
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size === 0) this.#close();
    };
  }

  watch = (watcher: () => void): (() => void) => {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  };

  /** After the key was given: connect again at once. */
  restart(): void {
    this.#close();
    if (this.#subscribers.size > 0) this.#connect();
  }

  #setState(state: StreamState): void {
    this.#state = state;
    for (const watcher of this.#watchers) watcher();
  }

  #close(): void {
    this.#abort?.abort();
    this.#abort = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #connect(): void {
    this.#setState('connecting');
    const abort = new AbortController();
    this.#abort = abort;
    this.#read(abort.signal).then(
      (needsKey) => this.#ended(abort, needsKey),
      () => this.#ended(abort, false),
    );
  }

  #ended(abort: AbortController, needsKey: boolean): void {
    if (abort !== this.#abort) return;
    this.#abort = undefined;
    this.#setState(needsKey ? 'needs-key' : 'retrying');
    // Without the key there is nothing to retry: the pages read what they may and say so; the key prompt restarts the stream.
    if (needsKey) for (const subscriber of this.#subscribers) subscriber.onReadable();
    else this.#timer = setTimeout(() => { this.#timer = undefined; this.#connect(); }, RETRY_MS);
  }

  /** Reads the stream until it ends; answers true when it was refused for want of the API key. */
  async #read(signal: AbortSignal): Promise<boolean> {
    if (keyNeeded('GET', '/sse') !== undefined) return true;
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    const key = apiKey.get();
    if (key !== undefined) headers['x-api-key'] = key;
    if (this.#lastId !== undefined) headers['last-event-id'] = this.#lastId;
    const response = await fetch('/sse', { headers, signal, cache: 'no-store' });
    if (response.status === 401 || response.status === 403) return true;
    if (!response.ok || response.body === null) throw new ApiError(response.status, 'the event stream was refused');
    this.#setState('live');
    for (const subscriber of this.#subscribers) subscriber.onReadable();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        this.#dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  #dispatch(frame: string): void {
    let id: string | undefined;
    let type: string | undefined;
    let data = '';
    for (const line of frame.split('\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const field = line.slice(0, colon);
      const value = line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') type = value;
      else if (field === 'data') data += value;
    }
    if (id !== undefined) this.#lastId = id;
    if (type === undefined || data === '') return;
    const event = { id, ...(JSON.parse(data) as Omit<LiveEvent, 'id'>) };
    for (const subscriber of this.#subscribers) if (subscriber.wanted(event.type)) subscriber.onEvent(event);
  }
}

export const events = new EventStream();

/** The state of the tab's event stream, for the header's indicator. */
export function useStreamState(): StreamState {
  return useSyncExternalStore(events.watch, () => events.state);
}

export interface Live<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** Read again now (after a change this page made). */
  reload(): void;
}

/**
 * State read by `load` once the event stream is open (or cannot be, for want of the key), and read again whenever one of `types` arrives (reads are
 * coalesced: one at a time, and one more if events came meanwhile). No polling: without events nothing is read.
 * `onEvent` sees each event as it comes; when it answers true, it has applied the event in place (a figure that comes
 * every second) and nothing is read.
 */
export function useLive<T>(load: (signal: AbortSignal) => Promise<T>, types: string[], keys: unknown[] = [], onEvent?: (event: LiveEvent) => boolean): Live<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;
  const run = useRef<{ busy: boolean; again: boolean; abort: AbortController }>({ busy: false, again: false, abort: new AbortController() });

  const reload = useCallback(() => {
    const state = run.current;
    if (state.busy) {
      state.again = true;
      return;
    }
    state.busy = true;
    state.again = false;
    loadRef.current(state.abort.signal).then(
      (value) => { if (!state.abort.signal.aborted) { setData(value); setError(undefined); } },
      (reason: unknown) => { if (!state.abort.signal.aborted) setError(reason instanceof ApiError ? reason : new ApiError(0, String(reason))); },
    ).finally(() => {
      state.busy = false;
      if (state.again && !state.abort.signal.aborted) reload();
    });
  }, []);

  const typeList = types.join(',');
  useEffect(() => {
    run.current = { busy: false, again: false, abort: new AbortController() };
    const wanted = new Set(typeList.split(','));
    const unsubscribe = events.subscribe({
      wanted: (type) => wanted.has(type),
      onEvent: (event) => { if (onEventRef.current?.(event) !== true) reload(); },
      onReadable: reload,
    });
    const current = run.current;
    return () => { current.abort.abort(); unsubscribe(); };
  }, [typeList, reload, ...keys]);

  return { data, error, reload };
}
