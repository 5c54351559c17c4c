import type { Alarm, Clock } from './clock.ts';

const DAY_MS = 24 * 3600 * 1000;

/**
 * Runs `work` every day at `time` (HH:MM, UTC) on the clock. Each run arms the next, a day after its own time however
 * it ends, so that a run ending late (or a clock that jumped) skips no day.
 */
export function everyDay(clock: Clock, time: string, work: () => Promise<void>): { stop(): void } {
  const [hours, minutes] = time.split(':').map(Number) as [number, number];
  const now = clock.now();
  const today = new Date(now);
  const first = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), hours, minutes);
  let alarm: Alarm | undefined;
  let stopped = false;
  const arm = (at: number) => {
    alarm = clock.at(at, () => void work().finally(() => {
      if (!stopped) arm(at + DAY_MS);
    }));
  };
  arm(first <= now ? first + DAY_MS : first);
  return {
    stop() {
      stopped = true;
      alarm?.cancel();
    },
  };
}
