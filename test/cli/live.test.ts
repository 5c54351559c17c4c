import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, type Running } from '../support/onair.ts';
import { runOnair, type Ran } from '../support/process.ts';

const HEX = '[0-9a-f]{32}';
// This part's own SRT ports: activating a job opens its ingest.
const ENV = { ONAIR_SRT_PORT_START: '22000', ONAIR_SRT_PORT_END: '22999', ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.1' };

const ok = (ran: Ran): string => {
  assert.equal(ran.code, 0, ran.stderr);
  return ran.stdout;
};

/** The cells of the table row that starts with `first`. */
const row = (stdout: string, first: string) => stdout.split('\n').map((line) => line.trim().split(/\s{2,}/)).find((cells) => cells[0] === first);

describe('onair jobs and onair scheduler, against a running onair', () => {
  let server: Running;
  let onair: (...args: string[]) => Promise<Ran>;
  before(async () => {
    server = await startOnair({ database: testDatabases[0]!, clock: new ManualClock(Date.parse('2027-03-20T12:00:00Z')), env: ENV });
    onair = (...args) => runOnair(server.url, ...args);
  });
  after(() => server.stop());

  test('jobs: add prints the ingest and its key once; list, show, activate, deactivate, cancel; refusals in one line', async () => {
    const added = ok(await onair('jobs', 'add', 'Morning live', '--max-waiting-time', '600'));
    const [, id] = new RegExp(`^job (${HEX}) created: Morning live, standby \\(ready\\)\\n`).exec(added) ?? [];
    assert.ok(id, added);
    const job = (await server.request('GET', `/v1/jobs/${id}`)).body;
    assert.equal(job.max_waiting_time, 600);
    assert.ok(added.includes(`ingest: ${job.ingest.url}\nstream key: ${job.ingest.stream_key}\nplayback: ${job.playback_url}\n`), added);

    const listed = ok(await onair('jobs', 'list'));
    assert.deepEqual(row(listed, id!)?.slice(0, 4), [id, 'Morning live', 'standby', 'ready'], listed);
    assert.ok(!listed.includes(job.ingest.stream_key), 'the list shows no stream key');
    assert.match(ok(await onair('jobs', 'show', id!)), /^state: +standby$/m);
    assert.match(ok(await onair('jobs', 'activate', id!)), new RegExp(`^job ${id} activated: Morning live, waiting \\(waiting\\)\\n$`));
    assert.deepEqual(row(ok(await onair('jobs', 'list', '--state', 'waiting')), id!)?.[2], 'waiting');
    assert.match(ok(await onair('jobs', 'deactivate', id!)), new RegExp(`^job ${id} deactivated: Morning live, standby \\(ready\\)\\n$`));
    assert.match(ok(await onair('jobs', 'cancel', id!)), new RegExp(`^job ${id} cancelled: Morning live, cancelled`));

    const refused = await onair('jobs', 'activate', id!);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error 409: .*cancelled.*\n$/);
    const unknown = await onair('jobs', 'show', 'f'.repeat(32));
    assert.deepEqual([unknown.code, unknown.stdout], [1, '']);
    assert.match(unknown.stderr, /^error 404: /);
    const usage = await onair('jobs', 'frobnicate');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^onair jobs add/);
  });

  test('scheduler: add with ISO 8601 or Unix seconds, list, show, move, cancel; a past time is refused naming the field', async () => {
    const job = (await server.request('POST', '/v1/jobs', { static: true, max_waiting_time: 7200 })).body.id as string;
    const added = ok(await onair('scheduler', 'add', job, '2027-03-21T19:00:00Z', String(Date.parse('2027-03-21T20:00:00Z') / 1000), '--description', 'Sunday'));
    const [, workflow] = new RegExp(`^workflow (${HEX}) scheduled: job ${job}, activation 2027-03-21T19:00:00.000Z \\(pending\\), `
      + 'deactivation 2027-03-21T20:00:00.000Z \\(pending\\)\\n$').exec(added) ?? [];
    assert.ok(workflow, added);
    const listed = ok(await onair('scheduler', 'list', '--job', job));
    assert.deepEqual(row(listed, workflow!), [workflow, job, '2027-03-21T19:00:00.000Z', 'pending', '2027-03-21T20:00:00.000Z', 'pending', 'Sunday'], listed);
    assert.equal(row(ok(await onair('scheduler', 'list', '--job', job, '--start', '2027-03-22T00:00:00Z')), workflow!), undefined, '--start leaves it out');
    assert.match(ok(await onair('scheduler', 'move', workflow!, '--deactivation', '2027-03-21T20:30:00+00:00')),
      /deactivation 2027-03-21T20:30:00.000Z \(pending\)\n$/);
    assert.match(ok(await onair('scheduler', 'show', workflow!)), /^deactivation\.time_utc: +1805661000$/m);
    assert.match(ok(await onair('scheduler', 'cancel', workflow!)), /activation 2027-03-21T19:00:00.000Z \(cancelled\), deactivation 2027-03-21T20:30:00.000Z \(cancelled\)\n$/);
    assert.equal((await server.request('GET', `/v1/scheduler/jobstartstop/${workflow}`)).body.activation.state, 'cancelled');

    const past = await onair('scheduler', 'add', job, '2020-01-01T00:00:00Z', '2020-01-01T01:00:00Z');
    assert.equal(past.code, 1);
    assert.match(past.stderr, /^error 400: body\.activation\.time_utc: 1577836800 is not in the future/);
    const badTime = await onair('scheduler', 'add', job, 'tomorrow', '2027-03-21T20:00:00Z');
    assert.equal(badTime.code, 1);
    assert.match(badTime.stderr, /ACTIVATION must be an ISO 8601 date-time or Unix seconds, got "tomorrow"/);
    const nothing = await onair('scheduler', 'move', workflow!);
    assert.equal(nothing.code, 2, 'move without a time is not understood');

    const url = 'http://127.0.0.1:9/cli-notifications';
    const notified = ok(await onair('scheduler', 'add', job, '2027-03-22T19:00:00Z', '2027-03-22T20:00:00Z', '--notification-url', url));
    const [, webhook, secret] = /\nnotifications signed by webhook (\S+), secret: (whsec_\S+) \(shown only now\)\n$/.exec(notified) ?? [];
    assert.ok(secret, `the secret of the notification webhook made now is printed: ${notified}`);
    assert.equal((await server.request('GET', `/webhooks/${webhook}`)).body.url, url);
    const again = ok(await onair('scheduler', 'add', job, '2027-03-23T19:00:00Z', '2027-03-23T20:00:00Z', '--notification-url', url));
    assert.ok(!again.includes('secret'), `no secret once the webhook exists: ${again}`);
  });
});
