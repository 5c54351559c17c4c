import { API_KEY, asOperator, DESKTOP, launch, startStation } from '../test/dashboard/browser.ts';
import { attempt, cells, finish, inFlight, judge, printConditions, printTable, quick, ratio, summary, testDatabases, type Summary } from './support.ts';

/**
 * The Schedule page's week view with 200 weekly events (a real `onair serve`, Chromium): the time from moving to a
 * week to that week drawn (every entry in the calendar and every event in the list, then a frame), and the part of it
 * after the week's /schedule answer arrived (the page's own work: JSON, React, FullCalendar). Baseline from the same
 * run: the same move to an empty week. Goal: the week with 200 events drawn within 200 ms of its data.
 */

const EVENTS = 200;
const REPEAT = quick ? 3 : 10;
const GOAL_MS = 200;
/** The events start in the week of Monday 2027-03-08; the week before has none. */
const FULL_WEEK = '2027-03-08';
const EMPTY_WEEK = '2027-03-01';

interface Drawn { total: number; afterData: number }

/** In the page: moves the calendar one week (the toolbar's button), and times until `expected` entries are drawn. */
const MOVE = `async ({ button, week, expected }) => {
  const drawn = () => document.querySelector('.fc-col-header-cell[data-date="' + week + '"]') !== null
    && document.querySelectorAll('.fc-timegrid-event').length === expected
    && (expected === 0 ? document.body.textContent.includes('No event has an instance in these days')
      : document.querySelectorAll('.table-wrap tbody tr').length === expected);
  const asked = performance.getEntriesByType('resource').length;
  const started = performance.now();
  const done = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (!drawn()) return;
      observer.disconnect();
      requestAnimationFrame(() => setTimeout(() => resolve(performance.now())));
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
    setTimeout(() => resolve(Promise.reject(new Error('not drawn in 10 s: ' + document.querySelectorAll('.fc-timegrid-event').length
      + ' entries, ' + document.querySelectorAll('.table-wrap tbody tr').length + ' events listed, week ' + document.querySelector('.fc-toolbar-title').textContent))), 10000);
  });
  document.querySelector(button).click();
  const ended = await done;
  const answer = performance.getEntriesByType('resource').slice(asked).filter((entry) => entry.name.includes('/schedule?')).at(-1);
  return { total: ended - started, afterData: ended - answer.responseEnd };
}`;

const move = (arg: { button: string; week: string; expected: number }) => `(${MOVE})(${JSON.stringify(arg)})`;

async function createEvents(url: string): Promise<void> {
  const show = await asOperator(url, 'POST', '/shows', { title: 'Bench show' });
  await inFlight(Array.from({ length: EVENTS }, (_, i) => i), 4, async (i) => {
    const day = 8 + (i % 7);
    // Starts from 00:00 to 22:59: every entry ends before midnight, one box in its day.
    const time = `${String(Math.floor(i / 7) % 23).padStart(2, '0')}:${String((i * 13) % 60).padStart(2, '0')}`;
    const created = await asOperator(url, 'POST', '/events', {
      showId: show.body.id, type: i % 3 === 0 ? 'live' : 'prerecorded', start: `2027-03-${String(day).padStart(2, '0')}T${time}`,
      duration: 2700, timezone: 'Europe/Warsaw', recurrence: { rule: 'FREQ=WEEKLY' },
    });
    if (created.status !== 201) throw new Error(`event ${i}: ${JSON.stringify(created.body)}`);
  });
}

printConditions('dashboard-schedule');
await attempt('week view', async () => {
  const station = await startStation(testDatabases[0]!, { ONAIR_LOG_LEVEL: 'silent' });
  const browser = await launch();
  try {
    await createEvents(station.url);
    const context = await browser.newContext({ viewport: DESKTOP, timezoneId: 'America/New_York', baseURL: station.url });
    await context.addInitScript(`sessionStorage.setItem('onair-api-key', ${JSON.stringify(API_KEY)})`);
    const page = await context.newPage();
    await page.goto(`/ui/schedule`);
    await page.getByLabel('Go to date').fill(EMPTY_WEEK);
    await page.getByText('No event has an instance in these days').waitFor();
    const full: Drawn[] = [];
    const empty: Drawn[] = [];
    for (let i = 0; i < REPEAT; i++) {
      full.push(await page.evaluate<Drawn>(move({ button: '.fc-next-button', week: FULL_WEEK, expected: EVENTS })));
      empty.push(await page.evaluate<Drawn>(move({ button: '.fc-prev-button', week: EMPTY_WEEK, expected: 0 })));
    }
    const row = (what: string, pick: (d: Drawn) => number, goal?: number) => {
      const [measured, baseline]: Summary[] = [summary(full.map(pick)), summary(empty.map(pick))];
      return {
        time: what, ...cells(measured), ...cells(baseline, 'empty '), ratio: ratio(measured.median, baseline.median),
        ...(goal === undefined ? {} : judge(`median <= ${goal}`, measured.median <= goal, baseline.median > goal ? `${baseline.median.toFixed(0)} ms` : undefined)),
      };
    };
    printTable(`The week view with ${EVENTS} weekly events vs an empty week, ms over ${REPEAT} moves`, [
      row('drawn after the data', (d) => d.afterData, GOAL_MS),
      row('move to drawn', (d) => d.total),
    ]);
    await context.close();
  } finally {
    await browser.close();
    await station.close();
  }
});
finish();
