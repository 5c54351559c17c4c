import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';

export interface Checkpointer {
  stop(): Promise<void>;
}

/**
 * Checkpoints a SQLite database in WAL mode from a worker thread, every `intervalMs`. The serving connection turns
 * its own automatic checkpoints off; should the worker fail, `fallBack` turns them on again so the WAL cannot grow
 * without end.
 */
export function startCheckpointer(file: string, options: { intervalMs: number; logger: Logger; fallBack: () => void }): Checkpointer {
  const worker = new Worker(new URL('./checkpoint-worker.ts', import.meta.url), { workerData: { file, intervalMs: options.intervalMs } });
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
      worker.postMessage('stop');
      await exited;
    },
  };
}
