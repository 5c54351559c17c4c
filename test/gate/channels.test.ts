import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { postgresDatabase, postgresAvailable, testDatabases } from '../support/databases.ts';
import { waitFor } from '../support/onair.ts';
import { ffmpegChildren, freeUdpPort, startGate, StandInProgramme, type GateServer } from './harness.ts';

const KEY = 'operator-key-0123456789';

/** Makes the outbox refuse every insert (a trigger), or accept them again. */
async function refuseEvents(server: GateServer, refuse: boolean): Promise<void> {
  const postgres = server.database.dialect === 'postgres';
  const statements = !refuse
    ? ['DROP TRIGGER refuse_events' + (postgres ? ' ON onair_events' : '')]
    : postgres
      ? ['CREATE OR REPLACE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION \'outbox refused\'; END $$',
        'CREATE TRIGGER refuse_events BEFORE INSERT ON onair_events FOR EACH STATEMENT EXECUTE FUNCTION refuse_events()']
      : ['CREATE TRIGGER refuse_events BEFORE INSERT ON onair_events BEGIN SELECT RAISE(ABORT, \'outbox refused\'); END'];
  for (const statement of statements) await sql.raw(statement).execute(server.database.kysely);
}
const withKey = { 'x-api-key': KEY };

for (const database of testDatabases) {
  describe(`channels made at run time on ${database.name}`, () => {
    let server: GateServer;
    before(async () => {
      server = await startGate({
        database,
        env: { ONAIR_API_KEY: KEY, ONAIR_GATE_RESERVATION_TTL: '1', ONAIR_CHANNELS: JSON.stringify([{ name: 'main' }, { name: 'studio', key: 'configured-key' }]) },
      });
    });
    after(() => server.stop());

    const create = (body: unknown) => server.request('POST', '/channels', body, withKey);
    const field = (answer: { body: { errors?: Array<{ field: string }> } }) => answer.body.errors?.map((e) => e.field);

    test('POST /channels takes the lowest free port of the range and a random key, shown only to API-key holders', async () => {
      const made = await create({ name: 'live-one' });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      // main and studio have the first two ports of the range.
      assert.equal(made.body.port, server.port + 2);
      assert.deepEqual([made.body.channel, made.body.configured, made.body.static, made.body.state], ['live-one', false, true, 'idle']);
      const { streamKey, url } = made.body.ingest;
      assert.ok(Buffer.from(streamKey, 'base64url').length >= 16, 'at least 128 random bits');
      assert.equal(url, `srt://127.0.0.1:${server.port + 2}?pbkeylen=32&linger=3`);

      const listed = (await server.request('GET', '/channels', undefined, withKey)).body as Array<{ channel: string; configured: boolean; port: number }>;
      assert.deepEqual(listed.map((c) => [c.channel, c.configured, c.port]),
        [['main', true, server.port], ['studio', true, server.port + 1], ['live-one', false, server.port + 2]]);
      const one = await server.request('GET', '/channels/live-one', undefined, withKey);
      assert.equal(one.status, 200);
      assert.equal((await server.request('GET', '/channels/live-one/check')).body.state, 'idle', 'every per-channel route serves it');
      assert.equal((await server.request('GET', '/channels/live-one/sessions', undefined, withKey)).status, 200);

      assert.equal((await server.request('GET', '/channels/live-one/ingest')).status, 401, 'the key is for API-key holders');
      assert.equal((await server.request('GET', '/channels/live-one/ingest', undefined, { 'x-api-key': 'x'.repeat(23) })).status, 401);
      const ingest = await server.request('GET', '/channels/live-one/ingest', undefined, withKey);
      assert.equal(ingest.status, 200);
      assert.equal(ingest.body.streamKey, streamKey);
      assert.equal((await server.request('GET', '/channels/studio/ingest', undefined, withKey)).body.streamKey, 'configured-key');
      assert.equal((await server.request('GET', '/channels/main/ingest', undefined, withKey)).status, 404, 'main has no key');
      assert.equal((await server.request('POST', '/channels', { name: 'nokey' })).status, 401, 'changes need the key');

      const created = server.events.find((e) => e.type === 'channel-created');
      assert.deepEqual(created?.data, { channel: 'live-one', name: 'live-one', port: server.port + 2, configured: false, static: true, fallback: 'none', appKey: 'defaultApp' });
      const open = JSON.stringify([listed, one.body, server.events, server.logs]);
      assert.ok(!open.includes(streamKey) && !open.includes('configured-key'), 'no key in a public answer, an event or a log line');
    });

    test('a taken port is a 409 naming port, a taken name a 409 naming name; bad values are 400s naming the field', async () => {
      const first = await create({ name: 'fixed', port: server.port + 10, key: 'my-own-key-123' });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(first.body.ingest.streamKey, 'my-own-key-123');
      const cases: Array<[unknown, number, string]> = [
        [{ name: 'other', port: server.port + 10 }, 409, 'body.port'],
        [{ name: 'other', port: server.port }, 409, 'body.port'],
        [{ name: 'fixed' }, 409, 'body.name'],
        [{ name: 'main' }, 409, 'body.name'],
        [{ name: 'other', port: server.port + 100 }, 400, 'body.port'],
        [{ name: 'other', port: 80 }, 400, 'body.port'],
        [{ name: 'Not-Valid' }, 400, 'body.name'],
        [{ name: 'other', key: 'short' }, 400, 'body.key'],
        [{ name: 'other', key: 'with space in it' }, 400, 'body.key'],
        [{ name: 'other', outputs: [] }, 400, 'body.outputs'],
        [{}, 400, 'body.name'],
      ];
      for (const [body, status, name] of cases) {
        const answer = await create(body);
        assert.equal(answer.status, status, `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
        assert.ok(field(answer)?.includes(name), `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
      }
      assert.equal((await server.request('GET', '/channels/other', undefined, withKey)).status, 404, 'nothing was made');
    });

    test('PATCH changes port and key; configured channels and channels in use are refused; DELETE removes', async () => {
      await create({ name: 'movable' });
      const moved = await server.request('PATCH', '/channels/movable', { port: server.port + 20, key: 'rotated-key-42' }, withKey);
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.deepEqual([moved.body.port, moved.body.ingest.streamKey], [server.port + 20, 'rotated-key-42']);
      assert.equal((await server.request('GET', '/channels/movable', undefined, withKey)).body.port, server.port + 20);
      const taken = await server.request('PATCH', '/channels/movable', { port: server.port + 1 }, withKey);
      assert.deepEqual([taken.status, field(taken)], [409, ['body.port']]);
      await create({ name: 'clash' });
      const onto = await server.request('PATCH', '/channels/clash', { port: server.port + 20 }, withKey);
      assert.deepEqual([onto.status, field(onto)], [409, ['body.port']], 'the unique index refuses it');
      assert.equal((await server.request('PATCH', '/channels/main', { port: server.port + 30 }, withKey)).status, 409);
      assert.equal((await server.request('DELETE', '/channels/main', undefined, withKey)).status, 409);
      assert.equal((await server.request('PATCH', '/channels/nope', { port: server.port + 30 }, withKey)).status, 404);
      assert.equal((await server.request('PATCH', '/channels/movable', {}, withKey)).status, 400);

      const event = server.programme.add('live', Date.now());
      const reserved = await server.request('POST', '/channels/movable/reserve', { event: event.id }, withKey);
      assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
      assert.equal(reserved.body.port, server.port + 20);
      assert.equal((await server.request('PATCH', '/channels/movable', { port: server.port + 30 }, withKey)).status, 409, 'not while reserved');
      assert.equal((await server.request('DELETE', '/channels/movable', undefined, withKey)).status, 409, 'not while reserved');
      await waitFor(async () => (await server.request('GET', '/channels/movable/check')).body.state === 'idle', 'the reservation to expire');

      assert.equal((await server.request('DELETE', '/channels/movable', undefined, withKey)).status, 204);
      assert.equal((await server.request('GET', '/channels/movable', undefined, withKey)).status, 404);
      assert.equal((await server.request('GET', '/channels/movable/sse', undefined, withKey)).status, 404);
      assert.equal((await server.request('DELETE', '/channels/movable', undefined, withKey)).status, 404);
      assert.equal((await create({ name: 'after', port: server.port + 20 })).status, 201, 'its port is free again');
      assert.deepEqual(server.events.filter((e) => (e.data as { channel?: string }).channel === 'movable' && e.type.startsWith('channel-')).map((e) => e.type),
        ['channel-created', 'channel-changed', 'channel-removed']);
      await server.request('DELETE', '/channels/clash', undefined, withKey);
    });

    test('a run-time channel names its fallback as ONAIR_CHANNELS does (the global one unless given), shown in answers and events; bad ones are 400s naming body.fallback', async () => {
      const event = crypto.randomUUID();
      const prerecording = { prerecording: { event, start: '2026-12-04T20:00:00' } };
      const made = await create({ name: 'tuned', fallback: prerecording });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.deepEqual(made.body.fallback, prerecording, 'accepted though the archive has no such file');
      assert.equal((await create({ name: 'plain' })).body.fallback, 'none', 'ONAIR_GATE_FALLBACK (the harness has none)');
      assert.deepEqual((await server.request('GET', '/channels/tuned', undefined, withKey)).body.fallback, prerecording);
      const listed = (await server.request('GET', '/channels', undefined, withKey)).body as Array<{ channel: string; fallback: unknown }>;
      assert.deepEqual(listed.filter((c) => ['main', 'tuned', 'plain'].includes(c.channel)).map((c) => [c.channel, c.fallback]),
        [['main', 'none'], ['plain', 'none'], ['tuned', prerecording]]);

      const recording = { recording: { event, start: '2026-12-04T21:00:00' } };
      for (const [fallback, shown] of [['silence', 'silence'], [recording, recording], [null, 'none']] as const) {
        const changed = await server.request('PATCH', '/channels/tuned', { fallback }, withKey);
        assert.equal(changed.status, 200, JSON.stringify(changed.body));
        assert.deepEqual(changed.body.fallback, shown, `${JSON.stringify(fallback)} is shown as ${JSON.stringify(shown)}`);
        assert.deepEqual((await server.request('GET', '/channels/tuned', undefined, withKey)).body.fallback, shown);
      }
      const events = server.events.filter((e) => (e.data as { channel?: string }).channel === 'tuned').map((e) => [e.type, (e.data as { fallback: unknown }).fallback]);
      assert.deepEqual(events, [['channel-created', prerecording], ['channel-changed', 'silence'], ['channel-changed', recording], ['channel-changed', 'none']]);

      const bad: unknown[] = [
        'loud', 42, {}, [], { prerecording: { event: 'not-a-uuid', start: '2026-12-04T20:00:00' } },
        { recording: { event, start: '2026-12-04' } }, { recording: { event } }, { archive: { event, start: '2026-12-04T20:00:00' } },
        { ...prerecording, ...recording }, { prerecording: { event, start: '2026-12-04T20:00:00', extra: 1 } },
      ];
      for (const fallback of bad) {
        for (const answer of [await create({ name: 'wrong', fallback }), await server.request('PATCH', '/channels/plain', { fallback }, withKey)]) {
          assert.equal(answer.status, 400, `${JSON.stringify(fallback)}: ${JSON.stringify(answer.body)}`);
          assert.deepEqual(field(answer), ['body.fallback'], `${JSON.stringify(fallback)}: ${JSON.stringify(answer.body)}`);
          assert.match(answer.body.errors[0].message, /^must be "silence", "none", \{"recording": .+, or null for ONAIR_GATE_FALLBACK's$/, 'one message for the whole choice');
        }
      }
      // The shape of a local date-time, but no real one: the same field.
      for (const start of ['2026-13-45T99:59:59', '2026-02-30T20:00:00']) {
        const answer = await create({ name: 'wrong', fallback: { recording: { event, start } } });
        assert.deepEqual([answer.status, field(answer)], [400, ['body.fallback']], start);
      }
      const short = await create({ name: 'short', fallback: { recording: { event, start: '2026-12-04T21:00' } } });
      assert.deepEqual(short.body.fallback, recording, 'seconds may be left out, as everywhere');
      await server.request('DELETE', '/channels/short', undefined, withKey);
      assert.equal((await server.request('GET', '/channels/wrong', undefined, withKey)).status, 404, 'nothing was made');
      assert.equal((await server.request('GET', '/channels/plain', undefined, withKey)).body.fallback, 'none', 'nothing changed');
      for (const name of ['tuned', 'plain']) await server.request('DELETE', `/channels/${name}`, undefined, withKey);
    });

    test('a port something else on this machine is bound to is not handed out', async () => {
      const ports = new Set((await server.request('GET', '/channels', undefined, withKey)).body.map((c: { port: number }) => c.port));
      let next = server.port;
      while (ports.has(next)) next++;
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => socket.once('error', reject).bind(next, '0.0.0.0', resolve));
      try {
        const made = await create({ name: 'beside' });
        assert.equal(made.status, 201);
        assert.ok(made.body.port > next, `${made.body.port} after the bound ${next}`);
      } finally {
        socket.close();
      }
    });

    test('channels survive a restart with their ports and keys; the next one takes another port', async () => {
      const url = await database.create();
      const first = await startGate({ database, databaseUrl: url, env: { ONAIR_API_KEY: KEY } });
      const made = await first.request('POST', '/channels', { name: 'kept', fallback: 'silence' }, withKey);
      assert.equal(made.status, 201);
      await first.stop(true);
      const again = await startGate({ database, databaseUrl: url, dataDir: first.dataDir, env: { ONAIR_API_KEY: KEY, ONAIR_SRT_PORT_START: String(first.port) } });
      try {
        const kept = await again.request('GET', '/channels/kept', undefined, withKey);
        assert.deepEqual([kept.status, kept.body.port, kept.body.configured, kept.body.fallback], [200, made.body.port, false, 'silence']);
        assert.equal((await again.request('GET', '/channels/kept/ingest', undefined, withKey)).body.streamKey, made.body.ingest.streamKey);
        const next = await again.request('POST', '/channels', { name: 'next' }, withKey);
        assert.equal(next.status, 201);
        assert.notEqual(next.body.port, made.body.port);
        assert.equal((await again.request('POST', '/channels', { name: 'dup', port: made.body.port }, withKey)).status, 409);
      } finally {
        await again.stop();
        await database.drop(url);
      }
    });

    test('a channel of ONAIR_CHANNELS given the name of one made at run time hides it, with a warning at start', async () => {
      const url = await database.create();
      const first = await startGate({ database, databaseUrl: url });
      assert.equal((await first.request('POST', '/channels', { name: 'later' })).status, 201);
      await first.stop(true);
      const channels = JSON.stringify([{ name: 'main' }, { name: 'later' }]);
      const again = await startGate({ database, databaseUrl: url, dataDir: first.dataDir, env: { ONAIR_CHANNELS: channels, ONAIR_SRT_PORT_START: String(first.port) } });
      try {
        const listed = (await again.request('GET', '/channels', undefined, withKey)).body as Array<{ channel: string; configured: boolean }>;
        assert.deepEqual(listed.map((c) => [c.channel, c.configured]), [['main', true], ['later', true]]);
        assert.ok(again.logs.some((line) => line.includes('"channels":["later"]') && line.includes('ONAIR_CHANNELS now has')), 'warned');
      } finally {
        await again.stop();
        await database.drop(url);
      }
    });

    test('when every port of the range is taken, a new channel is a 409 naming port', async () => {
      const start = await freeUdpPort();
      const small = await startGate({ database, env: { ONAIR_API_KEY: KEY, ONAIR_SRT_PORT_START: String(start), ONAIR_SRT_PORT_END: String(start + 2) } });
      try {
        const answers = [];
        for (const name of ['a', 'b', 'c']) answers.push(await small.request('POST', '/channels', { name }, withKey));
        assert.deepEqual(answers.map((a) => a.status), [201, 201, 409]);
        assert.equal(answers[2]!.body.errors[0].field, 'body.port');
      } finally {
        await small.stop();
      }
    });

    test('a channel\'s change and its event are one transaction: when the outbox refuses the event, nothing changes', async () => {
      assert.equal((await create({ name: 'kept' })).status, 201);
      await refuseEvents(server, true);
      try {
        assert.ok((await create({ name: 'not-made' })).status >= 500);
        assert.ok((await server.request('PATCH', '/channels/kept', { key: 'another-key-0123' }, withKey)).status >= 500);
        assert.ok((await server.request('DELETE', '/channels/kept', undefined, withKey)).status >= 500);
        // A reservation whose relay ran but could not be recorded: the relay does not stay behind, listening.
        const event = server.programme.add('live', Date.now() - 60_000);
        assert.equal((await server.request('POST', '/reserve', { instance: { event: event.id, start: event.start } }, withKey)).status, 503);
        assert.deepEqual(ffmpegChildren(), []);
      } finally {
        await refuseEvents(server, false);
      }
      assert.equal((await server.request('GET', '/channels/not-made', undefined, withKey)).status, 404);
      const kept = await server.request('GET', '/channels/kept/ingest', undefined, withKey);
      assert.equal(kept.status, 200);
      assert.notEqual(kept.body.streamKey, 'another-key-0123');
    });
  });
}

describe('channels made at run time by two instances sharing PostgreSQL', { skip: !postgresAvailable }, () => {
  test('20 concurrent creations over two instances: 20 channels on 20 ports, seen by both', async () => {
    const url = await postgresDatabase.create();
    const programme = new StandInProgramme();
    const first = await startGate({ database: postgresDatabase, databaseUrl: url, programme });
    const second = await startGate({ database: postgresDatabase, databaseUrl: url, programme, env: { ONAIR_SRT_PORT_START: String(first.port) } });
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? first : second).request('POST', '/channels', { name: `c${i}` })));
      assert.deepEqual(answers.map((a) => a.status), Array(20).fill(201), JSON.stringify(answers.map((a) => a.body)));
      const ports = answers.map((a) => a.body.port as number);
      assert.equal(new Set(ports).size, 20, `ports ${ports.join()}`);
      for (const server of [first, second]) {
        const listed = (await server.request('GET', '/channels', undefined, withKey)).body as Array<{ channel: string; port: number }>;
        assert.equal(listed.length, 21);
        assert.equal(new Set(listed.map((c) => c.port)).size, 21, 'main too has a port of its own');
      }
      const same = await Promise.all([first, second].map((server) => server.request('POST', '/channels', { name: 'same', port: first.port + 50 })));
      assert.deepEqual(same.map((a) => a.status).sort(), [201, 409]);
    } finally {
      await first.stop();
      await second.stop();
      await postgresDatabase.drop(url);
    }
  });
});
