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
