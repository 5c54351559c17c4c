import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/database.ts';
import { InvalidInput } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { VERSION } from '../version.ts';
import { AddressGuard } from './address.ts';
import { destination, exchange, Failure, systemResolver, webUrl, type Answer, type Resolver } from './client.ts';
import {
  OutboundError, type DeliveryAttempt, type DeliveryFilter, type Outbound, type OutboundRequest, type OutboundResponse,
} from './contract.ts';
import { DeliveryLog } from './log.ts';

export { outboundMigrations } from './migrations.ts';
export type * from './contract.ts';
export { OutboundError } from './contract.ts';

const TIMEOUT_MS = 15_000;
const MAX_RESPONSE_BYTES = 64 * 1024;
const EXCERPT_BYTES = 1024;
const USER_AGENT = `onair/${VERSION}`;
/** Headers and query parameters the delivery log and the logs never show. */
const SECRET = /authorization|cookie|secret|token|key|password/i;

export interface OutboundDeps {
  config: Config;
  database: Database;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** The system's resolver unless a test stands in for DNS. */
  resolver?: Resolver;
}

/** The URL as logs may show it: no userinfo, no value of a query parameter whose name tells of a secret. */
export function shownUrl(url: URL): string {
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  for (const name of [...shown.searchParams.keys()]) if (SECRET.test(name)) shown.searchParams.set(name, 'redacted');
  return shown.toString();
}

function withoutSecrets(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !SECRET.test(name)));
}

/** What came of one attempt, before it is logged and answered. */
type Outcome = { answer: Answer; failure?: undefined } | { answer: Answer | undefined; failure: Failure };

/** The guarded client every outgoing call goes through, and the delivery log. */
export class OutboundService implements Outbound {
  readonly #guard: AddressGuard;
  readonly #resolver: Resolver;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #log: DeliveryLog;
  readonly #requests: Counter<'kind' | 'outcome'>;

  constructor(deps: OutboundDeps) {
    this.#guard = new AddressGuard(deps.config.outbound.allowedPrivate);
    this.#resolver = deps.resolver ?? systemResolver;
    this.#clock = deps.clock;
    this.#logger = deps.logger.child({ area: 'outbound' });
    this.#log = new DeliveryLog(deps.database.kysely);
    this.#requests = new Counter({
      name: 'onair_outbound_requests_total',
      help: 'Outgoing calls by kind (webhook, hook, other) and outcome (the status class, or why no answer came)',
      labelNames: ['kind', 'outcome'] as const,
      registers: [deps.metrics.registry],
    });
  }

  async check(text: string, field: string): Promise<void> {
    const url = webUrl(text);
    if (typeof url === 'string') throw new InvalidInput(field, url);
    try {
      await destination(url, this.#guard, this.#resolver);
    } catch (error) {
      throw new InvalidInput(field, `leads nowhere onair may call: ${(error as Error).message}`);
    }
  }

  async send(request: OutboundRequest): Promise<OutboundResponse> {
    const at = this.#clock.now();
    const started = performance.now();
    const url = webUrl(request.url);
    const given = Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]);
    const headers: Record<string, string> = {
      ...(request.body === undefined ? {} : { 'content-type': 'application/json' }), ...Object.fromEntries(given), 'user-agent': USER_AGENT,
    };
    const outcome: Outcome = typeof url === 'string'
      ? { answer: undefined, failure: new Failure('refused-address', `the URL ${url}`) }
      : await this.#attempt(url, headers, request);
    const durationMs = Math.round(performance.now() - started);
    const shown = typeof url === 'string' ? '(not a URL)' : shownUrl(url);
    const delivery = await this.#record(request, { at, url: shown, headers, durationMs, outcome });
    const kind = request.log?.kind ?? 'other';
    this.#logger.debug({ url: shown, status: outcome.answer?.status, error: outcome.failure?.message, durationMs, delivery }, 'outgoing call');
    if (outcome.failure) {
      this.#requests.inc({ kind, outcome: outcome.failure.failure });
      throw new OutboundError(outcome.failure.failure, outcome.failure.message, durationMs, delivery);
    }
    const { status, headers: answered, body } = outcome.answer;
    this.#requests.inc({ kind, outcome: `${Math.floor(status / 100)}xx` });
    return { status, headers: answered, body: body.toString('utf8'), durationMs, delivery };
  }

  /** The request under one deadline (the resolution included), on the clock. */
  async #attempt(url: URL, headers: Record<string, string>, request: OutboundRequest): Promise<Outcome> {
    const timeoutMs = request.timeoutMs ?? TIMEOUT_MS;
    const deadline = new AbortController();
    const alarm = this.#clock.at(this.#clock.now() + timeoutMs, () => deadline.abort());
    const signal = request.signal ? AbortSignal.any([deadline.signal, request.signal]) : deadline.signal;
    const aborted = new Promise<never>((_resolve, reject) => {
      const fail = () => reject(deadline.signal.aborted
        ? new Failure('timeout', `no answer within ${timeoutMs} ms`)
        : new Failure('send', 'cancelled'));
      if (signal.aborted) fail();
      signal.addEventListener('abort', fail, { once: true });
    });
    try {
      const pinned = request.trust === 'api' ? await Promise.race([destination(url, this.#guard, this.#resolver), aborted]) : undefined;
      const answer = await Promise.race([exchange(url, {
        method: request.method ?? 'POST', headers, body: request.body, signal, pinned,
        maxBytes: request.maxResponseBytes ?? MAX_RESPONSE_BYTES,
      }), aborted]);
      return { answer };
    } catch (error) {
      const failure = error instanceof Failure ? error : new Failure('send', describe(error as NodeJS.ErrnoException));
      return { answer: failure.answer, failure };
    } finally {
      alarm.cancel();
    }
  }

  async #record(request: OutboundRequest, attempt: { at: number; url: string; headers: Record<string, string>; durationMs: number; outcome: Outcome }): Promise<string | undefined> {
    if (!request.log) return undefined;
    const { answer, failure } = attempt.outcome;
    try {
      return await this.#log.add({
        ...request.log, at: attempt.at, url: attempt.url, requestHeaders: withoutSecrets(attempt.headers),
        status: answer?.status ?? null, durationMs: attempt.durationMs, error: failure?.message ?? null,
        responseHeaders: withoutSecrets(answer?.headers ?? {}),
        excerpt: answer && !failure ? answer.body.subarray(0, EXCERPT_BYTES).toString('utf8') : null,
      });
    } catch (err) {
      this.#logger.error({ err, url: attempt.url }, 'an outgoing call could not be kept in the delivery log');
      return undefined;
    }
  }

  deliveries(filter: DeliveryFilter): Promise<DeliveryAttempt[]> {
    return this.#log.list(filter);
  }

  delivery(id: string): Promise<DeliveryAttempt | undefined> {
    return this.#log.get(id);
  }

  /** The daily clean: attempts logged before `before` go. */
  clean(before: number): Promise<number> {
    return this.#log.clean(before);
  }
}

/** A connection's failure in words: the code says most (ECONNREFUSED, ECONNRESET, ENOTFOUND). */
function describe(error: NodeJS.ErrnoException): string {
  return error.code ? `${error.code}: ${error.message}` : error.message;
}

export function createOutbound(deps: OutboundDeps): OutboundService {
  return new OutboundService(deps);
}
