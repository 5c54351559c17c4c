import type { Instance, ProgrammeEvent } from '../src/programme/contract.ts';
import { EventSchedule } from '../src/programme/recurrence.ts';
import { printConditions, printTable, quick, startInProcess, testDatabases, type Row } from './support.ts';

/**
 * Schedule expansion for 1,000 recurring events (weekly, daily, monthly by weekday, in four zones, started years
 * ago) over one day and over one year. Baselines from the same run: producing the same number of instances with
 * plain UTC arithmetic (no rules, no zones), and JSON-serialising the expanded result.
 */

const EVENTS = 1000;
const REPEAT = quick ? 3 : 10;
const ZONES = ['Europe/Warsaw', 'America/New_York', 'Asia/Tokyo', 'UTC'];
const RULES = ['FREQ=WEEKLY;BYDAY=MO,WE,FR', 'FREQ=DAILY', 'FREQ=MONTHLY;BYDAY=1FR,-1SU', 'FREQ=WEEKLY;INTERVAL=2;BYDAY=SA;WKST=SU'];

function events(): ProgrammeEvent[] {
  return Array.from({ length: EVENTS }, (_, i) => ({
    id: `e${i}`, showId: 's', type: 'replay', duration: 3600, timezone: ZONES[i % ZONES.length]!,
    start: `2020-01-${String(1 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00`,
    recurrence: { rule: RULES[Math.floor(i / ZONES.length) % RULES.length]!, include: [], exclude: [] },
  }));
}

async function best(run: () => unknown): Promise<number> {
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < REPEAT; i++) {
    const started = performance.now();
    await run();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
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
  const to = from + span;
  let result: Instance[][] = [];
  const ms = await best(async () => {
    result = await Promise.all(all.map((event) => new EventSchedule(event).between(from, to)));
  });
  const counts = result.map((r) => r.length);
  const baseline = await best(() => plainUtc(counts, from, to));
  const json = await best(() => JSON.stringify(result));
  rows.push({
    window: name, events: EVENTS, instances: counts.reduce((a, b) => a + b, 0), 'expand ms': ms, 'goal ms': goal,
    'plain UTC ms': baseline, 'vs plain': (ms / baseline).toFixed(2), 'JSON ms': json, 'vs JSON': (ms / json).toFixed(2),
  });
}
printTable(`Expansion of ${EVENTS} recurring events (best of ${REPEAT})`, rows);

// Through the reader, as the automation calls it: SQL pre-filter on bounds, then expansion.
const server = await startInProcess(testDatabases[0]!);
try {
  const service = server.onair.programme.service;
  const show = await service.createShow({ title: 'Bench' });
  for (const event of all) await service.createEvent({ ...event, showId: show.id });
  const readerRows: Row[] = [];
  for (const [name, span] of [['one day', 86_400_000], ['one year', 365 * 86_400_000]] as const) {
    let found = 0;
    let fastest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < REPEAT; i++) {
      const started = performance.now();
      found = (await server.onair.programme.reader.instancesBetween(from, from + span)).length;
      fastest = Math.min(fastest, performance.now() - started);
    }
    const baseline = performance.now();
    await service.store.eventsWithin(from, from + span, {});
    const sqlOnly = performance.now() - baseline;
    readerRows.push({ window: name, instances: found, 'reader ms': fastest, 'SQL only ms': sqlOnly, 'vs SQL': (fastest / sqlOnly).toFixed(2) });
  }
  printTable(`reader.instancesBetween over ${EVENTS} events in ${testDatabases[0]!.name} (best of ${REPEAT})`, readerRows);
} finally {
  await server.stop();
}
