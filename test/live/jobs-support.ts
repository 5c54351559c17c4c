import type { Clock } from '../../src/core/clock.ts';
import type { BusEvent } from '../../src/core/events/bus.ts';
import { postgresDatabase } from '../support/databases.ts';
import { startOnair, type Running } from '../support/onair.ts';
import { sseFrames } from '../support/sse.ts';

/** The SRT ports of the live jobs' tests: their own range, so that they never take another suite's. */
export const JOBS_ENV = { ONAIR_SRT_PORT_START: '27000', ONAIR_SRT_PORT_END: '27999' };

/** The live-job-changed events of /sse as they arrive (their data: the job's view), until `close`. */
export async function jobChanges(base: string, headers: Record<string, string> = {}) {
  const frames: any[] = [];
  const reader = new AbortController();
  const stream = await fetch(`${base}/sse?types=live-job-changed`, { headers, signal: AbortSignal.any([reader.signal, AbortSignal.timeout(60_000)]) });
  const reading = (async () => {
    try {
      for await (const frame of sseFrames(stream.body!)) frames.push(frame);
    } catch { /* closed */ }
  })();
  return {
    /** Every event of the job, oldest first. */
    of: (job: string) => frames.filter((f) => f.event === 'live-job-changed' && f.data.data.id === job).map((f) => f.data.data),
    frames,
    async close() {
      reader.abort();
      await reading;
    },
  };
}

/**
 * Two instances on one PostgreSQL database: `home`, where the tests make their jobs, and `other`, on `clock` (its waits
 * for the job's node move only when told); `tasks`: the live-job-action task events `other` hears.
 */
export class TwoNodes {
  url = '';
  home!: Running;
  other!: Running;
  readonly tasks: BusEvent[] = [];
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  startHome(): Promise<Running> {
    return startOnair({ database: postgresDatabase, databaseUrl: this.url, env: { ...JOBS_ENV, ONAIR_NODE_ID: 'home', ONAIR_NODE_ADDRESS: 'home.example.org' } });
  }

  async start(): Promise<void> {
    this.url = (await postgresDatabase.create())!;
    this.home = await this.startHome();
    this.other = await startOnair({ database: postgresDatabase, databaseUrl: this.url, clock: this.#clock, env: { ...JOBS_ENV, ONAIR_NODE_ID: 'other', ONAIR_NODE_ADDRESS: 'other.example.org' } });
    this.other.onair.bus.subscribe((event) => {
      if (event.type === 'task-status-changed' && (event.data as { operation: string }).operation === 'live-job-action') this.tasks.push(event);
    });
  }

  async stop(): Promise<void> {
    await this.other.stop();
    await this.home.stop();
    await postgresDatabase.drop(this.url);
  }
}
