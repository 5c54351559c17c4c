import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { analyse, ffmpegChildren, ffprobe, freeUdpPort, listen, pushTone, startGate, type GateServer } from './harness.ts';

const sqlite = testDatabases[0];
const icecastInstalled = existsSync('/usr/bin/icecast2');
const rtmpInstalled = existsSync('/usr/lib/nginx/modules/ngx_rtmp_module.so') && existsSync('/usr/sbin/nginx');

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function daemon(command: string, args: string[], ready: () => Promise<boolean>): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' });
  await waitFor(ready, `${command} to start`, 10_000, 50);
  return child;
}

const answers = async (url: string) => {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
};

/** A real Icecast server on a free port of loopback; source password source-secret. */
async function startIcecast(dir: string): Promise<{ icecast: ChildProcess; icePort: number }> {
  chmodSync(dir, 0o777);
  const icePort = await freeTcpPort();
  writeFileSync(join(dir, 'icecast.xml'), `<icecast>
    <limits><sources>4</sources></limits>
    <authentication><source-password>source-secret</source-password><admin-password>admin-secret</admin-password></authentication>
    <listen-socket><port>${icePort}</port><bind-address>127.0.0.1</bind-address></listen-socket>
    <paths><logdir>${dir}</logdir><webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
    <logging><accesslog>-</accesslog><errorlog>-</errorlog><loglevel>1</loglevel></logging>
    <security><chroot>0</chroot><changeowner><user>nobody</user><group>nogroup</group></changeowner></security>
  </icecast>`);
  const icecast = await daemon('icecast2', ['-c', join(dir, 'icecast.xml')], () => answers(`http://127.0.0.1:${icePort}/status-json.xsl`));
  return { icecast, icePort };
}

/** The push outputs of the channel's latest session, as GET /channels/main/sessions shows them. */
async function sessionOutputs(server: GateServer) {
  const [session] = (await server.request('GET', '/channels/main/sessions')).body;
  return session.outputs as Array<{ type: string; url: string; state: string; error: string | null }>;
}

/** The failures of push outputs counted in /metrics, by URL. */
async function failuresCounted(server: GateServer): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^onair_gate_output_failures_total\{.*output="([^"]+)".*\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
}

describe('gate push outputs', () => {
  test('Ogg session: Icecast and SRT caller outputs get the stream; a dead output and RTMP (no Opus in FLV) do not end it', { skip: !icecastInstalled && 'icecast2 is not installed (npm run setup)' }, async () => {
    const dir = tempDir('onair-icecast-');
    const { icecast, icePort } = await startIcecast(dir);
    const srtPort = await freeUdpPort();
    const receiver = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', `srt://127.0.0.1:${srtPort}?mode=listener&listen_timeout=20000000`,
      '-c', 'copy', '-f', 'ogg', join(dir, 'srt.ogg')], { stdio: 'ignore' });
    const receiverExited = new Promise((resolve) => receiver.once('exit', resolve));
    const deadPort = await freeTcpPort();
    const server = await startGate({
      database: sqlite,
      env: {
        ONAIR_CHANNELS: JSON.stringify([{
          name: 'main', outputs: [
            { type: 'icecast', url: `icecast://source:source-secret@127.0.0.1:${deadPort}/dead.ogg` },
            { type: 'icecast', url: `icecast://source:source-secret@127.0.0.1:${icePort}/main.ogg` },
            { type: 'srt', url: `srt://127.0.0.1:${srtPort}?connect_timeout=2000` },
            { type: 'rtmp', url: 'rtmp://127.0.0.1:1/live/none' },
          ],
        }]),
      },
    });
    try {
      const event = server.programme.add('live', Date.now());
      const reserved = await server.request('POST', '/reserve', { event: event.id });
      const listener = listen(`${server.url}/listen`);
      const source = pushTone(reserved.body.url, { seconds: 4, frequency: 550 });
      await listener.firstByte;
      await waitFor(() => answers(`http://127.0.0.1:${icePort}/main.ogg`), 'the Icecast mount');
      const icecastListener = listen(`http://127.0.0.1:${icePort}/main.ogg`);
      assert.equal(await source.exited, 0, source.stderr());
      const [own, relayed] = await Promise.all([listener.done, icecastListener.done]);
      assert.ok((await analyse(own.bytes)).seconds > 3.5, 'the dead output did not end the broadcast');
      const heard = await analyse(relayed.bytes);
      assert.deepEqual(heard.codecs, ['opus']);
      assert.ok(Math.abs(heard.frequency - 550) < 10 && heard.seconds > 1, JSON.stringify(heard));
      await receiverExited;
      const srt = await ffprobe(join(dir, 'srt.ogg'));
      assert.deepEqual(srt.codecs, ['opus']);
      assert.ok(srt.duration > 3, `SRT caller output got ${srt.duration} s`);
      const [session] = (await server.request('GET', '/channels/main/sessions')).body;
      assert.equal(session.reason, 'source-left');
      // The dead output is kept with the session, logged, announced and counted; no credential anywhere.
      const dead = `icecast://127.0.0.1:${deadPort}/dead.ogg`;
      assert.deepEqual(session.outputs.map((o: { url: string; state: string }) => [o.url, o.state]), [
        [dead, 'failed'], [`icecast://127.0.0.1:${icePort}/main.ogg`, 'connected'], [`srt://127.0.0.1:${srtPort}?connect_timeout=2000`, 'connected'],
        ['rtmp://127.0.0.1:1/live/***', 'skipped'],
      ]);
      assert.match(session.outputs[0].error, /refused/i);
      const failed = server.events.filter((e) => e.type === 'stream-output-failed');
      assert.deepEqual(failed.map((e) => [(e.data as { index: number }).index, (e.data as { output: { url: string } }).output.url]), [[0, dead]]);
      assert.ok(server.logs.some((line) => line.includes('a push output failed') && line.includes(dead)));
      assert.deepEqual(await failuresCounted(server), { [dead]: 1 });
      for (const text of [JSON.stringify(server.events), server.logs.join('\n'), JSON.stringify(session)]) {
        assert.ok(!text.includes('source-secret') && !text.includes('/live/none'), 'no output credential');
      }
    } finally {
      receiver.kill('SIGKILL');
      await server.stop();
      icecast.kill('SIGKILL');
    }
    assert.deepEqual(ffmpegChildren(), []);
  });

  test('an output that drops on air (Icecast killed) is reported while the broadcast goes on', { skip: !icecastInstalled && 'icecast2 is not installed (npm run setup)' }, async () => {
    const dir = tempDir('onair-icecast-');
    const { icecast, icePort } = await startIcecast(dir);
    const mount = `icecast://127.0.0.1:${icePort}/main.ogg`;
    const server = await startGate({
      database: sqlite,
      env: { ONAIR_CHANNELS: JSON.stringify([{ name: 'main', outputs: [{ type: 'icecast', url: `icecast://source:source-secret@127.0.0.1:${icePort}/main.ogg` }] }]) },
    });
    try {
      const event = server.programme.add('live', Date.now());
      const reserved = await server.request('POST', '/reserve', { event: event.id });
      const source = pushTone(reserved.body.url, { seconds: 8, frequency: 550 });
      await waitFor(() => answers(`http://127.0.0.1:${icePort}/main.ogg`), 'the Icecast mount', 10_000, 20);
      const onAir = (await server.request('GET', '/check')).body;
      assert.deepEqual(onAir.stats.outputs, [{ type: 'icecast', url: mount, state: 'connected', error: null }]);
      icecast.kill('SIGKILL');
      const failed = await waitFor(() => server.events.find((e) => e.type === 'stream-output-failed'), 'the dropped output to be announced', 10_000, 20);
      assert.equal((failed.data as { output: { url: string } }).output.url, mount);
      const check = (await server.request('GET', '/check')).body;
      assert.equal(check.state, 'publishing', 'the broadcast goes on');
      assert.equal(check.stats.outputs[0].state, 'failed');
      assert.equal(await source.exited, 0, source.stderr());
      await waitFor(async () => (await server.request('GET', '/check')).body.state === 'idle', 'the session to end');
      const [output] = await sessionOutputs(server);
      assert.equal(output.state, 'failed');
      assert.ok(output.error, 'the error is kept');
      assert.equal((await server.request('GET', '/channels/main/sessions')).body[0].reason, 'source-left');
      assert.deepEqual(await failuresCounted(server), { [mount]: 1 });
      assert.ok(!server.logs.join('\n').includes('source-secret'));
    } finally {
      await server.stop();
      icecast.kill('SIGKILL');
    }
    assert.deepEqual(ffmpegChildren(), []);
  });

  test('MPEG-TS session (H.264 + AAC): HLS on onair and an RTMP push to nginx-rtmp', { skip: !rtmpInstalled && 'nginx with the RTMP module is not installed (npm run setup)' }, async () => {
    const dir = tempDir('onair-rtmp-');
    const rtmpPort = await freeTcpPort();
    writeFileSync(join(dir, 'nginx.conf'), `load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
      daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
      events {}
      rtmp { server { listen 127.0.0.1:${rtmpPort}; application live { live on; record all; record_path ${dir}; record_unique off; } } }`);
    const nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
    const server = await startGate({
      database: sqlite,
      env: { ONAIR_CHANNELS: JSON.stringify([{ name: 'main', outputs: [{ type: 'rtmp', url: `rtmp://127.0.0.1:${rtmpPort}/live/show` }] }]) },
    });
    try {
      const event = server.programme.add('live', Date.now());
      const reserved = await server.request('POST', '/reserve', { event: event.id, format: 'mpegts' });
      assert.equal(reserved.status, 201);
      const source = pushTone(reserved.body.url, { seconds: 6, format: 'mpegts' });
      const playlist = await waitFor(async () => {
        const answer = await fetch(`${server.url}/channels/main/hls/index.m3u8`);
        const text = answer.ok ? await answer.text() : '';
        return text.includes('.ts') ? text : undefined;
      }, 'an HLS playlist', 15_000, 100);
      const segment = playlist.split('\n').find((line) => line.endsWith('.ts'))!;
      const ts = await fetch(`${server.url}/hls/${segment}`);
      assert.equal(ts.status, 200);
      assert.equal(ts.headers.get('content-type'), 'video/mp2t');
      assert.equal(await source.exited, 0, source.stderr());
      await waitFor(async () => (await server.request('GET', '/check')).body.state === 'idle', 'the session to end');
      const flv = join(dir, 'show.flv');
      await waitFor(() => existsSync(flv), 'nginx to record the RTMP push');
      await waitFor(async () => (await ffprobe(flv).catch(() => ({ codecs: [] }))).codecs.length === 2, 'the FLV to be complete', 5000, 200);
      assert.deepEqual((await ffprobe(flv)).codecs.sort(), ['aac', 'h264']);
    } finally {
      await server.stop();
      nginx.kill('SIGKILL');
    }
    assert.deepEqual(ffmpegChildren(), []);
  });
});
