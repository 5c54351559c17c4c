import type { Status, TaskInput, TaskRecord } from './model.ts';
import type { Operation } from './operations.ts';

export type { Operation, OperationContext } from './operations.ts';
export { UNFINISHED, type Status, type TaskInput, type TaskRecord } from './model.ts';

/** What other areas may ask of the tasks area: they run their work as tasks of operations they register. */
export interface TaskService {
  /** Validates and stores a task (an area may choose its id beforehand); InvalidInput, UnknownDependency, Conflict. */
  submit(input: TaskInput, id?: string): Promise<TaskRecord>;
  /** Cancels an unfinished task, aborting its run wherever it runs; NotFound, Conflict when it has finished. */
  cancel(id: string): Promise<TaskRecord>;
  get(id: string): Promise<TaskRecord | undefined>;
  /** The status of each of `ids` that exists. */
  statuses(ids: string[]): Promise<Map<string, Status>>;
  /** Makes an operation known to this node; tasks of a type no node knows fail when run. */
  register(operation: Operation): void;
}
