import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

// Runs in a worker thread: SQLite checkpoints (copying the WAL into the database file, with its fsync) then never
// stall the event loop of the thread that serves requests and fires tasks.
const { file, intervalMs, restartFrames } = workerData as { file: string; intervalMs: number; restartFrames: number };
const db = new DatabaseSync(file);
db.exec('PRAGMA busy_timeout = 1000');
const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');

const timer = setInterval(() => {
  try {
    const { log } = passive.get() as { log: number };
    // The WAL starts over only when a write finds every frame checkpointed. Under steady writes that never happens
    // (frames arrive while this thread copies), and the WAL file grows. A restart then holds the writers back while
    // it copies what is left (little: the passive checkpoint copied the rest), and the next write starts over.
    if (log > restartFrames) restart.get();
  } catch (error) {
    parentPort!.postMessage({ error: (error as Error).message });
  }
}, intervalMs);

parentPort!.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
