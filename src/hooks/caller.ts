import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { Refused } from '../core/errors.ts';
import type { Authorization, HookApp, HookMethod, Notification } from '../core/hook-apps.ts';
import { OutboundError, type Outbound } from '../core/outbound/contract.ts';

/**
 * Send errors (no answer at all) are tried again after these pauses, a backend restarting being given time to come back,
 * while the call is within its timeout; a timeout or an answer is never tried again.
 */
const RETRY_PAUSES_MS = [100, 200, 400];
/** Authorization answers kept at most, whatever their time to live. */
const CACHE_SIZE = 10_000;
/** A backend's reason is passed on to the client as it is, up to this length. */
const REASON_LENGTH = 500;

export type Body = Record<string, unknown>;

/** What came back from one call: an answer (any status), or why none came. */
type Reply = { status: number; answer: Body | undefined } | { failure: string };

/** A call that went wrong under `restOnError: FAIL`, for the ErrorEvent. */
export interface HookFailure {
  app: HookApp;
  method: HookMethod;
  body: Body;
  eventId: number | null;
  error: string;
}

interface Decision {
  until: number;
  /** The fields taken from the answer; undefined: refused for `reason`. */
  taken: Body | undefined;
  reason: string;
}

/**
 * Calls hook backends: `POST {url}/{Method}` with a JSON body, through the guarded outbound client, and decides what the
 * answer means by the method's restClientConfig.
 */
export class HookCaller {
  #outbound: Outbound;
  #clock: Clock;
  #logger: Logger;
  #failed: (failure: HookFailure) => Promise<void>;
  #decisions = new Map<string, Decision>();
  /** Aborted when onair stops: calls under way are given up, queued ones fail at once. */
  #stopped = new AbortController();

  constructor(options: { outbound: Outbound; clock: Clock; logger: Logger; failed: (failure: HookFailure) => Promise<void> }) {
    this.#outbound = options.outbound;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#failed = options.failed;
  }

  /**
   * Asks an authorization method: resolves to the fields the backend's answer overwrites (restPolicy OVERWRITE), or
   * throws Refused with its reason. `credential` is what the answer may be cached for (with the app and method).
   */
  async authorize(app: HookApp, method: Authorization, body: Body, credential: string): Promise<Body> {
    if (!this.#calls(app, method)) return {};
    // Hashed: a credential holds the listener's query, which may be as long as a request line.
    const key = createHash('sha256').update(JSON.stringify([app.name, method, credential])).digest('base64');
    const cached = this.#decisions.get(key);
    const decision = cached && cached.until > this.#clock.now() ? cached : await this.#decide(app, method, body, key);
    if (decision.taken === undefined) throw new Refused(decision.reason);
    return decision.taken;
  }

  /**
   * Tells an event method; answers the status the backend gave (the answer's own `status` first), undefined when it
   * did not answer. Under `restOnError: FAIL` a failed call becomes an ErrorEvent, under LOG a log line.
   */
  async notify(app: HookApp, method: Notification, body: Body, eventId: number | null): Promise<number | undefined> {
    if (!this.#calls(app, method)) return undefined;
    const reply = await this.#post(app, method, body, eventId);
    const status = 'failure' in reply ? undefined : statusOf(reply.status, reply.answer);
    if (status !== 200 && !this.#stopped.signal.aborted) {
      const error = 'failure' in reply ? reply.failure : `the backend answered ${reply.status}${reasonOf(reply.answer, '')}`;
      if (app.restClientConfig[method].restOnError === 'FAIL') await this.#failed({ app, method, body, eventId, error });
      else this.#logger.warn({ app: app.name, method, error }, 'a hook event was not taken');
    }
    return status;
  }

  /** Gives up every call under way or to come: onair stops, and a slow backend must not hold that up. */
  stop(): void {
    this.#stopped.abort();
  }

  #calls(app: HookApp, method: HookMethod): boolean {
    return app.methods.includes(method) && app.restClientConfig[method].restPolicy !== 'DISABLED';
  }

  async #decide(app: HookApp, method: Authorization, body: Body, key: string): Promise<Decision> {
    const config = app.restClientConfig[method];
    const reply = await this.#post(app, method, body, null);
    const fail = config.restOnError === 'FAIL';
    const now = this.#clock.now();
    if ('failure' in reply) {
      this.#logger.warn({ app: app.name, method, error: reply.failure, refused: fail }, 'a hook backend did not answer');
      return { until: now, taken: fail ? undefined : {}, reason: `The hook backend did not answer (${reply.failure})` };
    }
    const status = statusOf(reply.status, reply.answer);
    // A refusal in a 200's body is the backend's word, and so is any answer on connect (even under LOG); other
    // statuses refuse only under FAIL.
    const decisive = reply.status === 200 || method === 'connect' || fail;
    const refused = status !== 200 && decisive;
    if (status !== 200 && !decisive) this.#logger.warn({ app: app.name, method, status }, 'a hook backend erred: let through (restOnError LOG)');
    const decision: Decision = {
      until: now + ttlOf(reply.answer, config.cacheTtlMs),
      // An error answer let through under LOG is no decision of the backend's: it overwrites nothing.
      taken: refused ? undefined : config.restPolicy === 'OVERWRITE' && reply.status === 200 ? pick(reply.answer, config.restOverwrite, config.clientExclude) : {},
      reason: `Refused by the hook backend${reasonOf(reply.answer, ` (${status})`)}`,
    };
    if (decision.until > now && reply.status === 200) this.#remember(key, decision);
    return decision;
  }

  #remember(key: string, decision: Decision): void {
    this.#decisions.delete(key);
    this.#decisions.set(key, decision);
    if (this.#decisions.size > CACHE_SIZE) this.#decisions.delete(this.#decisions.keys().next().value!);
  }

  async #post(app: HookApp, method: HookMethod, body: Body, eventId: number | null): Promise<Reply> {
    const sent = JSON.stringify(omit(body, app.restClientConfig[method].restExclude));
    const url = methodUrl(app.url, method);
    const until = this.#clock.now() + app.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.#outbound.send({
          url, trust: 'operator', body: sent, timeoutMs: app.timeoutMs, signal: this.#stopped.signal,
          headers: { 'content-type': 'application/json;charset=UTF-8', accept: 'application/json' },
          log: { kind: 'hook', subscriber: app.name, message: null, eventId, type: method, attempt },
        });
        return { status: response.status, answer: parsed(response.body) };
      } catch (error) {
        if (!(error instanceof OutboundError)) throw error;
        const pause = RETRY_PAUSES_MS[attempt - 1];
        const again = error.failure === 'send' && pause !== undefined && this.#clock.now() + pause < until && await this.#paused(pause);
        if (!again) return { failure: `${error.failure}: ${error.message}` };
      }
    }
  }

  /** Waits `ms` on the clock: true, or false as soon as onair stops. */
  #paused(ms: number): Promise<boolean> {
    const { signal } = this.#stopped;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const stopped = () => {
        alarm.cancel();
        resolve(false);
      };
      const alarm = this.#clock.at(this.#clock.now() + ms, () => {
        signal.removeEventListener('abort', stopped);
        resolve(true);
      });
      signal.addEventListener('abort', stopped, { once: true });
    });
  }
}

/** `{url}/{Method}`: the method ends the app URL's path, before its query (where a backend may want its own ticket). */
function methodUrl(base: string, method: HookMethod): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${method}`;
  return url.toString();
}

function parsed(text: string): Body | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Body : undefined;
  } catch {
    return undefined;
  }
}

/** A 200 whose JSON says another `status` ({status: 403, reason}) is that status. */
function statusOf(status: number, answer: Body | undefined): number {
  return status === 200 && typeof answer?.status === 'number' ? answer.status : status;
}

function reasonOf(answer: Body | undefined, otherwise: string): string {
  const reason = answer?.reason;
  return typeof reason === 'string' && reason !== '' ? `: ${reason.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, REASON_LENGTH)}` : otherwise;
}

/** The answer's `cacheTtl` (seconds) when it gives one, else the method's. */
function ttlOf(answer: Body | undefined, fallback: number): number {
  const ttl = answer?.cacheTtl;
  return typeof ttl === 'number' && Number.isFinite(ttl) && ttl >= 0 ? Math.min(ttl, 86_400) * 1000 : fallback;
}

function omit(body: Body, names: string[]): Body {
  return Object.fromEntries(Object.entries(body).filter(([name]) => !names.includes(name)));
}

function pick(answer: Body | undefined, names: string[], excluded: string[]): Body {
  return Object.fromEntries(Object.entries(answer ?? {}).filter(([name]) => names.includes(name) && !excluded.includes(name)));
}
