import { OnairClient } from './client.ts';
import type { Output } from './output.ts';

export const AUTOMATION_USAGE = `onair automation list                 automated broadcasts (replay, prerecorded) and their stream tasks
onair automation windows              live windows (live events naming a job) and their jobstartstop workflows
onair automation sync                 synchronize the stream tasks and live windows with the programme now`;

interface Window {
  event: string; start: string; job: string; workflow: string | null; error: string | null;
  activation: { at: string; state: string | null }; deactivation: { at: string; state: string | null };
}

/** One row per window, its tasks' times and states side by side. */
const windowRows = (body: { windows: Window[] }) => body.windows.map((w) => ({
  event: w.event, start: w.start, job: w.job, workflow: w.workflow ?? '-', activation: w.activation.at, 'activation state': w.activation.state ?? '-',
  deactivation: w.deactivation.at, 'deactivation state': w.deactivation.state ?? '-', error: w.error ?? '',
}));

interface Report {
  expected: number; created: number; cancelled: number;
  windows: { expected: number; created: number; moved: number; retired: number };
}

/** `onair automation ...` */
export async function automationCommand(args: string[], out: Output, client = new OnairClient()): Promise<number> {
  switch (args[0]) {
    case 'list':
      return out.print(await client.request('GET', '/automation/broadcasts'));
    case 'windows':
      return out.print(await client.request('GET', '/automation/windows'), windowRows);
    case 'sync':
      return out.print(await client.request('POST', '/automation/sync'), ({ windows, ...report }: Report) =>
        `${report.expected} broadcasts in the window; ${report.created} stream tasks created, ${report.cancelled} cancelled\n`
        + `${windows.expected} live windows; ${windows.created} workflows made, ${windows.moved} moved, ${windows.retired} cancelled or cut short`);
  }
  process.stderr.write(`${AUTOMATION_USAGE}\n`);
  return 2;
}
