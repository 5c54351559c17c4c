import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { waitFor } from '../support/onair.ts';
import { ffmpegChildren, startGate, StandInProgramme, type GateServer } from './harness.ts';

const HOUR = 3_600_000;

for (const database of testDatabases) {
  describe(`gate API on ${database.name}`, () => {
    let server: GateServer;
    before(async () => {
      server = await startGate({
        database,
        env: { ONAIR_GATE_RESERVATION_TTL: '1', ONAIR_CHANNELS: JSON.stringify([{ name: 'main' }, { name: 'second' }]) },
      });
    });
    after(async () => {
      await server.stop();
      assert.deepEqual(ffmpegChildren(), []);
    });

    const live = () => server.programme.add('live', Date.now() - 10 * 60_000);
    const idle = (channel = 'main') => waitFor(async () =>
      (await server.request('GET', `/channels/${channel}/check`)).body.state === 'idle', `${channel} to be free`);

    test('GET /check on an idle channel: instance null, checkedAt, state idle', async () => {
      const answer = await server.request('GET', '/check');
      assert.equal(answer.status, 200);
      assert.equal(answer.body.instance, null);
      assert.ok(Math.abs(Date.parse(answer.body.checkedAt) - Date.now()) < 5000);
      assert.equal(answer.body.channel, 'main');
      assert.equal(answer.body.state, 'idle');
      assert.equal((await server.request('GET', '/channels/nope/check')).status, 404);
      assert.equal((await server.request('GET', '/listen')).status, 404);
    });

    test('POST /reserve: 201 with credentials, port and URL; a second reserve gets 409; an unused reservation expires', async () => {
      const event = live();
      const instance = { event: event.id, start: event.start };
      const answer = await server.request('POST', '/reserve', { instance, metadata: { title: 'Morning' } });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      const { token, expiresAt } = answer.body.credentials;
      assert.ok(Buffer.from(token, 'base64url').length >= 16);
      assert.ok(Date.parse(expiresAt) - Date.now() <= 1000);
      assert.equal(answer.body.port, server.port);
      assert.ok(answer.body.url.includes(`passphrase=${token}`));
      const check = await server.request('GET', '/check');
      assert.deepEqual(check.body.instance, instance);
      assert.equal(check.body.state, 'reserved');
      assert.equal(check.body.expiresAt, expiresAt);
      const again = await server.request('POST', '/reserve', { instance });
      assert.equal(again.status, 409);
      // Another channel is independent.
      const other = await server.request('POST', '/channels/second/reserve', { instance });
      assert.equal(other.status, 201);
      assert.equal(other.body.port, server.port + 1);
      await idle('main');
      await idle('second');
      const [session] = (await server.request('GET', '/channels/main/sessions')).body;
      assert.equal(session.state, 'ended');
      assert.equal(session.reason, 'expired');
      assert.deepEqual(session.metadata, { title: 'Morning' });
      const changes = server.events.filter((e) => e.type === 'availability-changed' && (e.data as { channel: string }).channel === 'main');
      assert.deepEqual(changes.slice(-2).map((e) => (e.data as { availability: { instance: unknown } }).availability.instance), [instance, null]);
      assert.ok(JSON.stringify(server.events).includes(token) === false, 'the token is never published');
      assert.equal((await server.request('POST', '/reserve', { instance })).status, 201, 'the slot is free again');
      await idle();
    });

    test('POST /reserve with the older {event} form takes the instance nearest to now within an hour', async () => {
      const event = live();
      const answer = await server.request('POST', '/reserve', { event: event.id });
      assert.equal(answer.status, 201);
      assert.deepEqual((await server.request('GET', '/check')).body.instance, { event: event.id, start: event.start });
      await idle();
      const far = server.programme.add('live', Date.now() + 5 * HOUR);
      const tooFar = await server.request('POST', '/reserve', { event: far.id });
      assert.equal(tooFar.status, 400);
      assert.equal(tooFar.body.errors[0].field, 'body.event');
      assert.match(tooFar.body.detail, /the event form reserves the event's instance nearest to now, one on air within an hour before or after now \(.+ to .+\), and event .+ has none then: name the instance instead/);
    });

    test('POST /reserve: 400 naming the field for unknown events and instances, and record on a non-live event', async () => {
      const event = live();
      const prerecorded = server.programme.add('prerecorded', Date.now());
      const cases: Array<[unknown, string]> = [
        [{}, 'body.instance'],
        [{ event: 'nope' }, 'body.event'],
        [{ instance: { event: 'nope', start: event.start } }, 'body.instance.event'],
        [{ instance: { event: event.id, start: '2001-01-01T00:00:00' } }, 'body.instance.start'],
        [{ instance: { event: event.id, start: event.start }, event: event.id }, 'body.event'],
        [{ instance: { event: prerecorded.id, start: prerecorded.start }, record: true }, 'body.record'],
        [{ event: event.id, format: 'mp3' }, 'body.format'],
        [{ event: event.id, record: 'yes' }, 'body.record'],
        [{ event: event.id, metadata: { 'bad key': 'x' } }, 'body.metadata'],
        [{ event: event.id, metadata: { title: 'a\u0000b' } }, 'body.metadata.title'],
        [{ event: event.id, metadata: { title: 'two\nlines' } }, 'body.metadata.title'],
        [{ event: `${event.id}\u0000` }, 'body.event'],
        [{ event: event.id, color: 'red' }, 'body.color'],
      ];
      for (const [body, field] of cases) {
        const answer = await server.request('POST', '/reserve', body);
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.ok(answer.body.errors.some((e: { field: string }) => e.field.startsWith(field)), `${JSON.stringify(body)}: ${answer.body.detail}`);
      }
      assert.equal((await server.request('GET', '/check')).body.state, 'idle');
    });

    test('50 concurrent reserves: exactly one 201, the rest 409', async () => {
      const event = live();
      const answers = await Promise.all(Array.from({ length: 50 }, () =>
        server.request('POST', '/reserve', { instance: { event: event.id, start: event.start } })));
      const statuses = answers.map((a) => a.status).sort();
      assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join());
      assert.equal(statuses.filter((s) => s === 409).length, 49);
      await idle();
    });

    test('/channels/{channel}/sse carries only that channel\'s availability and stream events', async () => {
      const controller = new AbortController();
      const response = await fetch(`${server.url}/channels/second/sse`, { signal: controller.signal });
      const reader = response.body!.getReader();
      let text = '';
      const event = live();
      await server.request('POST', '/reserve', { instance: { event: event.id, start: event.start } });
      await server.request('POST', '/channels/second/reserve', { instance: { event: event.id, start: event.start } });
      while (!text.includes('event: stream-reserved')) text += new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      assert.match(text, /event: availability-changed\ndata: .*"channel":"second"/);
      assert.doesNotMatch(text, /"channel":"main"/);
      await idle('main');
      await idle('second');
    });
  });
}

const postgres = testDatabases.find((d) => d.name === 'postgres');
describe('gate across two instances sharing PostgreSQL', { skip: !postgres }, () => {
  test('50 concurrent reserves spread over two instances: exactly one 201', async () => {
    const url = await postgres!.create();
    const programme = new StandInProgramme();
    const first = await startGate({ database: postgres!, databaseUrl: url, programme, env: { ONAIR_GATE_RESERVATION_TTL: '1' } });
    const second = await startGate({ database: postgres!, databaseUrl: url, programme, env: { ONAIR_GATE_RESERVATION_TTL: '1', ONAIR_SRT_PORT_START: String(first.port) } });
    try {
      const event = programme.add('live', Date.now());
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
        (i % 2 ? first : second).request('POST', '/reserve', { instance: { event: event.id, start: event.start } })));
      assert.equal(answers.filter((a) => a.status === 201).length, 1, answers.map((a) => a.status).join());
      assert.equal(answers.filter((a) => a.status === 409).length, 49);
      const seen = await second.request('GET', '/check');
      assert.notEqual(seen.body.state, 'idle', 'each instance sees the reservation');
      await waitFor(async () => (await first.request('GET', '/check')).body.state === 'idle', 'the reservation to expire');
    } finally {
      await first.stop();
      await second.stop();
      await postgres!.drop(url);
    }
  });
});
