import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { testDatabases } from '../support/databases.ts';
import { startOnair, type Running } from '../support/onair.ts';

const RUNS = 150;

/** Strings that look almost right: naive times, rules, zones, ids, with mutations. */
const nearly = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('2026-02-30T20:00:00', '2026-03-29T02:30:00', '9999-12-31T23:59:59', '0000-01-01T00:00', '2026-1-1T1:1', 'Europe/Warsaw', 'Etc/GMT+14', 'UTC', '+01:00'),
  fc.constantFrom('FREQ=SECONDLY', 'FREQ=YEARLY;BYWEEKNO=53;BYDAY=-1SU', 'FREQ=MONTHLY;BYMONTHDAY=31;COUNT=100000', 'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=5',
    'FREQ=YEARLY;BYSETPOS=-366;BYDAY=MO', 'FREQ=WEEKLY;INTERVAL=9999;UNTIL=99991231T235959Z', 'FREQ=HOURLY;BYHOUR=25', 'RRULE:FREQ=DAILY;;', 'FREQ=DAILY;UNTIL=2026'),
  fc.uuid(),
);
const value = fc.oneof(nearly, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(nearly, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), nearly, { maxKeys: 3 }));
const eventBody = (showId: string) => fc.record({
  showId: fc.oneof(fc.constant(showId), value),
  type: fc.oneof(fc.constantFrom('live', 'replay', 'prerecorded'), value),
  start: fc.oneof(fc.constant('2026-06-01T20:00:00'), value),
  duration: fc.oneof(fc.integer({ min: -10, max: 40_000_000 }), value),
  timezone: fc.oneof(fc.constantFrom('Europe/Warsaw', 'America/New_York'), value),
  recurrence: fc.oneof(fc.constant(undefined), fc.constant(null), fc.record({ rule: value, include: fc.array(value, { maxLength: 3 }), exclude: value }, { requiredKeys: ['rule'] }), value),
}, { requiredKeys: [] });
const query = fc.dictionary(fc.constantFrom('start', 'end', 'limit', 'offset', 'type', 'show', 'x'), nearly, { maxKeys: 6 })
  .map((q) => new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)])).toString());
const segment = fc.oneof(nearly, fc.uuid()).map((s) => encodeURIComponent(s) || 'x');

for (const database of testDatabases) {
  describe(`Programme routes under bad input on ${database.name}`, () => {
    let server: Running;
    let showId: string;
    let eventId: string;
    before(async () => {
      server = await startOnair({ database });
      showId = (await server.request('POST', '/shows', { title: 'Fuzz' })).body.id;
      eventId = (await server.request('POST', '/events', {
        showId, type: 'live', start: '2026-06-01T20:00:00', duration: 60, timezone: 'Europe/Warsaw', recurrence: { rule: 'FREQ=DAILY' },
      })).body.id;
    });
    after(() => server.stop());

    const never5xx = async (method: string, path: string, body?: unknown) => {
      const answer = await server.request(method, path, body);
      assert.ok(answer.status < 500, `${method} ${path} ${JSON.stringify(body)} -> ${answer.status} ${JSON.stringify(answer.body)}`);
      if (answer.status >= 400) assert.ok(typeof answer.body.detail === 'string' && answer.body.detail.length > 0);
      return answer;
    };

    test('POST and PATCH bodies: only 2xx or 4xx with a message', async () => {
      await fc.assert(fc.asyncProperty(eventBody(showId), fc.boolean(), async (body, patch) => {
        const answer = await never5xx(patch ? 'PATCH' : 'POST', patch ? `/events/${eventId}` : '/events', body);
        if (answer.status === 201) await never5xx('DELETE', `/events/${answer.body.id}`);
      }), { numRuns: RUNS });
      await fc.assert(fc.asyncProperty(fc.oneof(fc.dictionary(fc.string({ maxLength: 12 }), value), value), async (body) => {
        await never5xx('POST', '/shows', body);
        await never5xx('PATCH', `/shows/${showId}`, body);
      }), { numRuns: RUNS });
    });

    test('queries of lists, schedule and feed: only 2xx or 4xx', async () => {
      await fc.assert(fc.asyncProperty(fc.constantFrom('/shows', '/events', '/schedule', '/schedule.ics'), query, async (path, q) => {
        await never5xx('GET', `${path}?${q}`);
      }), { numRuns: RUNS * 2 });
    });

    test('ids and instance starts in paths: only 2xx or 4xx', async () => {
      await fc.assert(fc.asyncProperty(segment, segment, fc.constantFrom('GET', 'DELETE', 'PATCH'), async (id, start, method) => {
        await never5xx('GET', `/instances/${id}/${start}`);
        await never5xx('GET', `/instances/${eventId}/${start}`);
        await never5xx(method, `/shows/${id}`, method === 'PATCH' ? {} : undefined);
        await never5xx('GET', `/events/${id}`);
      }), { numRuns: RUNS });
      assert.equal((await server.request('GET', '/ping')).status, 204, 'still serving');
    });
  });
}
