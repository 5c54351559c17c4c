import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { requestJson, tempDir, waitFor } from '../support/onair.ts';
import { ffmpegChildren, freeUdpPort, listen, pushTone, startGate } from './harness.ts';

const sqlite = testDatabases[0];

function running(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

describe('gate supervision', () => {
  test('after kill -9 of onair, the next start kills the left relay and frees the channel', async () => {
    const dataDir = tempDir('onair-gate-kill-');
    const port = await freeUdpPort();
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'serve.ts')], {
      env: { ...process.env, GATE_DATA_DIR: dataDir, GATE_PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = await once(child.stdout!.setEncoding('utf8'), 'data') as [string];
      const first = JSON.parse(line) as { url: string; event: string; start: string };
      const reserved = await requestJson(first.url, 'POST', '/reserve', { instance: { event: first.event, start: first.start } });
      assert.equal(reserved.status, 201);
      const pidFiles = readdirSync(join(dataDir, 'gate', 'pids'));
      assert.equal(pidFiles.length, 1);
      const relay = Number(readFileSync(join(dataDir, 'gate', 'pids', pidFiles[0]), 'utf8').split(' ')[0]);
      assert.ok(running(relay));
      child.kill('SIGKILL');
      await once(child, 'exit');
      assert.ok(running(relay), 'the relay outlived onair');

      const second = await startGate({ database: sqlite, dataDir, env: { ONAIR_SRT_PORT_START: String(port) } });
      try {
        await waitFor(() => !running(relay), 'the left relay to be killed', 5000);
        const check = await second.request('GET', '/check');
        assert.equal(check.body.state, 'idle');
        const [session] = (await second.request('GET', '/channels/main/sessions')).body;
        assert.equal(session.state, 'failed');
        assert.equal(session.reason, 'owner-lost');
        const event = second.programme.add('live', Date.now());
        assert.equal((await second.request('POST', '/reserve', { event: event.id })).status, 201, 'the port and slot are usable again');
      } finally {
        await second.stop(true);
      }
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

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

  test('static mode: a fixed stream key, reconnects accepted until deactivated', async () => {
    const key = 'static-stream-key-0123456789';
    const server = await startGate({ database: sqlite, env: { ONAIR_CHANNELS: JSON.stringify([{ name: 'main', key }]) } });
    try {
      await server.gate.activate('main');
      assert.equal((await server.request('POST', '/reserve', { event: server.programme.add('live', Date.now()).id })).status, 409);
      const url = `srt://127.0.0.1:${server.port}?passphrase=${key}`;
      for (let round = 0; round < 2; round++) {
        await waitFor(async () => (await server.request('GET', '/check')).body.state === 'reserved', 'the listener to wait');
        const source = pushTone(url, { seconds: 1 });
        assert.equal(await source.exited, 0, source.stderr());
      }
      await waitFor(() => server.events.filter((e) => e.type === 'stream-publishing').length === 2, 'two publishing runs');
      await server.gate.deactivate('main');
      assert.equal((await server.request('GET', '/check')).body.state, 'idle');
      const [session] = (await server.request('GET', '/channels/main/sessions')).body;
      assert.equal(session.reason, 'deactivated');
      assert.equal(session.mode, 'static');
    } finally {
      await server.stop();
    }
    assert.deepEqual(ffmpegChildren(), []);
  });
});
