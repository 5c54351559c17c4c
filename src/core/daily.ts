import type { Alarm, Clock } from './clock.ts';

const DAY_MS = 24 * 3600 * 1000;

/** Runs `work` every day at `time` (HH:MM, UTC) on the clock; each run arms the next, however it ends. */
export function everyDay(clock: Clock, time: string, work: () => Promise<void>): { stop(): void } {
  const [hours, minutes] = time.split(':').map(Number) as [number, number];
  let alarm: Alarm | undefined;
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    const now = clock.now();
    const today = new Date(now);
    let next = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), hours, minutes);
    if (next <= now) next += DAY_MS;
    alarm = clock.at(next, () => void work().finally(arm));
  };
  arm();
  return {
    stop() {
      stopped = true;
      alarm?.cancel();
    },
  };
}
