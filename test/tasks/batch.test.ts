import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TickBatcher } from '../../src/tasks/batch.ts';

describe('TickBatcher', () => {
  /** A write that stores all of a batch or none, failing when any item is bad; it notes each batch it is given. */
  const recording = () => {
    const batches: number[][] = [];
    const batcher = new TickBatcher<number, string>(async (items) => {
      batches.push(items);
      if (items.some((n) => n < 0)) throw new Error(`bad item in ${items.join(',')}`);
      return items.map((n) => `stored ${n}`);
    });
    return { batches, batcher };
  };

  test('what is added in one tick is written with one call', async () => {
    const { batches, batcher } = recording();
    const answers = await Promise.all([1, 2, 3].map((n) => batcher.add(n)));
    assert.deepEqual(answers, ['stored 1', 'stored 2', 'stored 3']);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  test('a bad item fails alone: the others of its tick get their own answers', async () => {
    const { batches, batcher } = recording();
    const items = Array.from({ length: 40 }, (_, i) => (i === 17 ? -1 : i));
    const answers = await Promise.allSettled(items.map((n) => batcher.add(n)));
    answers.forEach((answer, i) => {
      if (i === 17) assert.equal(answer.status, 'rejected');
      else assert.deepEqual(answer, { status: 'fulfilled', value: `stored ${i}` });
    });
    // Halving finds the bad item in a few writes, not one per item.
    assert.ok(batches.length <= 2 * Math.ceil(Math.log2(40)) + 1, `${batches.length} writes`);
  });
});
