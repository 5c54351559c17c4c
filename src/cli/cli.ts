import { TASKS_USAGE, tasksCommand } from './tasks.ts';
import { PROGRAMME_USAGE, programmeCommand } from './programme.ts';
import { RECORDINGS_USAGE, recordingsCommand } from './recordings.ts';
import { AUTOMATION_USAGE, automationCommand } from './automation.ts';

const USAGE = `usage: onair COMMAND

onair serve                            start onair (settings from ONAIR_* environment variables)
${TASKS_USAGE}
${PROGRAMME_USAGE}
${RECORDINGS_USAGE}
${AUTOMATION_USAGE}

The other commands talk to a running onair at ONAIR_URL (default http://127.0.0.1:10800),
sending ONAIR_API_KEY as X-API-KEY when it is set.`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  tasks: tasksCommand,
  programme: programmeCommand,
  recordings: recordingsCommand('recordings'), prerecordings: recordingsCommand('prerecordings'),
  automation: automationCommand,
};

export async function runCli(command: string | undefined, args: string[]): Promise<number> {
  const run = command === undefined ? undefined : commands[command];
  if (!run) {
    process.stderr.write(`${USAGE}\n`);
    return command === 'help' || command === '--help' ? 0 : 2;
  }
  return run(args);
}
