import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { everyDay } from '../core/daily.ts';
import type { EventBus } from '../core/events/bus.ts';
import { invalid } from '../core/errors.ts';
import { durationField } from '../core/duration.ts';
import type { TaskStore } from './store.ts';

declare module '../core/events/bus.ts' {
  interface EventMap {
    /** Finished tasks were removed (how many): whoever keeps task ids (the automation) looks again. */
    'tasks-cleaned': { removed: number };
  }
}

export type CleanStrategy =
  | { type: 'all'; parameters?: Record<string, unknown> }
  | { type: 'timedelta'; parameters: { delta: string } };

/** Removes finished tasks by a strategy: `all`, or `timedelta` (finished longer ago than `delta`). */
export async function clean(store: TaskStore, bus: EventBus, strategy: { type: string; parameters?: Record<string, unknown> }, now: number): Promise<string[]> {
  let before: number | undefined;
  switch (strategy.type) {
    case 'all':
      break;
    case 'timedelta':
      before = now - durationField('strategy.parameters.delta', strategy.parameters?.delta);
      break;
    default:
      throw invalid('strategy.type', `unknown strategy "${strategy.type}"; known: all, timedelta`);
  }
  return store.clean(before, async (trx, removed) => {
    if (removed.length > 0) await bus.record(trx, 'tasks-cleaned', [{ removed: removed.length }]);
  });
}

export interface CleanerOptions {
  store: TaskStore;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  /** ISO 8601 duration: finished tasks older than this are removed. */
  retention: string;
  /** HH:MM, UTC. */
  time: string;
}

/** Cleans every day at a set UTC time; an error is logged and the next day's run is armed all the same. */
export class DailyCleaner {
  #daily: { stop(): void } | undefined;
  #options: CleanerOptions;

  constructor(options: CleanerOptions) {
    this.#options = options;
  }

  start(): void {
    this.#daily = everyDay(this.#options.clock, this.#options.time, () => this.run());
  }

  async run(): Promise<void> {
    const { store, bus, clock, logger, retention } = this.#options;
    try {
      const removed = await clean(store, bus, { type: 'timedelta', parameters: { delta: retention } }, clock.now());
      logger.info({ removed: removed.length, retention }, 'daily task clean');
    } catch (err) {
      logger.error({ err }, 'daily task clean failed; it runs again tomorrow');
    }
  }

  stop(): void {
    this.#daily?.stop();
  }
}
