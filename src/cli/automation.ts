import { OnairClient, print } from './client.ts';

export const AUTOMATION_USAGE = `onair automation list                 automated broadcasts (replay, prerecorded) and their stream tasks
onair automation sync                 synchronize the stream tasks with the programme now`;

/** `onair automation ...` */
export async function automationCommand(args: string[], client = new OnairClient()): Promise<number> {
  switch (args[0]) {
    case 'list':
      return print(await client.request('GET', '/automation/broadcasts'));
    case 'sync':
      return print(await client.request('POST', '/automation/sync'));
  }
  process.stderr.write(`${AUTOMATION_USAGE}\n`);
  return 2;
}
