import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../support/onair.ts';
import { freePort, runOnairWith } from '../support/process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const VERSION = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
const COMMANDS = ['serve', 'tasks', 'programme', 'recordings', 'prerecordings', 'automation', 'jobs', 'scheduler', 'nodes'];

describe('the onair command: version and help', () => {
  // Nothing listens there: a command that tried to reach onair would fail.
  const nowhere = { ONAIR_URL: 'http://127.0.0.1:9' };

  test('--version prints the package version', async () => {
    for (const flag of ['--version', '-v', 'version']) {
      const ran = await runOnairWith(nowhere, flag);
      assert.deepEqual([ran.code, ran.stdout, ran.stderr], [0, `onair ${VERSION}\n`, '']);
    }
  });

  test('help, --help and -h print every command on standard output and exit 0', async () => {
    for (const args of [['help'], ['--help'], ['-h']]) {
      const ran = await runOnairWith(nowhere, ...args);
      assert.equal(ran.code, 0, ran.stderr);
      for (const command of COMMANDS) assert.match(ran.stdout, new RegExp(`^onair (\\S+\\|)?${command}`, 'm'));
    }
  });

  for (const command of COMMANDS) {
    test(`onair help ${command}, onair ${command} --help and -h answer its usage alone, exit 0`, async () => {
      const dir = tempDir();
      const dataDir = join(dir, 'data');
      const env = { ...nowhere, ONAIR_DATA_DIR: dataDir, ONAIR_HTTP_PORT: String(await freePort()) };
      const answers = [
        await runOnairWith(env, 'help', command), await runOnairWith(env, command, '--help'),
        await runOnairWith(env, command, 'list', '-h'),
      ];
      const started = existsSync(dataDir);
      rmSync(dir, { recursive: true, force: true });
      assert.equal(started, false, 'no data dir made: nothing started');
      for (const ran of answers) {
        assert.equal(ran.code, 0, ran.stderr);
        assert.equal(ran.stderr, '');
        assert.match(ran.stdout, new RegExp(`^onair (\\S+\\|)?${command}`));
        assert.doesNotMatch(ran.stdout, command === 'tasks' ? /onair programme/ : /onair tasks/);
      }
    });
  }

  test('an unknown command, or help for one: usage on standard error, exit 2', async () => {
    for (const args of [['frobnicate'], ['help', 'frobnicate'], []]) {
      const ran = await runOnairWith(nowhere, ...args);
      assert.equal(ran.code, 2, args.join(' '));
      assert.equal(ran.stdout, '');
      assert.match(ran.stderr, /^onair serve/m);
    }
    assert.match((await runOnairWith(nowhere, 'frobnicate')).stderr, /no command "frobnicate"/);
  });

  const stdout = async (command: string, args: string[]) => (await run(command, args, { cwd: ROOT })).stdout;
  test('npm install -g . puts onair on the PATH, and npx onair runs it in the clone', async () => {
    const prefix = tempDir('onair-prefix-');
    try {
      await stdout('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '.']);
      assert.equal(await stdout(join(prefix, 'bin', 'onair'), ['--version']), `onair ${VERSION}\n`);
      assert.equal(await stdout('npx', ['--no', '--', 'onair', '--version']), `onair ${VERSION}\n`);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });

  test('an option the command does not have: its usage on standard error, exit 2', async () => {
    const ran = await runOnairWith(nowhere, 'tasks', 'list', '--frobnicate');
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /onair tasks: Unknown option '--frobnicate'/);
    assert.match(ran.stderr, /^onair tasks list/m);
  });
});
