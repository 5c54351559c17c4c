import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { everyDay } from '../daily.ts';

/** What the daily clean empties: each removes what was made before a time, answering how many it removed. */
export type Cleans = Record<string, (before: number) => Promise<number>>;

/**
 * The daily clean of what is kept for `retentionMs` (the outbox's events, the delivery log's attempts), a batch at a
 * time; one that fails leaves the others to run.
 */
export function keepEvents(options: { cleans: Cleans; clock: Clock; logger: Logger; retentionMs: number; time: string }): { stop(): void } {
  const { cleans, clock, logger, retentionMs, time } = options;
  return everyDay(clock, time, async () => {
    for (const [what, clean] of Object.entries(cleans)) {
      try {
        const removed = await clean(clock.now() - retentionMs);
        logger.info({ removed, retentionMs }, `daily ${what} clean`);
      } catch (err) {
        logger.error({ err }, `daily ${what} clean failed; it runs again tomorrow`);
      }
    }
  });
}
