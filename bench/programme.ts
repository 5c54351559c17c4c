import type { Instance, ProgrammeEvent } from '../src/programme/contract.ts';
import { EventSchedule } from '../src/programme/recurrence.ts';
import {
  attempt, cells, finish, judge, printConditions, printTable, quick, ratio, startInProcess, summary, testDatabases, type Row, type Summary,
} from './support.ts';

/**
 * Schedule expansion for 1,000 recurring events (weekly, daily, monthly by weekday, in four zones, started years
 * ago) over one day and over one year. Baselines from the same run: producing the same number of instances with
 * plain UTC arithmetic (no rules, no zones), and JSON-serialising the expanded result. Goals: every expansion of one
 * day within 50 ms, of one year within 1 s. Figures in ms over REPEAT runs, compared by their medians.
 */

const EVENTS = 1000;
const REPEAT = quick ? 3 : 10;
const ZONES = ['Europe/Warsaw', 'America/New_York', 'Asia/Tokyo', 'UTC'];
const RULES = ['FREQ=WEEKLY;BYDAY=MO,WE,FR', 'FREQ=DAILY', 'FREQ=MONTHLY;BYDAY=1FR,-1SU', 'FREQ=WEEKLY;INTERVAL=2;BYDAY=SA;WKST=SU'];

function events(): ProgrammeEvent[] {
  return Array.from({ length: EVENTS }, (_, i) => ({
    id: `e${i}`, showId: 's', type: 'replay', duration: 3600, liveJob: null, timezone: ZONES[i % ZONES.length]!,
    start: `2020-01-${String(1 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00`,
    recurrence: { rule: RULES[Math.floor(i / ZONES.length) % RULES.length]!, include: [], exclude: [] },
  }));
}

async function repeated(run: () => unknown): Promise<Summary> {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return summary(times);
}

/** The same number of instances per event, spaced evenly in UTC: what expansion costs without rules or zones. */
function plainUtc(counts: number[], from: number, to: number): unknown[] {
  return counts.map((count) => {
    const step = (to - from) / Math.max(count, 1);
    return Array.from({ length: count }, (_, k) => {
      const start = from + k * step;
      return { start: new Date(start).toISOString().slice(0, 19), end: new Date(start + 3_600_000).toISOString().slice(0, 19) };
    });
  });
}

printConditions('programme');
const all = events();
const from = Date.parse('2026-03-01T00:00:00Z');
const rows: Row[] = [];
for (const [name, span, goal] of [['one day', 86_400_000, 50], ['one year', 365 * 86_400_000, 1000]] as const) {
  await attempt(`expansion of ${name}`, async () => {
    const to = from + span;
    let result: Instance[][] = [];
    const expand = await repeated(async () => {
      result = await Promise.all(all.map((event) => new EventSchedule(event).between(from, to)));
    });
    const counts = result.map((r) => r.length);
    const plain = await repeated(() => plainUtc(counts, from, to));
    const json = await repeated(() => JSON.stringify(result));
    rows.push({
      window: name, events: EVENTS, instances: counts.reduce((a, b) => a + b, 0), ...cells(expand),
      'plain UTC median': plain.median, 'vs plain': ratio(expand.median, plain.median), 'JSON median': json.median, 'vs JSON': ratio(expand.median, json.median),
      ...judge(`every one <= ${goal}`, expand.max <= goal),
    });
  });
}
printTable(`Expansion of ${EVENTS} recurring events, ms over ${REPEAT} runs`, rows);

// Through the reader, as the automation calls it: SQL pre-filter on bounds, then expansion.
await attempt('reader', async () => {
  const server = await startInProcess(testDatabases[0]!);
  try {
    const service = server.onair.programme.service;
    const show = await service.createShow({ title: 'Bench' });
    for (const event of all) await service.createEvent({ ...event, showId: show.id });
    const readerRows: Row[] = [];
    for (const [name, span] of [['one day', 86_400_000], ['one year', 365 * 86_400_000]] as const) {
      let found = 0;
      const reader = await repeated(async () => {
        found = (await server.onair.programme.reader.instancesBetween(from, from + span)).length;
      });
      const sqlOnly = await repeated(() => service.store.eventsWithin(from, from + span, {}));
      readerRows.push({
        window: name, instances: found, ...cells(reader), 'baseline is': 'the SQL alone', ...cells(sqlOnly, 'baseline '),
        ratio: ratio(reader.median, sqlOnly.median),
      });
    }
    printTable(`reader.instancesBetween over ${EVENTS} events in ${testDatabases[0]!.name}, ms over ${REPEAT} runs`, readerRows);
  } finally {
    await server.stop();
  }
});
finish();
