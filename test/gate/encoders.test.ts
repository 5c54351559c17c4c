import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { waitFor } from '../support/onair.ts';
import { analyse, listen, startGate, type GateServer } from './harness.ts';

const EXAMPLE = new URL('../../examples/liquidsoap.liq', import.meta.url).pathname;

function installed(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line holds `text` (the passphrase: what the example's ffmpeg carries). */
function processesWith(text: string): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
    } catch {
      return false;
    }
  }).map(Number);
}

const sqlite = testDatabases.find((database) => database.name === 'sqlite')!;
const skip = !installed('liquidsoap') && 'liquidsoap is not installed (apt-get install --no-install-recommends liquidsoap): the README\'s Liquidsoap example is not checked';

describe('encoders: the README\'s Liquidsoap example goes on air', { skip }, () => {
  let server: GateServer;
  before(async () => {
    server = await startGate({ database: sqlite });
  });
  after(() => server.stop());

  test('examples/liquidsoap.liq, as written, reaches listeners as Ogg/Opus, and stopping it ends the session', async () => {
    const event = server.programme.add('live', Date.now() - 60_000);
    const reserved = await server.request('POST', '/reserve', { instance: { event: event.id, start: event.start } });
    assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
    const passphrase: string = reserved.body.credentials.token;
    // Liquidsoap refuses to run as root unless told; the example itself is unchanged.
    const root = process.getuid?.() === 0 ? ['settings.init.allow_root.set(true)'] : [];
    const liquidsoap = spawn('liquidsoap', [...root, EXAMPLE], {
      env: { ...process.env, ONAIR_SRT: `srt://127.0.0.1:${reserved.body.port}?linger=3`, ONAIR_PASSPHRASE: passphrase },
      stdio: ['ignore', 'ignore', 'pipe'], detached: true,
    });
    const exited = once(liquidsoap, 'exit');
    let stderr = '';
    liquidsoap.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    try {
      await waitFor(async () => (await server.request('GET', '/check')).body.state === 'publishing', 'Liquidsoap to go on air', 20_000);
      const listener = listen(`${server.url}/listen`);
      await listener.firstByte;
      await waitFor(async () => (await server.request('GET', '/check')).body.stats.duration > 3, 'three seconds on air', 10_000);
      listener.close();
      const heard = await analyse((await listener.done).bytes);
      assert.deepEqual(heard.codecs, ['opus']);
      assert.ok(heard.seconds > 1, `heard ${heard.seconds} s`);
      assert.ok(Math.abs(heard.frequency - 440) < 10, `heard ${heard.frequency} Hz`);
    } catch (error) {
      // Off air, Liquidsoap may not heed SIGTERM while it retries its output: its whole group goes.
      process.kill(-liquidsoap.pid!, 'SIGKILL');
      throw error;
    }
    liquidsoap.kill('SIGTERM');
    await exited;
    await waitFor(async () => (await server.request('GET', '/check')).body.state === 'idle', 'the channel to be free', 15_000);
    const [session] = (await server.request('GET', '/channels/main/sessions')).body;
    assert.equal(session.reason, 'source-left', stderr);
    assert.equal(session.codec, 'opus');
    assert.deepEqual(processesWith(passphrase), [], 'the ffmpeg Liquidsoap started is gone with it');
  });
});
