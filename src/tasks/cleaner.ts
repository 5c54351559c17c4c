import { Duration } from 'luxon';
import type { Logger } from 'pino';
import type { Alarm, Clock } from '../core/clock.ts';
import { badRequest } from '../core/http/problem.ts';
import type { TaskStore } from './store.ts';

export type CleanStrategy =
  | { type: 'all'; parameters?: Record<string, unknown> }
  | { type: 'timedelta'; parameters: { delta: string } };

/** Parses an ISO 8601 duration such as P7D or PT12H into milliseconds. */
export function durationMs(delta: unknown, field: string): number {
  const duration = typeof delta === 'string' ? Duration.fromISO(delta) : undefined;
  if (!duration?.isValid || duration.toMillis() < 0) throw badRequest(field, 'must be an ISO 8601 duration such as P7D or PT12H');
  return duration.toMillis();
}

/** Removes finished tasks by a strategy: `all`, or `timedelta` (finished longer ago than `delta`). */
export async function clean(store: TaskStore, strategy: { type: string; parameters?: Record<string, unknown> }, now: number): Promise<string[]> {
  switch (strategy.type) {
    case 'all':
      return store.clean(undefined);
    case 'timedelta':
      return store.clean(now - durationMs(strategy.parameters?.delta, 'strategy.parameters.delta'));
    default:
      throw badRequest('strategy.type', `unknown strategy "${strategy.type}"; known: all, timedelta`);
  }
}

const DAY_MS = 24 * 3600 * 1000;

export interface CleanerOptions {
  store: TaskStore;
  clock: Clock;
  logger: Logger;
  /** ISO 8601 duration: finished tasks older than this are removed. */
  retention: string;
  /** HH:MM, UTC. */
  time: string;
}

/** Cleans every day at a set UTC time; an error is logged and the next day's run is armed all the same. */
export class DailyCleaner {
  #alarm: Alarm | undefined;
  #options: CleanerOptions;

  constructor(options: CleanerOptions) {
    this.#options = options;
  }

  start(): void {
    const [hours, minutes] = this.#options.time.split(':').map(Number) as [number, number];
    const now = this.#options.clock.now();
    const today = new Date(now);
    let next = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), hours, minutes);
    if (next <= now) next += DAY_MS;
    this.#alarm = this.#options.clock.at(next, () => void this.run().finally(() => this.start()));
  }

  async run(): Promise<void> {
    const { store, clock, logger, retention } = this.#options;
    try {
      const removed = await clean(store, { type: 'timedelta', parameters: { delta: retention } }, clock.now());
      logger.info({ removed: removed.length, retention }, 'daily task clean');
    } catch (err) {
      logger.error({ err }, 'daily task clean failed; it runs again tomorrow');
    }
  }

  stop(): void {
    this.#alarm?.cancel();
  }
}
