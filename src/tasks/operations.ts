import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Type, type Static, type TSchema } from 'typebox';
import { invalid } from '../core/errors.ts';
import { checkParameters } from './schema-check.ts';
import type { Task } from './model.ts';

export interface OperationContext<P> {
  task: Task;
  parameters: P;
  /** Results of the dependencies, under the names the task gave them. */
  dependencies: Record<string, unknown>;
  /** Aborted when the task is cancelled or onair stops: the operation must stop its work promptly. */
  signal: AbortSignal;
  /** True when a resumable operation is started again after its instance stopped. */
  resumed: boolean;
  /** Publishes progress; it shows in the task's running view and on SSE. */
  progress(update: Record<string, unknown>): void;
}

/** What a task does. Parameters are checked against the schema when the task is created. */
export interface Operation<S extends TSchema = TSchema> {
  type: string;
  summary: string;
  parameters: S;
  /** A resumable operation is restarted after a crash or stop; others are failed as interrupted. */
  resumable?: boolean;
  run(context: OperationContext<Static<S>>): Promise<unknown>;
}

export class OperationRegistry {
  #operations = new Map<string, Operation>();

  register<S extends TSchema>(operation: Operation<S>): void {
    if (this.#operations.has(operation.type)) throw new Error(`operation ${operation.type} is registered twice`);
    this.#operations.set(operation.type, operation as unknown as Operation);
  }

  get(type: string): Operation | undefined {
    return this.#operations.get(type);
  }

  types(): string[] {
    return [...this.#operations.keys()];
  }

  /** Validates an operation specification (400 naming the field); answers its parameters with their defaults. */
  validate(type: string, parameters: Record<string, unknown>): Record<string, unknown> {
    const operation = this.get(type);
    if (!operation) throw invalid('operation.type', `unknown operation "${type}"; known: ${this.types().join(', ')}`);
    return checkParameters(operation.parameters, parameters, 'operation.parameters');
  }
}

export const testOperation: Operation<TSchema> = {
  type: 'test',
  summary: 'Completes at once with its parameters and the results of its dependencies',
  parameters: Type.Record(Type.String(), Type.Unknown()),
  run: async ({ parameters, dependencies }) => ({ parameters, dependencies }),
};

const DelayParameters = Type.Object({
  milliseconds: Type.Integer({ minimum: 0, maximum: 7 * 24 * 3600 * 1000 }),
}, { additionalProperties: false });

export const delayOperation: Operation<typeof DelayParameters> = {
  type: 'delay',
  summary: 'Waits the given time, then completes; cancelling it stops the wait',
  parameters: DelayParameters,
  async run({ parameters, signal }) {
    await sleep(parameters.milliseconds, undefined, { signal });
    return { waited: parameters.milliseconds };
  },
};

/** Records every run in a file (one line: task id and process id), so that tests can count runs across crashes. */
export function probeOperation(file: string): Operation<typeof DelayParameters> {
  return {
    type: 'probe',
    summary: 'Testing aid: notes the run in a file, then waits like delay',
    parameters: DelayParameters,
    async run(context) {
      appendFileSync(file, `${context.task.id} ${process.pid}\n`);
      return delayOperation.run(context);
    },
  };
}
