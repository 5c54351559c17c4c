import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { pretty } from '../../src/core/logger.ts';
import { pushTone } from '../gate/harness.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { freePort, ONAIR, reserveNow, spawnOnair } from '../support/process.ts';

const line = (fields: Record<string, unknown>) => JSON.stringify({ level: 30, time: Date.UTC(2026, 11, 6, 4, 5, 6, 789), pid: 1, hostname: 'h', ...fields });

describe('readable logs', () => {
  test('a line as a person reads it: time, level, message, then the fields as key=value', () => {
    assert.equal(pretty(line({ msg: 'session over', channel: 'main', reason: 'source left', exitCode: 0, outputs: ['a', 'b'] })),
      '04:05:06.789 INFO  session over channel=main reason="source left" exitCode=0 outputs=["a","b"]\n');
    assert.equal(pretty(line({ level: 50, msg: 'failed', err: { message: 'boom', stack: 'Error: boom\n    at here' } })),
      '04:05:06.789 ERROR failed\n    Error: boom\n        at here\n');
  });

  test('on a terminal onair logs readable lines, secrets still redacted; elsewhere JSON; ONAIR_LOG_FORMAT forces either', async () => {
    const logged = (format: string | undefined, terminal: boolean) => new Promise<string>((resolve, reject) => {
      const script = "import('./src/core/logger.ts').then(({ createLogger }) => createLogger('info', process.argv[1]).info({ reservation: { token: 'abc-secret' }, channel: 'main' }, 'reserved'))";
      const command = `${ONAIR.replace(/bin\/onair$/, 'node_modules/.bin/node')} -e "${script}" ${format ?? 'auto'}`;
      // script(1) gives the command a terminal.
      const [file, args] = terminal ? ['script', ['-qec', command, '/dev/null']] : ['sh', ['-c', command]];
      execFile(file, args as string[], { cwd: new URL('../..', import.meta.url) }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    });
    const readableLine = /^\d\d:\d\d:\d\d\.\d{3} INFO {2}reserved reservation=\{"token":"\[secret\]"\} channel=main\r?\n$/;
    assert.match(await logged('auto', true), readableLine);
    assert.match(await logged('pretty', false), readableLine);
    for (const [format, terminal] of [['auto', false], ['json', true]] as const) {
      const json = JSON.parse(await logged(format, terminal));
      assert.deepEqual([json.msg, json.reservation, json.channel], ['reserved', { token: '[secret]' }, 'main']);
    }
  });

  test('the start banner names the URL, data dir, database and channels; a session logs its opening and its going on air', async () => {
    const dataDir = tempDir();
    const srt = await freePort();
    const server = await spawnOnair({ ONAIR_DATA_DIR: dataDir, ONAIR_LOG_LEVEL: 'info', ONAIR_SRT_PORT_START: String(srt) });
    try {
      const lines = () => server.output().split('\n').filter((text) => text.startsWith('{')).map((text) => JSON.parse(text));
      const banner = lines().find((entry) => entry.msg === 'onair is on air');
      assert.deepEqual([banner.url, banner.dataDir, banner.database, banner.channels],
        [server.url, dataDir, `sqlite:${dataDir}/onair.sqlite`, [`main srt://127.0.0.1:${srt}`]]);

      const source = pushTone(await reserveNow(server.url), { seconds: 30 });
      try {
        const opened = await waitFor(() => lines().find((entry) => entry.msg === 'session open; waiting for the source'), 'the session to be logged');
        assert.deepEqual([opened.channel, opened.mode, opened.format, opened.who], ['main', 'reservation', 'ogg', '127.0.0.1']);
        const onAir = await waitFor(() => lines().find((entry) => entry.msg === 'the source is on air'), 'publishing to be logged', 15_000);
        assert.deepEqual([onAir.channel, onAir.session], ['main', opened.session]);
      } finally {
        source.child.kill('SIGKILL');
      }
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
