import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/core/config.ts';

const outputDelay = (value?: string, extra: Record<string, string> = {}) =>
  loadConfig({ ONAIR_AUTOMATION_OUTPUT_DELAY: value, ...extra }).automation.outputDelayMs;

test('ONAIR_AUTOMATION_OUTPUT_DELAY takes milliseconds or an ISO 8601 duration, 310 ms by default', () => {
  assert.equal(outputDelay(), 310);
  assert.equal(outputDelay('250'), 250);
  assert.equal(outputDelay('PT0.25S'), 250);
  assert.equal(outputDelay('0'), 0);
  assert.equal(outputDelay('PT2S', { ONAIR_AUTOMATION_STREAM_LEAD: 'PT3S', ONAIR_AUTOMATION_RESERVE_LEAD: 'PT5S' }), 2000);
});

test('a bad ONAIR_AUTOMATION_OUTPUT_DELAY is refused with a message naming it', () => {
  for (const bad of ['-5', 'abc', '1.5', 'PT', 'P1X', '2000']) {
    assert.throws(() => outputDelay(bad), (error: Error) => error instanceof ConfigError && error.message.includes('ONAIR_AUTOMATION_OUTPUT_DELAY'), bad);
  }
});
