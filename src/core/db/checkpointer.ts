import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';

export interface Checkpointer {
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  intervalMs: number;
  /** WAL frames (4 KiB pages) past which a checkpoint briefly holds writers back so that the WAL starts over. */
  restartFrames: number;
  logger: Logger;
  /** Turns automatic checkpoints of the serving connection back on, should the thread fail. */
  fallBack: () => void;
}

/**
 * Checkpoints a SQLite database in WAL mode from a worker thread, every `intervalMs`. The serving connection turns
 * its own automatic checkpoints off; should the worker fail, `fallBack` turns them on again so the WAL cannot grow
 * without end.
 */
export function startCheckpointer(file: string, options: CheckpointerOptions): Checkpointer {
  const { intervalMs, restartFrames } = options;
  const worker = new Worker(new URL('./checkpoint-worker.ts', import.meta.url), { workerData: { file, intervalMs, restartFrames } });
  worker.unref();
  let stopping = false;
  let failed = false;
  const fail = (reason: string) => {
    if (failed || stopping) return;
    failed = true;
    options.logger.error({ reason }, 'SQLite checkpoint thread failed; checkpoints go back to the serving connection');
    options.fallBack();
  };
  worker.on('message', (message: { error: string }) => options.logger.warn({ reason: message.error }, 'SQLite checkpoint failed'));
  worker.on('error', (error) => fail(error.message));
  const exited = new Promise<void>((resolve) => worker.once('exit', (code) => {
    fail(`exited with code ${code}`);
    resolve();
  }));
  return {
    async stop() {
      stopping = true;
      // Unreferenced, the thread would let the process end before its own exit is awaited.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
