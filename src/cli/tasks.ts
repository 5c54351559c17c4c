import { parseArgs } from 'node:util';
import { OnairClient } from './client.ts';
import type { Output } from './output.ts';

export const TASKS_USAGE = `onair tasks list                       task ids by status
onair tasks show ID [STATUS]           a task (with STATUS: that status's details)
onair tasks add OPERATION [options]    schedule a task
    --params JSON                      operation parameters (default {})
    --at DATETIME                      run at an ISO 8601 time (default: now)
    --cron EXPR [--timezone TZ]        run at every occurrence of a cron expression
    --after NAME=ID                    depend on task ID, its result handed on as NAME (repeatable)
onair tasks cancel ID                  cancel a task
onair tasks clean [--older-than DUR]   remove finished tasks (all, or finished longer ago than an ISO 8601 duration)`;

function condition(values: { at?: string; cron?: string; timezone?: string }) {
  if (values.at) return { type: 'at', parameters: { datetime: values.at } };
  if (values.cron) return { type: 'cron', parameters: { expression: values.cron, timezone: values.timezone ?? 'UTC' } };
  return { type: 'now', parameters: {} };
}

/** A task's answer in a sentence: `task ID added (test)`. */
const said = (done: string) => (body: { task: { id: string; operation: { type: string } } }) => `task ${body.task.id} ${done} (${body.task.operation.type})`;

export async function tasksCommand(args: string[], out: Output, client = new OnairClient()): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      params: { type: 'string' }, at: { type: 'string' }, cron: { type: 'string' }, timezone: { type: 'string' },
      after: { type: 'string', multiple: true }, 'older-than': { type: 'string' },
    },
  });
  const [verb, first, second] = positionals;
  switch (verb) {
    case 'list':
      return out.print(await client.request('GET', '/tasks'), (lists: Record<string, string[]>) => {
        const held = Object.entries(lists).filter(([, ids]) => ids.length > 0);
        return held.length === 0 ? 'no tasks' : Object.fromEntries(held);
      });
    case 'show':
      if (!first) break;
      return out.print(await client.request('GET', second ? `/tasks/${second}/${first}` : `/tasks/${first}`));
    case 'add': {
      if (!first) break;
      const dependencies = Object.fromEntries((values.after ?? []).map((pair) => pair.split('=', 2)));
      const parameters = values.params ? JSON.parse(values.params) : {};
      return out.print(await client.request('POST', '/tasks', {
        operation: { type: first, parameters }, condition: condition(values), dependencies,
      }), said('added'));
    }
    case 'cancel':
      if (!first) break;
      return out.print(await client.request('DELETE', `/tasks/${first}`), said('cancelled'));
    case 'clean': {
      const olderThan = values['older-than'];
      const strategy = olderThan ? { type: 'timedelta', parameters: { delta: olderThan } } : { type: 'all', parameters: {} };
      return out.print(await client.request('POST', '/tasks/clean', { strategy }), (body: { removed: string[] }) => `removed ${body.removed.length} finished task${body.removed.length === 1 ? '' : 's'}`);
    }
  }
  process.stderr.write(`${TASKS_USAGE}\n`);
  return 2;
}
