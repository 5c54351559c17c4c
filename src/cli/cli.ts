import { VERSION } from '../core/version.ts';
import { SERVE_USAGE, serveCommand } from './serve.ts';
import { TASKS_USAGE, tasksCommand } from './tasks.ts';
import { PROGRAMME_USAGE, programmeCommand } from './programme.ts';
import { RECORDINGS_USAGE, recordingsCommand } from './recordings.ts';
import { AUTOMATION_USAGE, automationCommand } from './automation.ts';
import { WEBHOOKS_USAGE, webhooksCommand } from './webhooks.ts';
import { JOBS_USAGE, jobsCommand } from './jobs.ts';
import { SCHEDULER_USAGE, schedulerCommand } from './scheduler.ts';
import { NODES_USAGE, nodesCommand } from './nodes.ts';
import { Output } from './output.ts';

const USAGE = `usage: onair COMMAND [--json] [--help]

${SERVE_USAGE}
${TASKS_USAGE}
${PROGRAMME_USAGE}
${RECORDINGS_USAGE}
${AUTOMATION_USAGE}
${WEBHOOKS_USAGE}
${JOBS_USAGE}
${SCHEDULER_USAGE}
${NODES_USAGE}
onair help [COMMAND]                   this text, or one command's
onair --version                        the version of onair

The other commands talk to a running onair at ONAIR_URL (default http://127.0.0.1:10800),
sending ONAIR_API_KEY as X-API-KEY when it is set. They answer with tables and sentences;
--json prints the server's answer as it is.`;

interface Command {
  usage: string;
  run(args: string[], output: Output): Promise<number>;
}

const commands: Record<string, Command> = {
  serve: { usage: SERVE_USAGE, run: serveCommand },
  tasks: { usage: TASKS_USAGE, run: tasksCommand },
  programme: { usage: PROGRAMME_USAGE, run: programmeCommand },
  recordings: { usage: RECORDINGS_USAGE, run: recordingsCommand('recordings') },
  prerecordings: { usage: RECORDINGS_USAGE, run: recordingsCommand('prerecordings') },
  automation: { usage: AUTOMATION_USAGE, run: automationCommand },
  webhooks: { usage: WEBHOOKS_USAGE, run: webhooksCommand },
  jobs: { usage: JOBS_USAGE, run: jobsCommand },
  scheduler: { usage: SCHEDULER_USAGE, run: schedulerCommand },
  nodes: { usage: NODES_USAGE, run: nodesCommand },
};

const HELP = ['--help', '-h'];

function help(name: string | undefined): number {
  const usage = name === undefined ? USAGE : commands[name]?.usage;
  if (usage === undefined) {
    process.stderr.write(`onair: no command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  process.stdout.write(`${usage}\n`);
  return 0;
}

/** Runs `onair ARGS...`; answers the exit code: 0 done, 1 refused or failed, 2 not understood. */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`onair ${VERSION}\n`);
    return 0;
  }
  if (name === 'help' || (name !== undefined && HELP.includes(name))) return help(args[0]);
  const command = name === undefined ? undefined : commands[name];
  if (!command) {
    process.stderr.write(`${name === undefined ? '' : `onair: no command "${name}"\n\n`}${USAGE}\n`);
    return 2;
  }
  const options = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  if (options.some((arg) => HELP.includes(arg))) return help(name);
  try {
    return await command.run(args.filter((arg) => arg !== '--json'), new Output(args.includes('--json')));
  } catch (error) {
    // node:util's parseArgs: an option this command does not have, or one without its value.
    if (!(error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) throw error;
    process.stderr.write(`onair ${name}: ${(error as Error).message}\n\n${command.usage}\n`);
    return 2;
  }
}
