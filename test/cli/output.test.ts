import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readable, table } from '../../src/cli/output.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, tempDir, type Running } from '../support/onair.ts';
import { ONAIR, runOnair } from '../support/process.ts';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

describe('readable answers', () => {
  test('a list of objects is a table with a header, each column as wide as its widest text', () => {
    assert.equal(table([{ id: 'a', title: 'Morning show' }, { id: 'bcd', title: 'x' }]), 'ID   TITLE\na    Morning show\nbcd  x');
  });

  test('an object is names and values, nested objects under dotted names, each list a block of its own', () => {
    const text = readable({ count: 2, task: { id: 'x', operation: { type: 'test' } }, shows: [{ id: 'a' }], queued: ['q1', 'q2'], empty: [] });
    assert.equal(text, [
      'count:               2', 'task.id:             x', 'task.operation.type: test', '',
      'shows (1):', '  ID', '  a', '', 'queued (2):', '  q1', '  q2', '', 'empty: none',
    ].join('\n'));
  });
});

describe('the onair command answers with tables and sentences, --json with the answer as it is', () => {
  let server: Running;
  before(async () => {
    server = await startOnair({ database: testDatabases[0]! });
  });
  after(() => server.stop());

  test('a change is a sentence, a list a table; --json prints what the API answered', async () => {
    const created = await runOnair(server.url, 'programme', 'add-show', 'Morning show');
    assert.equal(created.code, 0, created.stderr);
    const id = new RegExp(`^show (${UUID}) created: Morning show\\n$`).exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);

    const shows = await runOnair(server.url, 'programme', 'shows');
    const lines = shows.stdout.split('\n');
    assert.match(lines.find((line) => line.includes('ID'))!, /^ {2}ID {36}TITLE$/);
    assert.ok(lines.some((line) => line.startsWith(`  ${id}  Morning show`)), shows.stdout);
    assert.throws(() => JSON.parse(shows.stdout));
    const json = await runOnair(server.url, 'programme', 'shows', '--json');
    assert.deepEqual(JSON.parse(json.stdout), (await server.request('GET', '/shows')).body);

    const task = await runOnair(server.url, 'tasks', 'add', 'test');
    assert.match(task.stdout, new RegExp(`^task ${UUID} added \\(test\\)\\n$`));
  });

  test('the schedule is one row per instance', async () => {
    const show = await server.request('POST', '/shows', { title: 'Daily' });
    await server.request('POST', '/events', {
      showId: show.body.id, type: 'live', start: '2031-03-03T20:00:00', duration: 3600, timezone: 'Europe/Warsaw', recurrence: { rule: 'FREQ=DAILY;COUNT=3' },
    });
    const ran = await runOnair(server.url, 'programme', 'schedule', '--start', '2031-03-01T00:00:00Z', '--end', '2031-03-10T00:00:00Z');
    const rows = ran.stdout.split('\n').filter((line) => line.includes('Europe/Warsaw'));
    assert.deepEqual(rows.map((row) => row.trim().split(/\s+/).slice(0, 4)), [3, 4, 5].map((day) => [
      `2031-03-0${day}T20:00:00`, `2031-03-0${day}T21:00:00`, 'Europe/Warsaw', 'live',
    ]));
  });

  test('an upload and a download on a terminal draw a progress bar on standard error', async () => {
    const dir = tempDir();
    try {
      const file = join(dir, 'tone.ogg');
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=20', '-c:a', 'libopus', file]);
      const show = await server.request('POST', '/shows', { title: 'Uploads' });
      const event = await server.request('POST', '/events', { showId: show.body.id, type: 'prerecorded', start: '2031-01-01T10:00:00', duration: 60, timezone: 'UTC' });
      const copy = join(dir, 'copy.ogg');
      const terminal = (command: string) => new Promise<string>((resolve, reject) => {
        // script(1) gives the command a terminal; what it printed there comes back on script's standard output.
        execFile('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ONAIR_URL: server.url }, timeout: 20_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
      });
      const uploaded = await terminal(`${ONAIR} prerecordings upload ${event.body.id} 2031-01-01T10:00:00 ${file}`);
      assert.match(uploaded, new RegExp(`uploading ${file} \\[#{30}\\] 100% `));
      assert.match(uploaded, /stored .* \(part 1\): \d+ bytes, ogg, 20\.0 s/);
      const downloaded = await terminal(`${ONAIR} prerecordings download ${event.body.id} 2031-01-01T10:00:00 ${copy}`);
      assert.match(downloaded, /downloading .*copy\.ogg \[#{30}\] 100% /);
      assert.deepEqual(readFileSync(copy), readFileSync(file));

      const plain = await runOnair(server.url, 'prerecordings', 'download', event.body.id, '2031-01-01T10:00:00', copy);
      assert.deepEqual([plain.code, plain.stderr], [0, ''], 'no terminal: no progress bar');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
