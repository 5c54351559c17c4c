interface Entry<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/**
 * Gathers what callers hand in during one turn of the event loop and writes it with one call,
 * one batch at a time: many small writes become one transaction. `write` must store all of its
 * items or none; when it fails, the batch is halved and each half written again, so that a bad
 * item fails alone and every other caller gets its own answer.
 */
export class TickBatcher<T, R> {
  #pending: Array<Entry<T, R>> = [];
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
    await this.#settle(batch);
  }

  async #settle(batch: Array<Entry<T, R>>): Promise<void> {
    try {
      const results = await this.#write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      const half = Math.ceil(batch.length / 2);
      await this.#settle(batch.slice(0, half));
      await this.#settle(batch.slice(half));
    }
  }
}
