import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import ICAL from 'ical.js';
import type { BusEvent } from '../../src/core/events/bus.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

for (const database of testDatabases) {
  describe(`Programme API on ${database.name}`, () => {
    let server: Running;
    const published: BusEvent[] = [];
    before(async () => {
      server = await startOnair({ database });
      server.onair.bus.subscribe((event) => {
        if (event.type === 'programme-changed') published.push(event);
      });
    });
    after(() => server.stop());

    const show = async (title = 'Evening news', description = 'Daily; at 20:00') => {
      const answer = await server.request('POST', '/shows', { title, description });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return answer.body as { id: string; title: string; description: string };
    };
    const event = async (body: Record<string, unknown>) => {
      const answer = await server.request('POST', '/events', body);
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return answer.body as { id: string; start: string };
    };
    const weekly = (showId: string, extra: Record<string, unknown> = {}) => ({
      showId, type: 'live', start: '2026-03-20T20:00', duration: 3600, timezone: 'Europe/Warsaw',
      recurrence: { rule: 'FREQ=WEEKLY;BYDAY=FR' }, ...extra,
    });

    test('shows: create, read, list paged, change, delete; each change published', async () => {
      const created = await show('Morning', 'Wake up');
      assert.match(created.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(created, { id: created.id, title: 'Morning', description: 'Wake up' });
      assert.deepEqual((await server.request('GET', `/shows/${created.id}`)).body, created);
      const bare = (await server.request('POST', '/shows', { title: 'Bare' })).body;
      assert.equal(bare.description, '');
      const page = await server.request('GET', '/shows?limit=1&offset=0');
      assert.equal(page.status, 200);
      assert.equal(page.body.limit, 1);
      assert.equal(page.body.offset, 0);
      assert.equal(page.body.shows.length, 1);
      assert.ok(page.body.count >= 2);
      const all = await server.request('GET', '/shows?limit=500');
      assert.ok(all.body.shows.some((s: { id: string }) => s.id === bare.id));
      const changed = await server.request('PATCH', `/shows/${created.id}`, { title: 'Morning show' });
      assert.deepEqual(changed.body, { ...created, title: 'Morning show' });
      assert.equal((await server.request('DELETE', `/shows/${created.id}`)).status, 200);
      assert.equal((await server.request('GET', `/shows/${created.id}`)).status, 404);
      // Events reach subscribers once their transactions have committed and the outbox is read.
      const changes = () => published.filter((e) => (e.data as { id: string }).id === created.id).map((e) => (e.data as { change: string }).change);
      await waitFor(() => changes().length === 3, 'the three changes to be delivered');
      assert.deepEqual(changes(), ['created', 'updated', 'deleted']);
    });

    test('shows: 400 for bad bodies and ids, 404 for unknown ids', async () => {
      assert.match((await server.request('POST', '/shows', {})).body.detail, /title/);
      assert.match((await server.request('POST', '/shows', { title: '' })).body.detail, /title/);
      assert.match((await server.request('POST', '/shows', { title: 'x', colour: 'red' })).body.detail, /colour/);
      assert.equal((await server.request('GET', '/shows/not-a-uuid')).status, 400);
      for (const method of ['GET', 'DELETE']) assert.equal((await server.request(method, `/shows/${UNKNOWN}`)).status, 404);
      assert.equal((await server.request('PATCH', `/shows/${UNKNOWN}`, { title: 'x' })).status, 404);
      assert.equal((await server.request('GET', '/shows?limit=0')).status, 400);
      assert.equal((await server.request('GET', '/shows?limit=100000')).status, 400);
    });

    test('events: create normalised, read, list with filters, change, delete', async () => {
      const owner = await show();
      const created = await event(weekly(owner.id, { recurrence: { rule: 'FREQ=WEEKLY;BYDAY=FR', exclude: ['2026-04-03T20:00'] } }));
      assert.deepEqual(created, {
        id: created.id, showId: owner.id, type: 'live', start: '2026-03-20T20:00:00', duration: 3600, timezone: 'Europe/Warsaw',
        recurrence: { rule: 'FREQ=WEEKLY;BYDAY=FR', include: [], exclude: ['2026-04-03T20:00:00'] }, liveJob: null,
      });
      assert.deepEqual((await server.request('GET', `/events/${created.id}`)).body, created);
      const replay = await event({ showId: owner.id, type: 'replay', start: '2026-03-21T10:00:00', duration: 60, timezone: 'UTC' });
      const byShow = await server.request('GET', `/events?show=${owner.id}`);
      assert.equal(byShow.body.count, 2);
      assert.deepEqual(byShow.body.events.map((e: { id: string }) => e.id), [created.id, replay.id]);
      const replays = await server.request('GET', `/events?show=${owner.id}&type=replay`);
      assert.deepEqual(replays.body.events.map((e: { id: string }) => e.id), [replay.id]);
      const both = await server.request('GET', `/events?show=${owner.id}&type=replay&type=live`);
      assert.equal(both.body.count, 2);
      const changed = await server.request('PATCH', `/events/${replay.id}`, { type: 'prerecorded', recurrence: { rule: 'FREQ=DAILY;COUNT=2' } });
      assert.equal(changed.status, 200);
      assert.equal(changed.body.type, 'prerecorded');
      assert.deepEqual(changed.body.recurrence, { rule: 'FREQ=DAILY;COUNT=2', include: [], exclude: [] });
      const plain = await server.request('PATCH', `/events/${replay.id}`, { recurrence: null });
      assert.equal(plain.body.recurrence, null);
      assert.equal((await server.request('DELETE', `/events/${replay.id}`)).status, 200);
      assert.equal((await server.request('GET', `/events/${replay.id}`)).status, 404);
    });

    test('events: 400 naming the field for every invalid input', async () => {
      const owner = await show();
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [weekly(owner.id, { timezone: 'Mars/Olympus' }), /timezone/],
        [weekly(owner.id, { recurrence: { rule: 'FREQ=SOMETIMES' } }), /recurrence\.rule.*FREQ/],
        [weekly(owner.id, { recurrence: { rule: 'BYDAY=FR' } }), /recurrence\.rule.*FREQ is required/],
        [weekly(owner.id, { recurrence: { rule: 'FREQ=WEEKLY;BYDAY=XX' } }), /recurrence\.rule.*BYDAY/],
        [weekly(owner.id, { recurrence: { rule: 'FREQ=DAILY;COUNT=3;UNTIL=20270101' } }), /recurrence\.rule.*COUNT and UNTIL/],
        [weekly(owner.id, { recurrence: { rule: 'FREQ=WEEKLY;BYDAY=1FR' } }), /recurrence\.rule.*ordinal/],
        [weekly(owner.id, { recurrence: { rule: 'FREQ=WEEKLY', include: ['soon'] } }), /^body\.recurrence\.include\.0 must be a local date-time without an offset[^;]*$/],
        [weekly(owner.id, { recurrence: { rule: 'FREQ=WEEKLY', exclude: ['2026-02-30T20:00:00'] } }), /^recurrence\.exclude\.0: "2026-02-30T20:00:00" is not a real local date-time/],
        [weekly(owner.id, { duration: 0 }), /duration/],
        [weekly(owner.id, { duration: -5 }), /duration/],
        [weekly(owner.id, { duration: 1.5 }), /duration/],
        [weekly(owner.id, { start: '2026-03-20 20:00' }), /start/],
        [weekly(owner.id, { start: '2026-13-20T20:00:00' }), /start/],
        [weekly(owner.id, { type: 'rerun' }), /type/],
        [weekly(UNKNOWN), /showId/],
        [weekly('nope'), /showId/],
        [{ showId: owner.id }, /type|start|duration|timezone/],
      ];
      for (const [body, field] of cases) {
        const answer = await server.request('POST', '/events', body);
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.match(answer.body.detail, field, JSON.stringify(answer.body));
      }
      const created = await event(weekly(owner.id));
      const patched = await server.request('PATCH', `/events/${created.id}`, { timezone: 'Nowhere/Land' });
      assert.equal(patched.status, 400);
      assert.match(patched.body.detail, /timezone/);
      assert.equal((await server.request('PATCH', `/events/${created.id}`, { showId: UNKNOWN })).status, 400);
    });

    test('events: 404 for unknown ids; deleting a show with events is a 409 that says why', async () => {
      for (const method of ['GET', 'DELETE']) assert.equal((await server.request(method, `/events/${UNKNOWN}`)).status, 404);
      assert.equal((await server.request('PATCH', `/events/${UNKNOWN}`, { duration: 5 })).status, 404);
      const owner = await show();
      const created = await event(weekly(owner.id));
      const refused = await server.request('DELETE', `/shows/${owner.id}`);
      assert.equal(refused.status, 409);
      assert.match(refused.body.detail, /still has events/);
      await server.request('DELETE', `/events/${created.id}`);
      assert.equal((await server.request('DELETE', `/shows/${owner.id}`)).status, 200);
    });

    test('schedule: a weekly Warsaw show stays at 20:00 local across the spring change, paged and filtered', async () => {
      const owner = await show();
      const live = await event(weekly(owner.id, { recurrence: { rule: 'FREQ=WEEKLY;BYDAY=FR', exclude: ['2026-04-03T20:00:00'], include: ['2026-04-04T12:00:00'] } }));
      const replay = await event({ showId: owner.id, type: 'replay', start: '2026-03-21T10:00:00', duration: 1800, timezone: 'UTC' });
      const answer = await server.request('GET', `/schedule?start=2026-03-19T00:00:00&end=2026-04-12T00:00:00&show=${owner.id}`);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.count, 2);
      assert.equal(answer.body.limit, 50);
      assert.equal(answer.body.offset, 0);
      const [first, second] = answer.body.schedules;
      assert.equal(first.event.id, live.id);
      // The instants follow the zone: CET (UTC+1) before 2026-03-29, CEST (UTC+2) after.
      assert.deepEqual(first.instances, [
        { start: '2026-03-20T20:00:00', end: '2026-03-20T21:00:00', startsAt: '2026-03-20T19:00:00.000Z', endsAt: '2026-03-20T20:00:00.000Z' },
        { start: '2026-03-27T20:00:00', end: '2026-03-27T21:00:00', startsAt: '2026-03-27T19:00:00.000Z', endsAt: '2026-03-27T20:00:00.000Z' },
        { start: '2026-04-04T12:00:00', end: '2026-04-04T13:00:00', startsAt: '2026-04-04T10:00:00.000Z', endsAt: '2026-04-04T11:00:00.000Z' },
        { start: '2026-04-10T20:00:00', end: '2026-04-10T21:00:00', startsAt: '2026-04-10T18:00:00.000Z', endsAt: '2026-04-10T19:00:00.000Z' },
      ]);
      assert.equal(second.event.id, replay.id);
      const paged = await server.request('GET', `/schedule?start=2026-03-19T00:00:00&end=2026-04-12T00:00:00&show=${owner.id}&limit=1&offset=1`);
      assert.equal(paged.body.count, 2);
      assert.deepEqual(paged.body.schedules.map((s: { event: { id: string } }) => s.event.id), [replay.id]);
      const typed = await server.request('GET', `/schedule?start=2026-03-19T00:00:00&end=2026-04-12T00:00:00&show=${owner.id}&type=replay,prerecorded`);
      assert.deepEqual(typed.body.schedules.map((s: { event: { id: string } }) => s.event.id), [replay.id]);
      const reader = await server.onair.programme.reader.showInstancesBetween(owner.id, Date.parse('2026-03-20T00:00:00Z'), Date.parse('2026-03-28T00:00:00Z'));
      assert.deepEqual(reader.map((r) => new Date(r.instance.startsAt).toISOString()),
        ['2026-03-20T19:00:00.000Z', '2026-03-21T10:00:00.000Z', '2026-03-27T19:00:00.000Z']);
      const summer = await server.onair.programme.reader.getInstance(live.id, '2026-04-10T20:00:00');
      assert.equal(new Date(summer!.instance.startsAt).toISOString(), '2026-04-10T18:00:00.000Z');
    });

    test('schedule: start and end are naive UTC or carry an offset; an instance still running is included', async () => {
      const owner = await show();
      const late = await event({ showId: owner.id, type: 'live', start: '2026-06-01T23:00:00', duration: 7200, timezone: 'Europe/Warsaw' });
      // 23:00 Warsaw (CEST) = 21:00Z; it runs until 23:00Z.
      const naive = await server.request('GET', `/schedule?start=2026-06-01T22:00:00&end=2026-06-01T22:30:00&show=${owner.id}`);
      const running = { start: '2026-06-01T23:00:00', end: '2026-06-02T01:00:00', startsAt: '2026-06-01T21:00:00.000Z', endsAt: '2026-06-01T23:00:00.000Z' };
      assert.deepEqual(naive.body.schedules[0].instances, [running]);
      const offset = await server.request('GET', `/schedule?start=${encodeURIComponent('2026-06-02T01:00:00+02:00')}&end=${encodeURIComponent('2026-06-02T01:30:00+02:00')}&show=${owner.id}`);
      assert.equal(offset.body.count, 0, 'it ended at 01:00 local');
      const before = await server.request('GET', `/schedule?start=2026-06-01T20:00:00&end=2026-06-01T21:00:00&show=${owner.id}`);
      assert.equal(before.body.count, 0, 'the window ends as it starts');
      const found = await server.request('GET', `/instances/${late.id}/2026-06-01T23:00:00`);
      assert.deepEqual(found.body, { event: found.body.event, instance: running });
      assert.equal(found.body.event.id, late.id);
    });

    test('schedule and instances: 400 for bad windows and filters, 404 for instances that do not exist, 400 for a start that is no date-time', async () => {
      const cases: Array<[string, RegExp]> = [
        ['/schedule?end=2026-01-02T00:00:00', /start/],
        ['/schedule?start=2026-01-02T00:00:00', /end/],
        ['/schedule?start=yesterday&end=2026-01-02T00:00:00', /start/],
        ['/schedule?start=2026-01-02T00:00:00&end=2026-01-01T00:00:00', /end: must be after start/],
        ['/schedule?start=2026-01-01T00:00:00&end=2026-01-02T00:00:00&type=rerun', /type/],
        ['/schedule?start=2026-01-01T00:00:00&end=2026-01-02T00:00:00&limit=501', /limit/],
        ['/schedule?start=2026-01-01T00:00:00&end=2026-01-02T00:00:00&show=x', /show/],
        ['/schedule.ics?type=rerun', /type/],
        ['/instances/nope/2026-01-01T00:00:00', /eventId/],
      ];
      for (const [path, field] of cases) {
        const answer = await server.request('GET', path);
        assert.equal(answer.status, 400, path);
        assert.match(answer.body.detail, field, `${path}: ${answer.body.detail}`);
      }
      const owner = await show();
      const single = await event({ showId: owner.id, type: 'live', start: '2026-06-01T23:00:00', duration: 60, timezone: 'UTC' });
      assert.equal((await server.request('GET', `/instances/${single.id}/2026-06-02T23:00:00`)).status, 404);
      assert.equal((await server.request('GET', `/instances/${single.id}/tomorrow`)).status, 400);
      assert.equal((await server.request('GET', `/instances/${UNKNOWN}/2026-06-01T23:00:00`)).status, 404);
      const minutely = await event({ showId: owner.id, type: 'live', start: '2026-06-01T00:00:00', duration: 1, timezone: 'UTC', recurrence: { rule: 'FREQ=SECONDLY' } });
      const wide = await server.request('GET', `/schedule?start=2026-06-01T00:00:00&end=2026-06-02T00:00:00&show=${owner.id}`);
      assert.equal(wide.status, 400);
      assert.match(wide.body.detail, new RegExp(`end: event ${minutely.id} has more than`));
    });

    test('schedule.ics: a calendar ical.js reads, one VEVENT per instance matching the schedule', async () => {
      const owner = await show('Nocny; "Jazz", live', 'Line one\nLine two, with; specials \\ and ąęśćż '.repeat(3));
      const live = await event(weekly(owner.id, { start: '2026-10-16T20:00:00', recurrence: { rule: 'FREQ=WEEKLY;BYDAY=FR;COUNT=4' } }));
      const query = `start=2026-10-01T00:00:00&end=2026-12-01T00:00:00&show=${owner.id}`;
      const response = await fetch(`${server.url}/schedule.ics?${query}`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/calendar/);
      const text = await response.text();
      for (const line of text.split('\r\n')) assert.ok(Buffer.byteLength(line) <= 75, `line too long: ${line}`);
      assert.ok(text.endsWith('\r\n'));
      const component = new ICAL.Component(ICAL.parse(text));
      const vevents = component.getAllSubcomponents('vevent');
      const schedule = (await server.request('GET', `/schedule?${query}`)).body;
      assert.equal(schedule.schedules.length, 1);
      const expected = schedule.schedules[0].instances as Array<{ start: string }>;
      assert.equal(vevents.length, 4);
      assert.equal(vevents.length, expected.length);
      const instants = await server.onair.programme.reader.showInstancesBetween(owner.id, Date.parse('2026-10-01T00:00:00Z'), Date.parse('2026-12-01T00:00:00Z'));
      vevents.forEach((vevent, i) => {
        const parsed = new ICAL.Event(vevent);
        assert.equal(parsed.summary, 'Nocny; "Jazz", live (live)');
        assert.equal(parsed.description, 'Line one\nLine two, with; specials \\ and ąęśćż '.repeat(3));
        assert.equal(parsed.startDate.toJSDate().getTime(), instants[i]!.instance.startsAt);
        assert.equal(parsed.endDate.toJSDate().getTime(), instants[i]!.instance.endsAt);
        assert.equal(parsed.uid, `${live.id}-${expected[i]!.start.replace(/[-:]/g, '')}@onair`);
      });
      // 20:00 Warsaw is 18:00Z before the change on 25 October, 19:00Z after it.
      assert.deepEqual(vevents.map((v) => new ICAL.Event(v).startDate.toJSDate().toISOString()),
        ['2026-10-16T18:00:00.000Z', '2026-10-23T18:00:00.000Z', '2026-10-30T19:00:00.000Z', '2026-11-06T19:00:00.000Z']);
      const again = await (await fetch(`${server.url}/schedule.ics?${query}`)).text();
      assert.deepEqual(again.match(/UID:.*/g), text.match(/UID:.*/g), 'UIDs are stable');
    });

    test('OpenAPI documents every programme route', async () => {
      const answer = await server.request('GET', '/openapi.json');
      for (const path of ['/shows', '/shows/{id}', '/events', '/events/{id}', '/schedule', '/schedule.ics', '/instances/{eventId}/{start}']) {
        assert.ok(answer.body.paths[path], path);
      }
    });
  });
}
