import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { FREQUENCIES } from '../../src/programme/rrule.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, type Running } from '../support/onair.ts';
import { Pinger } from '../support/pinger.ts';

/** How long a request may take, and /ping may wait meanwhile, whatever the rule or window (loaded CI machines included). */
const ANSWER_MS = 1000;
const PING_MS = 100;
/** Four requests at once, each at the limit of its work, expanding years of instances (their first ones in this process). */
const BUSY_PING_MS = 250;

const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
const values = (min: number, max: number) => fc.uniqueArray(fc.integer({ min, max }), { minLength: 1, maxLength: 4 }).map((v) => v.join(','));
const signedValues = (min: number, max: number) => fc.uniqueArray(fc.integer({ min, max }).chain((n) => fc.constantFrom(n, -n)), { minLength: 1, maxLength: 4 }).map((v) => v.join(','));
/** Any rule onair accepts, pathological ones included (impossible days, rare COUNTs, SECONDLY). */
const rules = fc.record({
  FREQ: fc.constantFrom(...FREQUENCIES),
  INTERVAL: fc.option(fc.integer({ min: 1, max: 9999 })),
  COUNT: fc.option(fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 100_000 }))),
  BYMONTH: fc.option(values(1, 12)),
  BYMONTHDAY: fc.option(signedValues(1, 31)),
  BYYEARDAY: fc.option(signedValues(1, 366)),
  BYDAY: fc.option(fc.uniqueArray(fc.constantFrom(...WEEKDAYS), { minLength: 1, maxLength: 3 }).map((v) => v.join(','))),
  BYHOUR: fc.option(values(0, 23)),
  BYMINUTE: fc.option(values(0, 59)),
  BYSECOND: fc.option(values(0, 59)),
  BYSETPOS: fc.option(signedValues(1, 366)),
}, { requiredKeys: ['FREQ'] }).map((parts) => Object.entries(parts).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k}=${v}`).join(';'));

for (const database of testDatabases) {
  describe(`Programme expansion is bounded in work on ${database.name}`, () => {
    let server: Running;
    let pinger: Pinger;
    let showId: string;
    const whilePinging = <T>(request: () => Promise<T>) => pinger.during(server.url, request);
    before(async () => {
      pinger = await Pinger.start();
      server = await startOnair({ database });
      showId = (await server.request('POST', '/shows', { title: 'Limits' })).body.id;
    });
    after(() => Promise.all([server.stop(), pinger.stop()]));

    const event = (rule: string | null, extra: Record<string, unknown> = {}) => server.request('POST', '/events', {
      showId, type: 'live', start: '2026-06-01T20:00:00', duration: 60, timezone: 'Europe/Warsaw',
      ...(rule === null ? {} : { recurrence: { rule } }), ...extra,
    });

    test('COUNT=1 is one instance, answered at once', async () => {
      for (const freq of ['SECONDLY', 'HOURLY', 'DAILY', 'YEARLY']) {
        const { answer, ms } = await whilePinging(() => event(`FREQ=${freq};COUNT=1`));
        assert.equal(answer.status, 201, JSON.stringify(answer.body));
        assert.ok(ms < ANSWER_MS, `FREQ=${freq};COUNT=1 took ${ms} ms`);
        const schedule = await server.request('GET', `/schedule?start=2026-01-01T00:00:00&end=2030-01-01T00:00:00&limit=500`);
        const instances = schedule.body.schedules.find((s: { event: { id: string } }) => s.event.id === answer.body.id).instances;
        assert.deepEqual(instances, [{ start: '2026-06-01T20:00:00', end: '2026-06-01T20:01:00', startsAt: '2026-06-01T18:00:00.000Z', endsAt: '2026-06-01T18:01:00.000Z' }]);
      }
    });

    test('a COUNT the rule hardly ever reaches is a 400 naming recurrence.rule, answered quickly', async () => {
      for (const rule of ['FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=5', 'FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30;COUNT=2', 'FREQ=YEARLY;BYMONTHDAY=31;BYMONTH=4;COUNT=3']) {
        const { answer, ms, slowestPing } = await whilePinging(() => event(rule));
        assert.equal(answer.status, 400, `${rule}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.errors[0].field, 'recurrence.rule');
        assert.match(answer.body.detail, /COUNT/);
        assert.ok(ms < ANSWER_MS && slowestPing < PING_MS, `${rule}: answered in ${ms} ms, /ping waited up to ${slowestPing} ms`);
      }
    });

    test('a schedule window with too many instances is a 400 naming end; /ping is answered meanwhile', async () => {
      const created = await Promise.all(Array.from({ length: 60 }, () => event('FREQ=DAILY', { start: '2000-01-01T20:00:00' })));
      assert.ok(created.every((c) => c.status === 201));
      const wide = () => server.request('GET', '/schedule?start=2000-01-01T00:00:00&end=2027-01-01T00:00:00');
      const { answer, ms, slowestPing } = await whilePinging(() => Promise.all([wide(), wide(), wide(), wide()]));
      for (const one of answer) {
        assert.equal(one.status, 400, JSON.stringify(one.body));
        assert.equal(one.body.errors[0].field, 'end');
        assert.match(one.body.detail, /more than 25000 instances/);
      }
      assert.ok(ms < 4 * ANSWER_MS && slowestPing < BUSY_PING_MS, `four wide windows in ${ms} ms, /ping waited up to ${slowestPing} ms`);
      const narrow = await server.request('GET', '/schedule?start=2026-06-01T00:00:00&end=2026-06-08T00:00:00&limit=500');
      assert.equal(narrow.status, 200);
      for (const { event: id } of created.map((c) => ({ event: c.body.id }))) {
        assert.equal(narrow.body.schedules.find((s: { event: { id: string } }) => s.event.id === id)?.instances.length, 7);
      }
      await Promise.all(created.map((c) => server.request('DELETE', `/events/${c.body.id}`)));
    });

    test('the iCalendar feed never fails as a whole because of one event', async () => {
      const busy = await event('FREQ=SECONDLY', { start: '2026-06-01T00:00:00' });
      const weekly = await event('FREQ=WEEKLY', { start: '2026-06-05T20:00:00' });
      const schedule = await server.request('GET', '/schedule?start=2026-06-01T00:00:00&end=2026-06-02T00:00:00');
      assert.equal(schedule.status, 400, 'the JSON schedule refuses the window');
      const { answer, slowestPing } = await whilePinging(() => fetch(`${server.url}/schedule.ics?start=2026-06-01T00:00:00&end=2026-07-01T00:00:00`));
      assert.equal(answer.status, 200);
      const feed = await answer.text();
      assert.ok(feed.includes(`UID:${weekly.body.id}-20260605T200000@onair`), 'the other event is in the feed');
      const busyCount = feed.split(`UID:${busy.body.id}-`).length - 1;
      assert.equal(busyCount, 10_000, 'the busy event keeps its first 10,000 instances');
      assert.ok(slowestPing < PING_MS, `/ping waited up to ${slowestPing} ms`);
      await server.request('DELETE', `/events/${busy.body.id}`);
      await server.request('DELETE', `/events/${weekly.body.id}`);
    });

    test('property: for any rule, POST /events answers within a bound and /ping stays under 100 ms meanwhile', async () => {
      await fc.assert(fc.asyncProperty(rules, async (rule) => {
        const { answer, ms, slowestPing } = await whilePinging(() => event(rule));
        assert.ok([201, 400].includes(answer.status), `${rule}: ${answer.status} ${JSON.stringify(answer.body)}`);
        if (answer.status === 201) await server.request('DELETE', `/events/${answer.body.id}`);
        assert.ok(ms < ANSWER_MS, `${rule}: answered in ${ms} ms`);
        assert.ok(slowestPing < PING_MS, `${rule}: /ping waited ${slowestPing} ms`);
      }), { numRuns: 150 });
    });
  });
}
