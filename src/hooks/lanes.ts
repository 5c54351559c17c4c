import type { Logger } from 'pino';

/**
 * One serial queue of hook calls per stream: a stream's events reach its backend in order, and a slow backend holds up
 * only the stream it is slow for.
 */
export class Lanes {
  #tails = new Map<string, Promise<void>>();
  #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  run(lane: string, call: () => Promise<unknown>): Promise<void> {
    const tail = (this.#tails.get(lane) ?? Promise.resolve())
      .then(call)
      .then(() => {}, (error: unknown) => this.#logger.error({ err: error, lane }, 'a hook call failed'))
      .finally(() => {
        if (this.#tails.get(lane) === tail) this.#tails.delete(lane);
      });
    this.#tails.set(lane, tail);
    return tail;
  }

  /** Resolves once every call queued so far is done. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
}
