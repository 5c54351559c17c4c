import { cooperate } from '../core/cooperate.ts';
import { STATUSES, type Status } from './model.ts';
import type { ListPosition, TaskStore } from './store.ts';

export type Lists = Partial<Record<Status, string[]>>;

/** `next` of a page: the enqueue time and id of its last task, which the following page starts after. */
export const POSITION = /^([0-9]{1,16})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const CHUNK = 5000;

const emptyLists = (statuses: readonly Status[]): Lists => Object.fromEntries(statuses.map((s) => [s, []]));

const positionOf = (text: string): ListPosition => {
  const [, enqueued, id] = POSITION.exec(text)!;
  return { enqueued: Number(enqueued), id: id! };
};

/** Seed 000's answer, every id of every status: read a chunk at a time, taking turns, so years of history never hold the event loop. */
export async function everyId(store: TaskStore): Promise<Lists> {
  const lists = emptyLists(STATUSES);
  const turn = cooperate();
  for (const status of STATUSES) {
    for (let after: ListPosition | undefined; ;) {
      await turn();
      const chunk = await store.listed([status], CHUNK, after);
      for (const task of chunk) lists[status]!.push(task.id);
      if (chunk.length < CHUNK) break;
      after = chunk.at(-1);
    }
  }
  return lists;
}

/** One page of the tasks of `statuses` in enqueue order, grouped by status, and where the next page starts (null: none). */
export async function page(store: TaskStore, statuses: readonly Status[], limit: number, after: string | undefined): Promise<Lists & { next: string | null }> {
  const tasks = await store.listed(statuses, limit, after === undefined ? undefined : positionOf(after));
  const lists = emptyLists(statuses);
  for (const task of tasks) lists[task.status]!.push(task.id);
  const last = tasks.length === limit ? tasks.at(-1) : undefined;
  return { ...lists, next: last ? `${last.enqueued}.${last.id}` : null };
}
