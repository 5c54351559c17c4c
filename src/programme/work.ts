import { cooperate } from '../core/cooperate.ts';

/** An expansion would do more work than it is allowed. */
export class ExpansionLimit extends Error {
  readonly limit: 'steps' | 'instances';
  readonly scope: 'event' | 'request';

  constructor(limit: 'steps' | 'instances', scope: 'event' | 'request') {
    super(`expansion limit: ${limit} of one ${scope}`);
    this.limit = limit;
    this.scope = scope;
  }
}

/** Yielded by an expansion between occurrences: time to let the event loop breathe. */
export const PAUSE = Symbol('pause');

const STEPS_BETWEEN_PAUSES = 256;

export interface Limits {
  steps: number;
  instances: number;
}

/**
 * What expansions may cost, so that no rule and no window can hold the server: every period, every day examined and
 * every candidate time is a step, every instance kept is an instance. A share (one event's part of a request) has limits of its own and
 * spends from its parent's as well. All shares of one request breathe together: they yield to the event loop once
 * the request has held it for a slice.
 */
export class Work {
  #steps: number;
  #instances: number;
  #sincePause = 0;
  readonly #scope: 'event' | 'request';
  readonly #parent: Work | undefined;
  readonly breathe: () => Promise<void>;

  constructor(limits: Limits, scope: 'event' | 'request' = 'request', parent?: Work) {
    this.#steps = limits.steps;
    this.#instances = limits.instances;
    this.#scope = scope;
    this.#parent = parent;
    this.breathe = parent?.breathe ?? cooperate();
  }

  /** Spends steps; throws ExpansionLimit past the limits. */
  step(count = 1): void {
    this.#steps -= count;
    if (this.#steps < 0) throw new ExpansionLimit('steps', this.#scope);
    this.#parent?.step(count);
    this.#sincePause += count;
  }

  /** True once so many steps were spent since it last was: time for the expansion to yield PAUSE. */
  pauseDue(): boolean {
    if (this.#sincePause < STEPS_BETWEEN_PAUSES) return false;
    this.#sincePause = 0;
    return true;
  }

  instance(): void {
    this.#instances -= 1;
    if (this.#instances < 0) throw new ExpansionLimit('instances', this.#scope);
    this.#parent?.instance();
  }

  share(limits: Limits): Work {
    return new Work(limits, 'event', this);
  }
}
