import { OnairClient } from './client.ts';
import type { Output } from './output.ts';

export const AUTOMATION_USAGE = `onair automation list                 automated broadcasts (replay, prerecorded) and their stream tasks
onair automation sync                 synchronize the stream tasks with the programme now`;

/** `onair automation ...` */
export async function automationCommand(args: string[], out: Output, client = new OnairClient()): Promise<number> {
  switch (args[0]) {
    case 'list':
      return out.print(await client.request('GET', '/automation/broadcasts'));
    case 'sync':
      return out.print(await client.request('POST', '/automation/sync'), (report: { expected: number; created: number; cancelled: number }) =>
        `${report.expected} broadcasts in the window; ${report.created} stream tasks created, ${report.cancelled} cancelled`);
  }
  process.stderr.write(`${AUTOMATION_USAGE}\n`);
  return 2;
}
