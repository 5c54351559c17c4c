import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { analyse, freeUdpPort } from '../gate/harness.ts';
import { postgresAvailable, postgresDatabase } from '../support/databases.ts';
import { startOnair, tempDir, waitFor, type Running } from '../support/onair.ts';
import { created, finished, listenTimed, streamTask } from '../automation/support.ts';
import { media, upload } from './support.ts';

/** A node of a station whose nodes share one PostgreSQL database and, through ONAIR_ARCHIVE_DIR, one archive. */
async function node(id: string, databaseUrl: string, archive: string): Promise<Running> {
  return startOnair({
    database: postgresDatabase, databaseUrl,
    env: {
      ONAIR_NODE_ID: id, ONAIR_ARCHIVE_DIR: archive, ONAIR_SRT_PORT_START: String(await freeUdpPort()),
      ONAIR_AUTOMATION_LEAD: 'PT4S', ONAIR_AUTOMATION_RESERVE_LEAD: 'PT3S', ONAIR_AUTOMATION_STREAM_LEAD: 'PT1S',
    },
  });
}

describe('an archive shared by two nodes on one PostgreSQL database', { skip: !postgresAvailable }, () => {
  let url: string | undefined;
  const archive = tempDir('onair-shared-archive-');
  const dir = tempDir('onair-shared-media-');
  const running: Running[] = [];
  before(async () => {
    url = await postgresDatabase.create();
  });
  after(async () => {
    for (const server of running.reverse()) await server.stop();
    await postgresDatabase.drop(url);
    rmSync(archive, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  test('uploaded through A, downloaded and played out through B; A restarted while B is on air leaves B alone', async () => {
    const a = await node('node-a', url!, archive);
    running.push(a);
    const b = await node('node-b', url!, archive);
    running.push(b);
    const file = await media(dir, 'show.ogg', '-f', 'lavfi', '-i', 'sine=f=660:d=4', '-c:a', 'libopus', '-b:a', '64k');
    const startsAt = Math.ceil((Date.now() + 9_000) / 1000) * 1000;
    const start = new Date(startsAt).toISOString().slice(0, 19);
    const show = await created(a.request, '/shows', { title: 'Shared' });
    const event = await created(a.request, '/events', { showId: show, type: 'prerecorded', start, duration: 60, timezone: 'UTC' });
    assert.equal((await upload(a.url, `/prerecordings/${event}/${start}`, file)).status, 201);

    const downloaded = await fetch(`${b.url}/prerecordings/${event}/${start}`);
    assert.equal(downloaded.status, 200);
    assert.deepEqual(Buffer.from(await downloaded.arrayBuffer()), readFileSync(file), 'B serves the bytes A stored');

    // A leaves before the broadcast is due: B's engine runs it, from the file A uploaded.
    await running.shift()!.stop();
    const task = await streamTask(b.request, event);
    await waitFor(async () => (await b.request('GET', '/check')).body.state === 'reserved', 'B to reserve its channel', 15_000, 20);
    const heard = listenTimed(`${b.url}/listen`);
    await waitFor(async () => (await b.request('GET', '/check')).body.state === 'publishing', 'B on air', 15_000, 20);
    running.unshift(await node('node-a', url!, archive));
    const outcome = await finished(b.request, task, 20_000);
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome.body));
    const audio = await analyse((await heard).bytes);
    assert.ok(Math.abs(audio.seconds - 4) < 0.3, `B's listener heard ${audio.seconds} s`);
    assert.ok(Math.abs(audio.frequency - 660) < 10, `B's listener heard ${audio.frequency} Hz`);
  });

  test('a node whose archive is not the others\' says so and refuses archive writes', async () => {
    const lonely = tempDir('onair-unshared-archive-');
    try {
      const c = await node('node-c', url!, lonely);
      running.push(c);
      const show = await created(c.request, '/shows', { title: 'Split' });
      const event = await created(c.request, '/events', { showId: show, type: 'prerecorded', start: '2030-01-01T10:00:00', duration: 60, timezone: 'UTC' });
      const file = await media(dir, 'split.ogg', '-f', 'lavfi', '-i', 'sine=f=440:d=1', '-c:a', 'libopus');
      const refused = await upload(c.url, `/prerecordings/${event}/2030-01-01T10:00:00`, file);
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.match(refused.body.detail, /not the one nodes? .*node-a.* use: archive writes are refused until every node mounts the same ONAIR_ARCHIVE_DIR/);
    } finally {
      rmSync(lonely, { recursive: true, force: true });
    }
  });
});
