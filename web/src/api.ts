/**
 * The one client of onair's API: every page reads and changes through it, as any script could. The API key, once
 * given, is kept for this browser tab only (sessionStorage). A 401 asks for it (key.tsx) and tries once more.
 */

const KEY = 'onair-api-key';

const keyWatchers = new Set<() => void>();
const keyChanged = () => keyWatchers.forEach((watcher) => watcher());

export const apiKey = {
  get: (): string | undefined => sessionStorage.getItem(KEY) ?? undefined,
  set: (key: string) => { sessionStorage.setItem(KEY, key); keyChanged(); },
  clear: () => { sessionStorage.removeItem(KEY); keyChanged(); },
  /** For useSyncExternalStore: calls `watcher` whenever the key is given or forgotten. */
  watch: (watcher: () => void) => { keyWatchers.add(watcher); return () => { keyWatchers.delete(watcher); }; },
};

/** What the API refused: its own words, and the message of each field it names (`body.title` → `title`). */
export class ApiError extends Error {
  readonly status: number;
  readonly fields: Record<string, string>;

  constructor(status: number, message: string, fields: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.fields = fields;
  }

  /** The message for a form field, by its name in the request body or query (`title`, `recurrence.rule`). */
  field(name: string): string | undefined {
    return this.fields[name];
  }
}

interface ErrorBody {
  detail?: string;
  error?: string;
  errorMessage?: string;
  message?: string;
  errors?: Array<{ field: string; message: string }>;
}

/** Problem documents (detail, errors[]), seed 001's {error} and the stream manager's {errorMessage}, read alike. */
export async function refusal(response: Response): Promise<ApiError> {
  const body = (await response.json().catch(() => ({}))) as ErrorBody;
  const fields: Record<string, string> = {};
  for (const { field, message } of body.errors ?? []) fields[field.replace(/^(body|querystring|params)\./, '')] = message;
  // Seed 001's {error} names its field first: "body.activation.time_utc: 100 is not in the future".
  const named = body.error?.match(/^(?:body|querystring|params)\.([\w.]+?)(?::|\s)/);
  if (named) fields[named[1]!] = body.error!;
  const message = body.detail ?? body.error ?? body.errorMessage ?? body.message ?? `${response.status} ${response.statusText}`;
  return new ApiError(response.status, message, fields);
}

type KeyAsker = (reason: string) => Promise<string | undefined>;
let askForKey: KeyAsker = async () => undefined;

/** The key prompt (key.tsx) registers itself here. */
export function onKeyNeeded(asker: KeyAsker): void {
  askForKey = asker;
}

/** How access goes at this station (GET /station): whether a key is set, and what anyone may read. */
export interface Access {
  keyRequired: boolean;
  publicRoutes: string[];
}

let access: Access = { keyRequired: false, publicRoutes: [] };

export function setAccess(station: Access): void {
  access = station;
}

export const keyRequired = () => access.keyRequired;

/** Whether a route pattern (/shows/:id, /ui/*) names a path. */
function names(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const have = path.split('?')[0]!.split('/');
  if (want.at(-1) === '*') return have.length >= want.length - 1 && want.slice(0, -1).every((part, i) => part === have[i]);
  return want.length === have.length && want.every((part, i) => (part.startsWith(':') ? have[i] !== '' : part === have[i]));
}

/**
 * Why the request needs the key before it is sent, if it does: onair has one and this tab none, and the request is a
 * change or a read that is not public. Asking first spares a refusal (and the browser's error for it).
 */
export function keyNeeded(method: string, path: string): string | undefined {
  if (!access.keyRequired || apiKey.get() !== undefined) return undefined;
  if (method !== 'GET' && method !== 'HEAD') return `${method} ${path.split('?')[0]} changes the station: it needs the API key.`;
  return access.publicRoutes.some((pattern) => names(pattern, path)) ? undefined : `${path.split('?')[0]} is for operators: it needs the API key.`;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as is (an upload); `body` is sent as JSON. */
  raw?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Asks for the key with the API's reason for a 401 (a request made outside `send`: an upload); true once it is held. */
export async function askKey(reason: string): Promise<boolean> {
  const key = await askForKey(reason);
  if (key === undefined) return false;
  apiKey.set(key);
  return true;
}

/** One request; on a 401, asks for the key (again, saying so, while the key given is refused) and tries with it. Answers the response, which is ok. */
export async function send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const attempt = () => {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    const key = apiKey.get();
    if (key !== undefined) headers['x-api-key'] = key;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    return fetch(path, { method, headers, signal: options.signal, body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)) });
  };
  const first = keyNeeded(method, path);
  if (first !== undefined && !(await askKey(first))) throw new ApiError(401, first);
  let response = await attempt();
  while (response.status === 401) {
    const refused = (await refusal(response)).message;
    const reason = apiKey.get() === undefined ? refused : `That key was refused. ${refused}`;
    apiKey.clear();
    if (!(await askKey(reason))) throw new ApiError(401, refused);
    response = await attempt();
  }
  if (!response.ok) throw await refusal(response);
  return response;
}

/** A request whose answer is JSON (or nothing, 204). */
export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(method, path, options);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, { signal });

/** Every item of a paged list (`{count, limit, offset, <key>: [...]}`), 500 a request. */
export async function getAll<T>(path: string, key: string, signal?: AbortSignal): Promise<T[]> {
  const items: T[] = [];
  const separator = path.includes('?') ? '&' : '?';
  for (;;) {
    const page = await get<{ count: number } & Record<string, unknown>>(`${path}${separator}limit=500&offset=${items.length}`, signal);
    const got = page[key] as T[];
    items.push(...got);
    if (got.length === 0 || items.length >= page.count) return items;
  }
}

/** A query string of the values that are set. */
export function query(values: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}
