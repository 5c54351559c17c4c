import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProgrammeEvent } from '../../src/programme/contract.ts';
import { parseLocal } from '../../src/core/time.ts';
import { toEpoch } from '../../src/programme/localtime.ts';
import { EVENT_LIMITS, EventSchedule } from '../../src/programme/recurrence.ts';
import { Expansion, parseRule } from '../../src/programme/rrule.ts';
import { ExpansionLimit, PAUSE, Work } from '../../src/programme/work.ts';

function schedule(timezone: string, start: string, rule: string | null, duration = 3600): EventSchedule {
  const event: ProgrammeEvent = {
    id: 'e', showId: 's', type: 'live', liveJob: null, start, duration, timezone,
    recurrence: rule === null ? null : { rule, include: [], exclude: [] },
  };
  return new EventSchedule(event);
}

const iso = (epoch: number) => new Date(epoch).toISOString().slice(0, 19);
const at = (text: string) => Date.parse(`${text}Z`);

describe('recurrence in local time across DST', () => {
  for (const [zone, spring, autumn, winterOffset] of [
    ['Europe/Warsaw', '2026-03-29', '2026-10-25', 1],
    ['America/New_York', '2026-03-08', '2026-11-01', -5],
  ] as const) {
    test(`${zone}: a daily 20:00 show stays at 20:00 local; its UTC time moves by an hour at each change`, async () => {
      const instances = await schedule(zone, '2026-01-01T20:00:00', 'FREQ=DAILY').between(at('2026-01-01T00:00:00'), at('2027-01-01T12:00:00'));
      assert.equal(instances.length, 365);
      for (const instance of instances) assert.equal(instance.start.slice(11), '20:00:00');
      const utcHour = (day: string) => new Date(instances.find((i) => i.start.startsWith(day))!.startsAt).getUTCHours();
      const winter = (20 - winterOffset) % 24;
      const summer = (winter + 23) % 24;
      assert.equal(utcHour('2026-01-15'), winter);
      assert.equal(utcHour(spring), summer);
      assert.equal(utcHour('2026-07-01'), summer);
      assert.equal(utcHour(autumn), winter);
    });
  }

  test('spring forward, Europe/Warsaw: 02:30 does not exist on 29 March 2026 and moves forward by the gap to 03:30 CEST', async () => {
    const instances = await schedule('Europe/Warsaw', '2026-03-27T02:30:00', 'FREQ=DAILY;COUNT=4').between(at('2026-03-01T00:00:00'), at('2026-04-01T00:00:00'));
    assert.deepEqual(instances.map((i) => i.start), ['2026-03-27T02:30:00', '2026-03-28T02:30:00', '2026-03-29T03:30:00', '2026-03-30T02:30:00']);
    assert.deepEqual(instances.map((i) => iso(i.startsAt)), ['2026-03-27T01:30:00', '2026-03-28T01:30:00', '2026-03-29T01:30:00', '2026-03-30T00:30:00']);
    const shifted = schedule('Europe/Warsaw', '2026-03-27T02:30:00', 'FREQ=DAILY;COUNT=4');
    assert.equal((await shifted.find(parseLocal('2026-03-29T02:30:00')!))?.start, '2026-03-29T03:30:00', 'the nominal time finds the shifted instance');
  });

  test('spring forward, America/New_York: 02:30 on 8 March 2026 becomes 03:30 EDT', async () => {
    const [instance] = await schedule('America/New_York', '2026-03-08T02:30:00', null).between(at('2026-03-01T00:00:00'), at('2026-04-01T00:00:00'));
    assert.equal(instance!.start, '2026-03-08T03:30:00');
    assert.equal(iso(instance!.startsAt), '2026-03-08T07:30:00');
  });

  test('fall back, Europe/Warsaw: 02:30 on 25 October 2026 happens twice; the instance is the first, at CEST (00:30Z)', async () => {
    const instances = await schedule('Europe/Warsaw', '2026-10-24T02:30:00', 'FREQ=DAILY;COUNT=3').between(at('2026-10-01T00:00:00'), at('2026-11-01T00:00:00'));
    assert.deepEqual(instances.map((i) => iso(i.startsAt)), ['2026-10-24T00:30:00', '2026-10-25T00:30:00', '2026-10-26T01:30:00']);
    assert.deepEqual(instances.map((i) => i.start.slice(11)), ['02:30:00', '02:30:00', '02:30:00']);
  });

  test('fall back, America/New_York: 01:30 on 1 November 2026 is the first one, at EDT (05:30Z); a 2 h show ends at 02:30 EST', async () => {
    const [instance] = await schedule('America/New_York', '2026-11-01T01:30:00', null, 7200).between(at('2026-10-01T00:00:00'), at('2026-12-01T00:00:00'));
    assert.equal(iso(instance!.startsAt), '2026-11-01T05:30:00');
    assert.equal(instance!.end, '2026-11-01T02:30:00', 'duration is elapsed time: 01:30 EDT + 2 h = 02:30 EST');
    assert.equal(toEpoch(parseLocal('2026-11-01T01:30:00')!, 'America/New_York'), Date.parse('2026-11-01T05:30:00Z'));
  });

  test('a rule without end is expanded only over the window asked for', async () => {
    const daily = schedule('Europe/Warsaw', '2000-01-01T20:00:00', 'FREQ=DAILY');
    const started = performance.now();
    const instances = await daily.between(at('2090-06-01T00:00:00'), at('2090-06-03T00:00:00'));
    const elapsed = performance.now() - started;
    assert.deepEqual(instances.map((i) => i.start), ['2090-06-01T20:00:00', '2090-06-02T20:00:00']);
    assert.ok(elapsed < 50, `took ${elapsed} ms`);
    assert.deepEqual(await daily.bounds(), { firstStart: Date.parse('2000-01-01T19:00:00Z'), lastEnd: null });
  });

  test('bounds of finite rules: COUNT expands to its last instance, UNTIL bounds it', async () => {
    const counted = await schedule('UTC', '2026-01-01T10:00:00', 'FREQ=WEEKLY;COUNT=3', 60).bounds();
    assert.deepEqual(counted, { firstStart: at('2026-01-01T10:00:00'), lastEnd: at('2026-01-15T10:01:00') });
    const until = await schedule('UTC', '2026-01-01T10:00:00', 'FREQ=DAILY;UNTIL=20260110', 60).bounds();
    assert.equal(until.lastEnd, at('2026-01-10T23:59:59') + 60_000);
    assert.equal((await schedule('UTC', '2026-01-01T10:00:00', 'FREQ=DAILY;UNTIL=20260110', 60).between(at('2026-01-01T00:00:00'), at('2026-02-01T00:00:00'))).length, 10);
  });

  test('COUNT=1 is DTSTART alone, whatever the frequency', async () => {
    for (const freq of ['SECONDLY', 'MINUTELY', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY']) {
      const once = schedule('UTC', '2026-01-01T10:00:00', `FREQ=${freq};COUNT=1`, 60);
      assert.deepEqual((await once.between(at('2026-01-01T00:00:00'), at('2027-01-01T00:00:00'))).map((i) => i.start), ['2026-01-01T10:00:00'], freq);
      assert.deepEqual(await once.bounds(), { firstStart: at('2026-01-01T10:00:00'), lastEnd: at('2026-01-01T10:01:00') }, freq);
    }
  });

  test('FREQ=MINUTELY keeps only the minutes BYMINUTE names', async () => {
    const instances = await schedule('UTC', '1991-10-10T14:27:59', 'FREQ=MINUTELY;COUNT=3;BYMINUTE=5', 60).between(at('1991-10-10T00:00:00'), at('1991-10-11T00:00:00'));
    assert.deepEqual(instances.map((i) => i.start), ['1991-10-10T14:27:59', '1991-10-10T15:05:59', '1991-10-10T16:05:59']);
  });

  test('instances that started before the window and still run are included', async () => {
    const instances = await schedule('UTC', '2026-01-01T22:00:00', 'FREQ=DAILY', 4 * 3600).between(at('2026-01-05T01:00:00'), at('2026-01-05T02:00:00'));
    assert.deepEqual(instances.map((i) => i.start), ['2026-01-04T22:00:00']);
  });
});

describe('expansion shares the event loop', () => {
  /** Follows a rule to its step limit; answers the most steps spent between two pauses and how many pauses. */
  function pausesOf(rule: string, work: Work & { spent: number }) {
    let mostBetween = 0;
    let since = 0;
    let pauses = 0;
    try {
      for (const occurrence of new Expansion(parseRule(rule), parseLocal('2026-01-01T10:00:00')!).occurrences(0, Number.POSITIVE_INFINITY, () => false, work)) {
        if (occurrence !== PAUSE) continue;
        pauses += 1;
        mostBetween = Math.max(mostBetween, work.spent - since);
        since = work.spent;
      }
    } catch (error) {
      if (!(error instanceof ExpansionLimit)) throw error;
    }
    return { mostBetween, pauses };
  }

  // Each rule never reaches its COUNT, so it runs to the limit; the periods of each cost one to a few hundred steps.
  for (const rule of ['FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31;COUNT=3', 'FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30;COUNT=2',
    'FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2;COUNT=2', 'FREQ=YEARLY;BYHOUR=1,2,3,4;BYMINUTE=1,2,3,4;BYSETPOS=366;COUNT=2',
    'FREQ=HOURLY;BYMINUTE=1,2,3,4,5,6,7,8;BYSECOND=1,2,3,4,5,6,7,8;BYSETPOS=100;COUNT=2']) {
    test(`${rule}: pauses at least once every 256 steps and one period`, () => {
      const work = Object.assign(new Work(EVENT_LIMITS, 'event'), { spent: 0 });
      const step = work.step.bind(work);
      work.step = (count = 1) => {
        work.spent += count;
        return step(count);
      };
      const { mostBetween, pauses } = pausesOf(rule, work);
      assert.ok(work.spent >= EVENT_LIMITS.steps, `spent ${work.spent} steps`);
      assert.ok(mostBetween <= 256 + 366 * 16 + 1, `${mostBetween} steps between two pauses`);
      assert.ok(pauses >= EVENT_LIMITS.steps / (256 + 366 * 16 + 1), `${pauses} pauses`);
    });
  }
});
