/** Time as the rest of onair sees it, so that tests can move it by hand. */
export interface Clock {
  now(): number;
  /** Calls `callback` once the clock reaches `at` (epoch ms). */
  at(at: number, callback: () => void): Alarm;
}

export interface Alarm {
  cancel(): void;
}

const MAX_TIMEOUT = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  at(at, callback) {
    let timer: NodeJS.Timeout;
    const arm = () => {
      const delay = at - Date.now();
      // setTimeout fires early by up to 1 ms and caps at ~24.8 days: re-arm until truly due.
      if (delay > 0) timer = setTimeout(arm, Math.min(delay, MAX_TIMEOUT));
      else callback();
    };
    arm();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** A clock that moves only when told to; alarms fire in time order as it passes them. */
export class ManualClock implements Clock {
  #now: number;
  #alarms = new Set<{ at: number; callback: () => void }>();

  constructor(start: number | Date) {
    this.#now = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  at(at: number, callback: () => void): Alarm {
    const alarm = { at, callback };
    this.#alarms.add(alarm);
    return { cancel: () => this.#alarms.delete(alarm) };
  }

  /** Moves time to `to`, firing each alarm due on the way at its own time. */
  set(to: number | Date): void {
    const target = typeof to === 'number' ? to : to.getTime();
    for (;;) {
      const next = [...this.#alarms].filter((a) => a.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.#alarms.delete(next);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    this.#now = Math.max(this.#now, target);
  }

  advance(ms: number): void {
    this.set(this.#now + ms);
  }
}
