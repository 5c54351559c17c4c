import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { everyDay } from '../daily.ts';
import type { EventBus } from './bus.ts';

/** The daily clean of the outbox: events older than `retentionMs` are removed, a batch at a time. */
export function keepEvents(options: { bus: EventBus; clock: Clock; logger: Logger; retentionMs: number; time: string }): { stop(): void } {
  const { bus, clock, logger, retentionMs, time } = options;
  return everyDay(clock, time, async () => {
    try {
      const removed = await bus.clean(clock.now() - retentionMs);
      logger.info({ removed, retentionMs }, 'daily event clean');
    } catch (err) {
      logger.error({ err }, 'daily event clean failed; it runs again tomorrow');
    }
  });
}
