import type { EventBus } from '../../src/core/events/bus.ts';
import type { StreamStatus } from '../../src/gate/contract.ts';
import type { Running } from '../support/onair.ts';

/**
 * What `ask` answers the moment `bus` delivers `type` for channel main: the directory subscribed at its start, so it has
 * just heard the event, and a report has had no time to follow.
 */
export function askWhenHeard<T>(bus: Pick<EventBus, 'subscribe'>, type: string, ask: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${type}`));
    }, timeoutMs);
    const unsubscribe = bus.subscribe((event) => {
      if (event.type !== type || (event.data as StreamStatus).channel !== 'main') return;
      clearTimeout(timer);
      unsubscribe();
      resolve(ask());
    });
  });
}

/** `run`'s result, taken while the snapshot of `node` saw no report of `reporter` (tried again until one such window came). */
export async function betweenReports<T>(node: Running, reporter: string, run: () => Promise<T>): Promise<T> {
  const reportedAt = () => node.onair.directory.registry.node(reporter)?.reportedAt;
  for (let attempt = 0; attempt < 10; attempt++) {
    const before = reportedAt();
    const result = await run();
    if (reportedAt() === before) return result;
  }
  throw new Error(`a report of ${reporter} came during each of 10 attempts`);
}
