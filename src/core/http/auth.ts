import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyRequest, RouteOptions } from 'fastify';
import { ConfigError } from '../config.ts';
import { HttpError } from './problem.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `public`: in the default public set (what listeners and a public website use); `private`: for operators only,
     * never public (it shows what is not aired yet, addresses or task results); `token`: the route checks a token of its
     * own (the stream manager's accessToken), so the access rule lets every request through to it; `open`: no data of
     * the station (the dashboard's files, /station), open to anyone whatever ONAIR_PUBLIC_ROUTES says, so that a
     * browser can load the app before it has a key. Other reads need the key when one is set.
     */
    access?: 'public' | 'private' | 'token' | 'open';
    /** Set by the access rule: the name ONAIR_PUBLIC_ROUTES knows the route by. */
    route?: string;
  }
  interface FastifyInstance {
    /** The access rule, for what tells clients how access goes (GET /station). */
    access: AccessRules;
  }
}

export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The API reference's prefix: every route under it is named by it, and it is public by default. */
export const API_REFERENCE = '/docs';

/** What a proxy adds to the requests it relays, as the headers are spelt in answers. */
const RELAY_HEADERS = ['Forwarded', 'X-Forwarded-For', 'X-Real-IP'];

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || ip.startsWith('127.');
}

/** Compares secrets in constant time; hashing first makes lengths equal without leaking them. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The `for` addresses of an RFC 7239 Forwarded header, as X-Forwarded-For lists them (no quotes, brackets or ports). */
export function forwardedFor(header: string): string {
  return header.split(',').map((element) => {
    const pair = element.split(';').map((p) => p.trim()).find((p) => p.toLowerCase().startsWith('for='));
    const value = (pair?.slice(4) ?? 'unknown').replace(/^"|"$/g, '');
    return value.startsWith('[') ? value.slice(1, value.indexOf(']')) : value.replace(/^([\d.]+):\d+$/, '$1');
  }).join(', ');
}

/**
 * Fastify reads the client's address from X-Forwarded-For (through the proxies ONAIR_TRUST_PROXY trusts), when it is
 * asked for: a Forwarded header is turned into that form first, so that both name the client the same way. Only when
 * there is no X-Forwarded-For: a proxy that writes that one passes a client's own Forwarded on untouched.
 */
export async function readForwarded(request: FastifyRequest): Promise<void> {
  const header = request.headers.forwarded;
  if (typeof header === 'string' && request.headers['x-forwarded-for'] === undefined) request.raw.headers['x-forwarded-for'] = forwardedFor(header);
}

interface Route {
  reads: boolean;
  private: boolean;
  marked: boolean;
  open: boolean;
}

/**
 * Who may do what, decided once for every route. With the API key set, only public routes are open without it.
 * Without it, reads are open but private ones, and changes and private reads are accepted from this machine only:
 * never from a request relayed by a proxy, which would open them to whoever reaches the proxy.
 */
export class AccessRules {
  readonly #apiKey: string | undefined;
  readonly #configured: string[] | undefined;
  readonly #routes = new Map<string, Route>();
  #public = new Set<string>();

  constructor(apiKey: string | undefined, publicRoutes: string[] | undefined) {
    this.#apiKey = apiKey;
    this.#configured = publicRoutes;
  }

  /** The onRoute hook: names the route (by its plugin's prefix, such as the API reference's, or its URL) and notes it. */
  readonly name = (route: RouteOptions & { prefix?: string }): void => {
    const name = route.prefix || route.url;
    route.config = { ...route.config, route: name };
    const reads = [route.method].flat().every((method) => SAFE_METHODS.has(method));
    const known = this.#routes.get(name) ?? { reads: false, private: false, marked: name === API_REFERENCE, open: false };
    const access = route.config.access;
    this.#routes.set(name, {
      reads: known.reads || reads, private: known.private || access === 'private', marked: known.marked || access === 'public', open: known.open || access === 'open',
    });
  };

  /** The onReady hook: every route is known, so the public set is decided, and a bad ONAIR_PUBLIC_ROUTES stops the start. */
  readonly settle = async (): Promise<void> => {
    const refusal = (route: Route | undefined) =>
      route === undefined ? 'there is no such route'
        : !route.reads ? 'it is not a read (changes always need the key)'
          : route.private ? 'it is never public (it shows unaired prerecordings, addresses or task results)' : undefined;
    for (const name of this.#configured ?? []) {
      const why = refusal(this.#routes.get(name));
      if (why !== undefined) throw new ConfigError(`ONAIR_PUBLIC_ROUTES names ${name}, but ${why}`);
    }
    this.#public = new Set(this.#configured ?? [...this.#routes].filter(([, route]) => route.marked).map(([name]) => name));
  };

  /** Whether reading the route is open to anyone (changes never are). */
  isPublic(config: { route?: string; access?: string }): boolean {
    if (config.access === 'open') return true;
    return config.access !== 'private' && config.route !== undefined && this.#public.has(config.route);
  }

  /** Whether requests but public reads need the API key (it is set). */
  get keyRequired(): boolean {
    return this.#apiKey !== undefined;
  }

  /** The names (URL patterns) of the routes anyone may read: the public set and the open routes. */
  publicRoutes(): string[] {
    const open = [...this.#routes].filter(([, route]) => route.open).map(([name]) => name);
    return [...new Set([...this.#public, ...open])].sort();
  }

  /** The onRequest hook. */
  readonly check = async (request: FastifyRequest): Promise<void> => {
    const config = request.routeOptions.config;
    const reads = SAFE_METHODS.has(request.method);
    if (config.route === undefined || config.access === 'token' || config.access === 'open' || (reads && this.isPublic(config))) return;
    if (reads && config.access !== 'private' && this.#apiKey === undefined) return;
    const what = `${request.method} ${config.route}`;
    const refused = this.#apiKey === undefined ? notLocal(request, what) : this.#withoutKey(request, what);
    if (refused === undefined) return;
    request.log.info({ ip: request.ip, method: request.method, url: config.route, status: refused.status }, 'access refused');
    throw refused;
  };

  #withoutKey(request: FastifyRequest, what: string): HttpError | undefined {
    const given = request.headers['x-api-key'];
    if (typeof given === 'string' && secretsEqual(given, this.#apiKey!)) return undefined;
    return new HttpError(401, `A valid X-API-KEY header is required for ${what}`);
  }
}

/**
 * The operators' rule without a key: a request from this machine, never one relayed by a proxy (which would open it
 * to whoever reaches the proxy). Answers the refusal of `what`, if any.
 */
export function notLocal(request: FastifyRequest, what: string, unless = 'ONAIR_API_KEY is set'): HttpError | undefined {
  const rule = `${what} is accepted from this machine only unless ${unless}`;
  const relay = RELAY_HEADERS.find((header) => request.headers[header.toLowerCase()] !== undefined);
  if (relay !== undefined) return new HttpError(403, `${rule}, and this request came through a proxy (it carries ${relay})`);
  return isLoopback(request.socket.remoteAddress) ? undefined : new HttpError(403, rule);
}
