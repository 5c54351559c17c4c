import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProgrammeEvent } from '../../src/programme/contract.ts';
import { EventSchedule } from '../../src/programme/recurrence.ts';

/**
 * The recurrence examples of RFC 5545 section 3.8.5.3 (DTSTART;TZID=America/New_York), each expanded and
 * compared with the dates the RFC lists. Dates are written as the RFC does: month -> days.
 */

const zone = 'America/New_York';

function event(start: string, rule: string, exclude: string[] = []): ProgrammeEvent {
  return {
    id: 'rfc', showId: 'rfc', type: 'live', liveJob: null, start, duration: 60, timezone: zone,
    recurrence: { rule, include: [], exclude },
  };
}

/** "1997-09": [2, 3] -> 1997-09-02T09:00:00, ... */
function dates(time: string, months: Record<string, number[]>): string[] {
  return Object.entries(months).flatMap(([month, days]) => days.map((day) => `${month}-${String(day).padStart(2, '0')}T${time}`));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function expand(start: string, rule: string, exclude: string[] = [], until = '2008-01-01T00:00:00Z'): Promise<string[]> {
  const instances = await new EventSchedule(event(start, rule, exclude)).between(Date.parse('1990-01-01T00:00:00Z'), Date.parse(until));
  return instances.map((instance) => instance.start);
}

interface Example {
  name: string;
  start: string;
  rules: string[];
  expected: string[];
  /** For rules without end: compare only the first instances the RFC lists. */
  first?: boolean;
  exclude?: string[];
  /** Where to stop expanding, when the default (2008) would yield too many instances. */
  until?: string;
}

const nine = (months: Record<string, number[]>) => dates('09:00:00', months);

const examples: Example[] = [
  { name: 'Daily for 10 occurrences', start: '1997-09-02T09:00:00', rules: ['FREQ=DAILY;COUNT=10'], expected: nine({ '1997-09': range(2, 11) }) },
  {
    name: 'Daily until December 24, 1997', start: '1997-09-02T09:00:00', rules: ['FREQ=DAILY;UNTIL=19971224T000000Z'],
    expected: nine({ '1997-09': range(2, 30), '1997-10': range(1, 31), '1997-11': range(1, 30), '1997-12': range(1, 23) }),
  },
  {
    name: 'Every other day - forever', start: '1997-09-02T09:00:00', rules: ['FREQ=DAILY;INTERVAL=2'], first: true,
    expected: nine({ '1997-09': [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30], '1997-10': [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30], '1997-11': [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29], '1997-12': [1, 3] }),
  },
  { name: 'Every 10 days, 5 occurrences', start: '1997-09-02T09:00:00', rules: ['FREQ=DAILY;INTERVAL=10;COUNT=5'], expected: nine({ '1997-09': [2, 12, 22], '1997-10': [2, 12] }) },
  {
    name: 'Every day in January, for 3 years', start: '1998-01-01T09:00:00',
    rules: ['FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA', 'FREQ=DAILY;UNTIL=20000131T140000Z;BYMONTH=1'],
    expected: nine({ '1998-01': range(1, 31), '1999-01': range(1, 31), '2000-01': range(1, 31) }),
  },
  { name: 'Weekly for 10 occurrences', start: '1997-09-02T09:00:00', rules: ['FREQ=WEEKLY;COUNT=10'], expected: nine({ '1997-09': [2, 9, 16, 23, 30], '1997-10': [7, 14, 21, 28], '1997-11': [4] }) },
  {
    name: 'Weekly until December 24, 1997', start: '1997-09-02T09:00:00', rules: ['FREQ=WEEKLY;UNTIL=19971224T000000Z'],
    expected: nine({ '1997-09': [2, 9, 16, 23, 30], '1997-10': [7, 14, 21, 28], '1997-11': [4, 11, 18, 25], '1997-12': [2, 9, 16, 23] }),
  },
  {
    name: 'Every other week - forever', start: '1997-09-02T09:00:00', rules: ['FREQ=WEEKLY;INTERVAL=2;WKST=SU'], first: true,
    expected: nine({ '1997-09': [2, 16, 30], '1997-10': [14, 28], '1997-11': [11, 25], '1997-12': [9, 23], '1998-01': [6, 20], '1998-02': [3, 17] }),
  },
  {
    name: 'Weekly on Tuesday and Thursday for five weeks', start: '1997-09-02T09:00:00',
    rules: ['FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH', 'FREQ=WEEKLY;COUNT=10;WKST=SU;BYDAY=TU,TH'],
    expected: nine({ '1997-09': [2, 4, 9, 11, 16, 18, 23, 25, 30], '1997-10': [2] }),
  },
  {
    name: 'Every other week on Monday, Wednesday, and Friday until December 24, 1997, starting on Tuesday, September 2, 1997',
    start: '1997-09-02T09:00:00', rules: ['FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR'],
    expected: nine({ '1997-09': [2, 3, 5, 15, 17, 19, 29], '1997-10': [1, 3, 13, 15, 17, 27, 29, 31], '1997-11': [10, 12, 14, 24, 26, 28], '1997-12': [8, 10, 12, 22] }),
  },
  {
    name: 'Every other week on Tuesday and Thursday, for 8 occurrences', start: '1997-09-02T09:00:00',
    rules: ['FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH'], expected: nine({ '1997-09': [2, 4, 16, 18, 30], '1997-10': [2, 14, 16] }),
  },
  {
    name: 'Monthly on the first Friday for 10 occurrences', start: '1997-09-05T09:00:00', rules: ['FREQ=MONTHLY;COUNT=10;BYDAY=1FR'],
    expected: nine({ '1997-09': [5], '1997-10': [3], '1997-11': [7], '1997-12': [5], '1998-01': [2], '1998-02': [6], '1998-03': [6], '1998-04': [3], '1998-05': [1], '1998-06': [5] }),
  },
  {
    name: 'Monthly on the first Friday until December 24, 1997', start: '1997-09-05T09:00:00', rules: ['FREQ=MONTHLY;UNTIL=19971224T000000Z;BYDAY=1FR'],
    expected: nine({ '1997-09': [5], '1997-10': [3], '1997-11': [7], '1997-12': [5] }),
  },
  {
    name: 'Every other month on the first and last Sunday of the month for 10 occurrences', start: '1997-09-07T09:00:00',
    rules: ['FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU'],
    expected: nine({ '1997-09': [7, 28], '1997-11': [2, 30], '1998-01': [4, 25], '1998-03': [1, 29], '1998-05': [3, 31] }),
  },
  {
    name: 'Monthly on the second-to-last Monday of the month for 6 months', start: '1997-09-22T09:00:00', rules: ['FREQ=MONTHLY;COUNT=6;BYDAY=-2MO'],
    expected: nine({ '1997-09': [22], '1997-10': [20], '1997-11': [17], '1997-12': [22], '1998-01': [19], '1998-02': [16] }),
  },
  {
    name: 'Monthly on the third-to-the-last day of the month, forever', start: '1997-09-28T09:00:00', rules: ['FREQ=MONTHLY;BYMONTHDAY=-3'], first: true,
    expected: nine({ '1997-09': [28], '1997-10': [29], '1997-11': [28], '1997-12': [29], '1998-01': [29], '1998-02': [26] }),
  },
  {
    name: 'Monthly on the 2nd and 15th of the month for 10 occurrences', start: '1997-09-02T09:00:00', rules: ['FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15'],
    expected: nine({ '1997-09': [2, 15], '1997-10': [2, 15], '1997-11': [2, 15], '1997-12': [2, 15], '1998-01': [2, 15] }),
  },
  {
    name: 'Monthly on the first and last day of the month for 10 occurrences', start: '1997-09-30T09:00:00', rules: ['FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1'],
    expected: nine({ '1997-09': [30], '1997-10': [1, 31], '1997-11': [1, 30], '1997-12': [1, 31], '1998-01': [1, 31], '1998-02': [1] }),
  },
  {
    name: 'Every 18 months on the 10th thru 15th of the month for 10 occurrences', start: '1997-09-10T09:00:00',
    rules: ['FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15'], expected: nine({ '1997-09': range(10, 15), '1999-03': range(10, 13) }),
  },
  {
    name: 'Every Tuesday, every other month', start: '1997-09-02T09:00:00', rules: ['FREQ=MONTHLY;INTERVAL=2;BYDAY=TU'], first: true,
    expected: nine({ '1997-09': [2, 9, 16, 23, 30], '1997-11': [4, 11, 18, 25], '1998-01': [6, 13, 20, 27], '1998-03': [3, 10, 17, 24, 31] }),
  },
  {
    name: 'Yearly in June and July for 10 occurrences', start: '1997-06-10T09:00:00', rules: ['FREQ=YEARLY;COUNT=10;BYMONTH=6,7'],
    expected: nine(Object.fromEntries([1997, 1998, 1999, 2000, 2001].flatMap((y) => [[`${y}-06`, [10]], [`${y}-07`, [10]]]))),
  },
  {
    name: 'Every other year on January, February, and March for 10 occurrences', start: '1997-03-10T09:00:00', rules: ['FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3'],
    expected: nine({ '1997-03': [10], ...Object.fromEntries([1999, 2001, 2003].flatMap((y) => [[`${y}-01`, [10]], [`${y}-02`, [10]], [`${y}-03`, [10]]])) }),
  },
  {
    name: 'Every third year on the 1st, 100th, and 200th day for 10 occurrences', start: '1997-01-01T09:00:00', rules: ['FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200'],
    expected: nine({ '1997-01': [1], '1997-04': [10], '1997-07': [19], '2000-01': [1], '2000-04': [9], '2000-07': [18], '2003-01': [1], '2003-04': [10], '2003-07': [19], '2006-01': [1] }),
  },
  {
    name: 'Every 20th Monday of the year, forever', start: '1997-05-19T09:00:00', rules: ['FREQ=YEARLY;BYDAY=20MO'], first: true,
    expected: nine({ '1997-05': [19], '1998-05': [18], '1999-05': [17] }),
  },
  {
    name: 'Monday of week number 20 (where the default start of the week is Monday), forever', start: '1997-05-12T09:00:00', rules: ['FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO'], first: true,
    expected: nine({ '1997-05': [12], '1998-05': [11], '1999-05': [17] }),
  },
  {
    name: 'Every Thursday in March, forever', start: '1997-03-13T09:00:00', rules: ['FREQ=YEARLY;BYMONTH=3;BYDAY=TH'], first: true,
    expected: nine({ '1997-03': [13, 20, 27], '1998-03': [5, 12, 19, 26], '1999-03': [4, 11, 18, 25] }),
  },
  {
    name: 'Every Thursday, but only during June, July, and August, forever', start: '1997-06-05T09:00:00', rules: ['FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8'], first: true,
    expected: nine({
      '1997-06': [5, 12, 19, 26], '1997-07': [3, 10, 17, 24, 31], '1997-08': [7, 14, 21, 28],
      '1998-06': [4, 11, 18, 25], '1998-07': [2, 9, 16, 23, 30], '1998-08': [6, 13, 20, 27],
      '1999-06': [3, 10, 17, 24], '1999-07': [1, 8, 15, 22, 29], '1999-08': [5, 12, 19, 26],
    }),
  },
  {
    name: 'Every Friday the 13th, forever', start: '1997-09-02T09:00:00', rules: ['FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13'], first: true,
    exclude: ['1997-09-02T09:00:00'], expected: nine({ '1998-02': [13], '1998-03': [13], '1998-11': [13], '1999-08': [13], '2000-10': [13] }),
  },
  {
    name: 'The first Saturday that follows the first Sunday of the month, forever', start: '1997-09-13T09:00:00',
    rules: ['FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13'], first: true,
    expected: nine({ '1997-09': [13], '1997-10': [11], '1997-11': [8], '1997-12': [13], '1998-01': [10], '1998-02': [7], '1998-03': [7], '1998-04': [11], '1998-05': [9], '1998-06': [13] }),
  },
  {
    name: 'Every 4 years, the first Tuesday after a Monday in November, forever (U.S. Presidential Election day)', start: '1996-11-05T09:00:00',
    rules: ['FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8'], first: true,
    expected: nine({ '1996-11': [5], '2000-11': [7], '2004-11': [2] }),
  },
  {
    name: 'The third instance into the month of one of Tuesday, Wednesday, or Thursday, for the next 3 months', start: '1997-09-04T09:00:00',
    rules: ['FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3'], expected: nine({ '1997-09': [4], '1997-10': [7], '1997-11': [6] }),
  },
  {
    name: 'The second-to-last weekday of the month', start: '1997-09-29T09:00:00', rules: ['FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2'], first: true,
    expected: nine({ '1997-09': [29], '1997-10': [30], '1997-11': [27], '1997-12': [30], '1998-01': [29], '1998-02': [26], '1998-03': [30] }),
  },
  {
    // The RFC writes UNTIL=19970902T170000Z, which is 13:00 EDT, yet lists 15:00: 21:00Z (17:00 EDT) is what it means.
    name: 'Every 3 hours from 9:00 AM to 5:00 PM on a specific day', start: '1997-09-02T09:00:00',
    rules: ['FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T210000Z'], expected: ['1997-09-02T09:00:00', '1997-09-02T12:00:00', '1997-09-02T15:00:00'],
  },
  {
    name: 'Every 15 minutes for 6 occurrences', start: '1997-09-02T09:00:00', rules: ['FREQ=MINUTELY;INTERVAL=15;COUNT=6'],
    expected: ['09:00', '09:15', '09:30', '09:45', '10:00', '10:15'].map((t) => `1997-09-02T${t}:00`),
  },
  {
    name: 'Every hour and a half for 4 occurrences', start: '1997-09-02T09:00:00', rules: ['FREQ=MINUTELY;INTERVAL=90;COUNT=4'],
    expected: ['09:00', '10:30', '12:00', '13:30'].map((t) => `1997-09-02T${t}:00`),
  },
  {
    name: 'Every 20 minutes from 9:00 AM to 4:40 PM every day', start: '1997-09-02T09:00:00', first: true, until: '1997-09-10T00:00:00Z',
    rules: ['FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40', 'FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10,11,12,13,14,15,16'],
    expected: ['1997-09-02', '1997-09-03'].flatMap((day) => range(9, 16).flatMap((h) => [0, 20, 40].map((m) => `${day}T${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00`))),
  },
  {
    name: 'WKST=MO changes the week an every-other-week rule counts', start: '1997-08-05T09:00:00',
    rules: ['FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO'], expected: nine({ '1997-08': [5, 10, 19, 24] }),
  },
  {
    name: 'WKST=SU changes the week an every-other-week rule counts', start: '1997-08-05T09:00:00',
    rules: ['FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU'], expected: nine({ '1997-08': [5, 17, 19, 31] }),
  },
  {
    name: 'An invalid date (February 30) is ignored', start: '2007-01-15T09:00:00', rules: ['FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5'],
    expected: nine({ '2007-01': [15, 30], '2007-02': [15], '2007-03': [15, 30] }),
  },
];

describe('RFC 5545 section 3.8.5.3 recurrence examples (America/New_York)', () => {
  for (const example of examples) {
    for (const rule of example.rules) {
      test(`${example.name}: ${rule}`, async () => {
        const got = await expand(example.start, rule, example.exclude, example.until);
        assert.deepEqual(example.first ? got.slice(0, example.expected.length) : got, example.expected);
      });
    }
  }

  test('instances keep 09:00 local across the fall back: EDT (13:00Z) before, EST (14:00Z) after', async () => {
    const instances = await new EventSchedule(event('1997-09-02T09:00:00', 'FREQ=DAILY;UNTIL=19971224T000000Z'))
      .between(Date.parse('1997-10-25T00:00:00Z'), Date.parse('1997-10-28T00:00:00Z'));
    assert.deepEqual(instances.map((i) => new Date(i.startsAt).toISOString()),
      ['1997-10-25T13:00:00.000Z', '1997-10-26T14:00:00.000Z', '1997-10-27T14:00:00.000Z']);
  });
});
