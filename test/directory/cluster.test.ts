import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { postgresAvailable, testDatabases } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { reserveNow, spawnOnair, type OnairProcess } from '../support/process.ts';
import { analyse, pushTone, type Source } from '../gate/harness.ts';

const postgres = testDatabases.find((database) => database.name === 'postgres');
const LOOKUP = '/streammanager/api/2.0/event/live/main';
const FAULT_AFTER_MS = 2000;

/** The ffmpeg processes a process started (an edge's relays). */
function ffmpegsOf(pid: number): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((entry) => {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return stat.includes('(ffmpeg)') && Number(fields[1]) === pid ? [Number(entry)] : [];
    } catch {
      return [];
    }
  });
}

/** Two seconds of the test's 64 kb/s Opus, pages included. */
const TWO_SECONDS = 16_000;

/** A listener that keeps what it hears and says how much it has heard so far. */
function tuneIn(url: string) {
  const chunks: Buffer[] = [];
  let heard = 0;
  let ended = false;
  let close = () => {};
  const firstByte = new Promise<void>((resolve, reject) => {
    const request = get(url, (response) => {
      if (response.statusCode !== 200) reject(new Error(`${url} answered ${response.statusCode}`));
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        heard += chunk.length;
        resolve();
      });
      response.on('close', () => (ended = true));
    });
    request.on('error', (error) => (ended ? undefined : reject(error)));
    close = () => {
      ended = true;
      request.destroy();
    };
  });
  return {
    firstByte,
    heard: () => heard,
    ended: () => ended,
    /** Waits until `bytes` more arrived than now. */
    more: (bytes: number) => {
      const from = heard;
      return waitFor(() => heard >= from + bytes || undefined, `${bytes} more bytes from ${url}`, 10_000, 20);
    },
    close: () => {
      close();
      return Buffer.concat(chunks);
    },
  };
}

describe('three onair serve processes on one PostgreSQL database: an origin and two edges', { skip: !postgresAvailable }, () => {
  const dirs: string[] = [];
  let databaseUrl: string | undefined;
  const nodes: Record<string, OnairProcess> = {};
  let source: Source;

  const start = async (id: string, region: string, roles: string, ports: number) => {
    const dataDir = tempDir(`onair-${id}-`);
    dirs.push(dataDir);
    nodes[id] = await spawnOnair({
      ONAIR_DATABASE_URL: databaseUrl!, ONAIR_DATA_DIR: dataDir, ONAIR_ARCHIVE_DIR: dirs[0]!, ONAIR_NODE_ID: id, ONAIR_REGION: region,
      ONAIR_GEOZONE: region.startsWith('eu') ? 'europe' : 'america', ONAIR_NODE_ROLES: roles, ONAIR_NODE_ADDRESS: `${id}.test`,
      ONAIR_NODE_REPORT_INTERVAL: 'PT0.2S', ONAIR_NODE_FAULT_AFTER: `PT${FAULT_AFTER_MS / 1000}S`, ONAIR_EDGE_LINGER: 'PT1S',
      ONAIR_SRT_PORT_START: String(ports), ONAIR_SRT_PORT_END: String(ports + 99),
    });
  };
  /** The node a lookup answers, by the address each was given. */
  const lookup = async (from: OnairProcess, query: string) => {
    const answer = await from.request('GET', `${LOOKUP}?${query}`);
    return { status: answer.status, body: answer.body, node: typeof answer.body?.serverAddress === 'string' ? answer.body.serverAddress.replace(/\.test$/, '') : undefined };
  };

  before(async () => {
    databaseUrl = await postgres!.create();
    dirs.push(tempDir('onair-cluster-archive-'));
    await start('origin-eu', 'eu-central', 'origin', 25000);
    await start('edge-eu', 'eu-central', 'edge', 25100);
    await start('edge-us', 'us-east', 'edge', 25200);
    await waitFor(async () => {
      const listed = await nodes['origin-eu']!.request('GET', '/directory/nodes');
      return Array.isArray(listed.body) && listed.body.filter((node: { state: string }) => node.state === 'INSERVICE').length === 3;
    }, 'three nodes in service', 15_000, 50);
    source = pushTone(await reserveNow(nodes['origin-eu']!.url), { seconds: 60, frequency: 440 });
  });

  after(async () => {
    source?.child.kill('SIGKILL');
    for (const node of Object.values(nodes)) if (node.child.exitCode === null) await node.stop();
    await postgres!.drop(databaseUrl);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('a subscriber in us-east is sent to the us-east edge, hears the tone through its relay, and is counted', async () => {
    const chosen = await waitFor(async () => {
      const answer = await lookup(nodes['edge-eu']!, 'action=subscribe&region=us-east');
      return answer.status === 200 ? answer : undefined;
    }, 'the stream to be publishing', 15_000, 50);
    assert.equal(chosen.node, 'edge-us');
    assert.equal(chosen.body.region, 'us-east');
    assert.equal(chosen.body.scope, '/live');
    // Asked on an edge, a broadcast lookup answers the origin holding the stream, with that origin's own SRT port.
    const broadcast = await lookup(nodes['edge-eu']!, 'action=broadcast');
    assert.deepEqual([broadcast.node, broadcast.body.port, broadcast.body.url?.startsWith('srt://origin-eu.test:25000?')], ['origin-eu', 25000, true]);
    const listener = tuneIn(`${nodes['edge-us']!.url}/listen`);
    await listener.firstByte;
    await waitFor(async () => (await nodes['origin-eu']!.request('GET', `${LOOKUP}/stats`)).body.currentSubscribers === 1 || undefined, 'the listener to be counted', 5000, 50);
    assert.equal((await nodes['origin-eu']!.request('GET', `${LOOKUP}/stats`)).body.currentSubscribers, 1, 'the relay pulling from the origin is no subscriber');
    assert.equal(ffmpegsOf(nodes['edge-us']!.child.pid!).length, 1, 'one relay on the edge');
    await listener.more(TWO_SECONDS);
    const heard = await analyse(listener.close());
    assert.ok(heard.seconds > 1.5, `heard ${heard.seconds} s`);
    assert.ok(Math.abs(heard.frequency - 440) < 10, `heard ${heard.frequency} Hz`);
    await waitFor(() => ffmpegsOf(nodes['edge-us']!.child.pid!).length === 0 || undefined, 'the relay to stop after the linger', 5000, 50);
    await waitFor(async () => (await nodes['origin-eu']!.request('GET', `${LOOKUP}/stats`)).body.currentSubscribers === 0 || undefined, 'the listener to leave the stats', 5000, 50);
  });

  test('a drained edge takes no new subscriber (strict: 404) while its listener keeps playing', async () => {
    const listener = tuneIn(`${nodes['edge-us']!.url}/listen`);
    await listener.firstByte;
    const drained = await nodes['edge-eu']!.request('POST', '/directory/nodes/edge-us/drain');
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    assert.equal(drained.body.state, 'SOFT_SUNSET');
    const next = await lookup(nodes['origin-eu']!, 'action=subscribe&region=us-east');
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.equal(next.body.region, 'eu-central');
    const strict = await lookup(nodes['origin-eu']!, 'action=subscribe&region=us-east&strict=true');
    assert.equal(strict.status, 404);
    assert.equal(typeof strict.body.errorMessage, 'string');
    assert.equal(typeof strict.body.timestamp, 'number');
    await listener.more(TWO_SECONDS);
    assert.ok(!listener.ended(), 'the existing listener is still connected');
    const heard = await analyse(listener.close());
    assert.ok(Math.abs(heard.frequency - 440) < 10, `heard ${heard.frequency} Hz`);
    assert.equal((await nodes['edge-eu']!.request('POST', '/directory/nodes/edge-us/resume')).body.state, 'INSERVICE');
  });

  test('kill -9 of an edge: FAULT within the timeout, lookups leave it, its listener comes back through a new lookup', async () => {
    const first = await lookup(nodes['origin-eu']!, 'action=subscribe&region=us-east&strict=true');
    assert.equal(first.node, 'edge-us');
    const listener = tuneIn(`${nodes['edge-us']!.url}/listen`);
    await listener.firstByte;
    const killedAt = Date.now();
    await nodes['edge-us']!.crash();
    await waitFor(() => listener.ended() || undefined, 'the listener to be cut off', 5000, 20);
    await waitFor(async () => (await nodes['origin-eu']!.request('GET', '/directory/nodes/edge-us')).body.state === 'FAULT' || undefined,
      'edge-us to be in FAULT', FAULT_AFTER_MS + 3000, 50);
    const faultMs = Date.now() - killedAt;
    assert.ok(faultMs < FAULT_AFTER_MS + 1000, `FAULT after ${faultMs} ms`);
    const again = await lookup(nodes['origin-eu']!, 'action=subscribe&region=us-east');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    // Either node of eu-central: the origin carries the stream already, so it ranks ahead of an edge that would relay it.
    assert.equal(again.body.region, 'eu-central');
    assert.notEqual(again.node, 'edge-us');
    const back = tuneIn(`${nodes[again.node!]!.url}/listen`);
    await back.firstByte;
    await back.more(TWO_SECONDS);
    const heard = await analyse(back.close());
    assert.ok(Math.abs(heard.frequency - 440) < 10, `heard ${heard.frequency} Hz after reconnecting`);
  });
});
