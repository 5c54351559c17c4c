import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDateTime } from '../../src/core/time.ts';

test('parseDateTime reads naive times as UTC, honours offsets, and refuses impossible dates', () => {
  assert.equal(parseDateTime('2026-03-29T01:30:00'), Date.UTC(2026, 2, 29, 1, 30));
  assert.equal(parseDateTime('2026-03-29 01:30'), Date.UTC(2026, 2, 29, 1, 30));
  assert.equal(parseDateTime('2026-03-29T03:30:00+02:00'), Date.UTC(2026, 2, 29, 1, 30));
  assert.equal(parseDateTime('2026-03-29T03:30:00+0200'), Date.UTC(2026, 2, 29, 1, 30));
  assert.equal(parseDateTime('2026-03-29T01:30:00.250Z'), Date.UTC(2026, 2, 29, 1, 30, 0, 250));
  for (const bad of ['2026-02-30T00:00:00Z', '2026-13-01T00:00:00', 'tomorrow', '2026-03-29', '', '2026-03-29T25:00:00']) {
    assert.equal(parseDateTime(bad), undefined, bad);
  }
});
