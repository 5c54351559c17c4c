/**
 * Gathers what callers hand in during one turn of the event loop and writes it with one call,
 * one batch at a time: many small writes become one transaction.
 */
export class TickBatcher<T, R> {
  #pending: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  #scheduled = false;
  #flushing: Promise<void> = Promise.resolve();
  #write: (items: T[]) => Promise<R[]>;

  constructor(write: (items: T[]) => Promise<R[]>) {
    this.#write = write;
  }

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => {
        this.#flushing = this.#flushing.then(() => this.#flush());
      });
    });
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    try {
      const results = await this.#write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (error) {
      for (const b of batch) b.reject(error);
    }
  }
}
