import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { spawnOnair, type OnairProcess } from '../support/process.ts';
import { freeUdpPort, pushTone } from './harness.ts';

/** Whether the process runs (a zombie does not). */
function running(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** The pid of the one relay ffmpeg, from the gate's pid files; checked to be an ffmpeg. */
function relayPid(dataDir: string): number {
  const dir = join(dataDir, 'gate', 'pids');
  const files = readdirSync(dir);
  assert.equal(files.length, 1, `one relay pid file: ${files.join()}`);
  const pid = Number(readFileSync(join(dir, files[0]), 'utf8').split(' ')[0]);
  assert.match(readFileSync(`/proc/${pid}/stat`, 'utf8'), /\(ffmpeg\)/);
  return pid;
}

const state = async (server: OnairProcess) => (await server.request('GET', '/check')).body.state as string;

for (const database of testDatabases) {
  describe(`gate after kill -9 of onair serve on ${database.name}`, () => {
    test('a live session and a waiting reservation: the restart kills the left relay, records the session failed and frees the channel', async () => {
      const dataDir = tempDir('onair-gate-crash-');
      const databaseUrl = await database.create();
      // Debug logging, so that the check below covers every line onair writes.
      const env = {
        ONAIR_DATA_DIR: dataDir, ONAIR_SRT_PORT_START: String(await freeUdpPort()), ONAIR_LOG_LEVEL: 'debug',
        ...(databaseUrl ? { ONAIR_DATABASE_URL: databaseUrl } : {}),
      };
      const tokens: string[] = [];
      const outputs: string[] = [];
      let server = await spawnOnair(env);
      const source = { current: undefined as ReturnType<typeof pushTone> | undefined };
      try {
        const show = await server.request('POST', '/shows', { title: 'Crash test' });
        const start = new Date(Date.now() - 5 * 60_000).toISOString().slice(0, 19);
        const event = await server.request('POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
        assert.equal(event.status, 201, JSON.stringify(event.body));
        const reserve = async () => {
          const answer = await server.request('POST', '/reserve', { event: event.body.id, record: true });
          assert.equal(answer.status, 201, JSON.stringify(answer.body));
          tokens.push(answer.body.credentials.token);
          return answer.body as { url: string };
        };

        // 1. Live: a source pushing, onair killed.
        source.current = pushTone((await reserve()).url, { seconds: 60 });
        await waitFor(async () => (await state(server)) === 'publishing', 'the source to be on air', 15_000);
        const staging = join(dataDir, 'archive', 'staging', readFileSync(join(dataDir, 'node-id'), 'utf8').trim());
        await waitFor(() => readdirSync(staging).some((f) => statSync(join(staging, f)).size > 8000), 'a second of recording on disk', 15_000);
        const liveRelay = relayPid(dataDir);
        await server.crash();
        outputs.push(server.output());
        server = await spawnOnair(env);
        await waitFor(() => !running(liveRelay), 'the relay of the live session to be gone', 10_000);
        assert.equal(await state(server), 'idle');
        const [live] = (await server.request('GET', '/channels/main/sessions')).body;
        assert.equal(live.state, 'failed', JSON.stringify(live));
        assert.equal(live.reason, 'owner-lost');
        assert.ok(live.endedAt, 'the session has an end');
        const rescued = await server.request('GET', `/recordings/${event.body.id}`);
        assert.equal(rescued.body.count, 1, `what was recorded up to the crash is archived: ${JSON.stringify(rescued.body)}`);
        assert.ok(rescued.body.recordings[0].duration > 0.5, JSON.stringify(rescued.body.recordings[0]));
        assert.deepEqual(readdirSync(staging), [], 'nothing left in staging');
        source.current.child.kill('SIGKILL');
        await source.current.exited;

        // 2. Reserved, nobody connected yet: this relay outlives onair until the restart kills it.
        await reserve();
        const waitingRelay = relayPid(dataDir);
        await server.crash();
        outputs.push(server.output());
        assert.ok(running(waitingRelay), 'the waiting relay outlived onair');
        server = await spawnOnair(env);
        await waitFor(() => !running(waitingRelay), 'the left relay to be killed', 10_000);
        assert.equal(await state(server), 'idle');
        const [waiting] = (await server.request('GET', '/channels/main/sessions')).body;
        assert.deepEqual([waiting.state, waiting.reason], ['failed', 'owner-lost']);

        // 3. The port and the slot are usable again: a new source goes on air.
        source.current = pushTone((await reserve()).url, { seconds: 2 });
        assert.equal(await source.current.exited, 0, source.current.stderr());
        await waitFor(async () => (await state(server)) === 'idle', 'the session to end', 15_000);
        const [again] = (await server.request('GET', '/channels/main/sessions')).body;
        assert.deepEqual([again.state, again.reason], ['ended', 'source-left']);
        assert.equal(await server.stop(), 0);
        outputs.push(server.output());

        const logs = outputs.join('\n');
        assert.match(logs, /"area":"gate"/, 'the gate logged');
        for (const token of tokens) assert.ok(!logs.includes(token), 'no token in the logs');
      } finally {
        source.current?.child.kill('SIGKILL');
        server.child.kill('SIGKILL');
        await database.drop(databaseUrl);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
