import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { waitFor } from '../support/onair.ts';
import { ffmpegChildren, listen, pushTone, startGate } from './harness.ts';

const sqlite = testDatabases[0];

describe('gate supervision', () => {
  test('stopping onair ends live sessions (reason stopped) and leaves no ffmpeg', async () => {
    const server = await startGate({ database: sqlite });
    const event = server.programme.add('live', Date.now());
    const answer = await server.request('POST', '/reserve', { event: event.id });
    const listener = listen(`${server.url}/listen`);
    const source = pushTone(answer.body.url, { seconds: 30 });
    await listener.firstByte;
    await server.stop(true);
    await listener.done;
    assert.deepEqual(ffmpegChildren().filter((pid) => pid !== source.child.pid), []);
    source.child.kill('SIGKILL');
    await source.exited;
    const ended = server.events.find((e) => e.type === 'stream-ended');
    assert.equal((ended?.data as { reason: string }).reason, 'stopped');
    rmSync(server.dataDir, { recursive: true, force: true });
  });

  test('static mode: a fixed stream key (any printable characters), reconnects accepted until deactivated', async () => {
    const key = "static&key%3A:#?='\"|[x]\\0123";
    const server = await startGate({ database: sqlite, env: { ONAIR_CHANNELS: JSON.stringify([{ name: 'main', key }]) } });
    try {
      await server.gate.activate('main');
      assert.equal((await server.request('POST', '/reserve', { event: server.programme.add('live', Date.now()).id })).status, 409);
      const url = `srt://127.0.0.1:${server.port}`;
      for (let round = 0; round < 2; round++) {
        // Waiting for its encoder: first reserved, then disconnected (it may come back).
        await waitFor(async () => (await server.request('GET', '/check')).body.state === (round === 0 ? 'reserved' : 'disconnected'), 'the listener to wait');
        const source = pushTone(url, { seconds: 1, passphrase: key });
        assert.equal(await source.exited, 0, source.stderr());
      }
      await waitFor(() => server.events.filter((e) => e.type === 'stream-publishing').length === 2, 'two publishing runs');
      await server.gate.deactivate('main');
      assert.equal((await server.request('GET', '/check')).body.state, 'idle');
      const [session] = (await server.request('GET', '/channels/main/sessions')).body;
      assert.equal(session.reason, 'deactivated');
      assert.equal(session.mode, 'static');
      assert.ok(!JSON.stringify([server.events, session]).includes(key), 'the stream key is in no event and no session');
    } finally {
      await server.stop();
    }
    assert.deepEqual(ffmpegChildren(), []);
  });
});
