import { Type, type Static } from 'typebox';
import { Text } from '../core/http/validation.ts';
import { NODE_ID } from '../core/config.ts';

export const STATUSES = ['queued', 'waiting', 'sleeping', 'running', 'cancelled', 'failed', 'completed'] as const;
export type Status = (typeof STATUSES)[number];
export const UNFINISHED: readonly Status[] = ['queued', 'waiting', 'sleeping', 'running'];
export const FINISHED: readonly Status[] = ['cancelled', 'failed', 'completed'];

const Specification = (what: string) => Type.Object({
  type: Type.String({ minLength: 1, maxLength: 100, description: `The ${what} type` }),
  parameters: Type.Record(Type.String(), Type.Unknown(), { default: {}, description: `Parameters of the ${what}` }),
}, { additionalProperties: false });

const NodeName = Text(NODE_ID.source, '1 to 64 letters, digits, ., _ or -, starting with a letter or digit (a node id)', {
  description: 'The node that must run the task (its ONAIR_NODE_ID); no other node claims it, and it waits while that node is down',
});

export const TaskInput = Type.Object({
  operation: Specification('operation'),
  condition: Type.Optional(Specification('condition')),
  dependencies: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 100 }), Type.String({ format: 'uuid' }), {
    description: 'Tasks that must complete first, by the name their results are handed on under',
  })),
  node: Type.Optional(NodeName),
}, { additionalProperties: false });
export type TaskInput = Static<typeof TaskInput>;

export const Task = Type.Object({
  id: Type.String({ format: 'uuid' }),
  operation: Type.Object({ type: Type.String(), parameters: Type.Record(Type.String(), Type.Unknown()) }),
  condition: Type.Object({ type: Type.String(), parameters: Type.Record(Type.String(), Type.Unknown()) }),
  dependencies: Type.Record(Type.String(), Type.String()),
  node: Type.Optional(Type.String({ description: 'The node that must run the task' })),
}, { $id: 'Task' });
export type Task = Static<typeof Task>;

/** Everything stored about a task: the seed's shapes are views of it. */
export interface TaskRecord {
  task: Task;
  status: Status;
  dueAt: number;
  enqueued: number;
  dequeued: number | null;
  slept: number | null;
  started: number | null;
  cancelled: number | null;
  failed: number | null;
  completed: number | null;
  error: string | null;
  result: unknown;
  progress: Record<string, unknown> | null;
  owner: string | null;
  epoch: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The per-status shape of seed 000: the task and the timestamps of the way it came. */
export function statusView(record: TaskRecord): { task: Task } & Record<string, unknown> {
  // A task that slept through a stop keeps that moment in every later view.
  const base = { task: record.task, enqueued: iso(record.enqueued), ...(record.slept === null ? {} : { slept: iso(record.slept) }) };
  switch (record.status) {
    case 'queued': return base;
    case 'waiting': return { ...base, dequeued: iso(record.dequeued) };
    case 'sleeping': return { ...base, dequeued: iso(record.dequeued) };
    case 'running': return { ...base, dequeued: iso(record.dequeued), started: iso(record.started), progress: record.progress };
    case 'cancelled': return { ...base, dequeued: iso(record.dequeued), started: iso(record.started), cancelled: iso(record.cancelled) };
    case 'failed': return { ...base, dequeued: iso(record.dequeued), started: iso(record.started), failed: iso(record.failed), error: record.error };
    case 'completed': return { ...base, dequeued: iso(record.dequeued), started: iso(record.started), completed: iso(record.completed), result: record.result };
  }
}
