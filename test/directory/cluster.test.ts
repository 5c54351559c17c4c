import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { postgresAvailable, testDatabases } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { reserveNow, spawnOnair, type OnairProcess } from '../support/process.ts';
import { analyse, listen, pushTone, type Source } from '../gate/harness.ts';

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
      return listed.body.nodes?.filter((node: { state: string }) => node.state === 'INSERVICE').length === 3;
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
    const listener = listen(`${nodes['edge-us']!.url}/listen`);
    await listener.firstByte;
    await waitFor(async () => (await nodes['origin-eu']!.request('GET', `${LOOKUP}/stats`)).body.currentSubscribers >= 1, 'the listener to be counted', 5000, 50);
    await waitFor(() => ffmpegsOf(nodes['edge-us']!.child.pid!).length === 1 || undefined, 'the relay to run', 2000, 20);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    listener.close();
    const heard = await analyse((await listener.done).bytes);
    assert.ok(heard.seconds > 1, `heard ${heard.seconds} s`);
    assert.ok(Math.abs(heard.frequency - 440) < 10, `heard ${heard.frequency} Hz`);
    await waitFor(() => ffmpegsOf(nodes['edge-us']!.child.pid!).length === 0 || undefined, 'the relay to stop after the linger', 5000, 50);
  });

  test('a drained edge takes no new subscriber (strict: 404) while its listener keeps playing', async () => {
    const listener = listen(`${nodes['edge-us']!.url}/listen`);
    await listener.firstByte;
    const drained = await nodes['edge-eu']!.request('POST', '/directory/nodes/edge-us/drain');
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    await waitFor(async () => (await lookup(nodes['origin-eu']!, 'action=subscribe&region=us-east')).node === 'edge-eu' || undefined,
      'lookups to leave the drained edge', 2000, 20);
    const strict = await lookup(nodes['origin-eu']!, 'action=subscribe&region=us-east&strict=true');
    assert.equal(strict.status, 404);
    assert.equal(typeof strict.body.errorMessage, 'string');
    assert.equal(typeof strict.body.timestamp, 'number');
    let bytes = 0;
    const counting = listen(`${nodes['edge-us']!.url}/listen`);
    await counting.firstByte;
    counting.close();
    bytes = (await counting.done).bytes.length;
    assert.ok(bytes > 0);
    listener.close();
    const kept = (await listener.done).bytes;
    assert.ok(kept.length > 8000, `the existing listener got ${kept.length} bytes after the drain`);
    assert.equal((await nodes['edge-eu']!.request('POST', '/directory/nodes/edge-us/resume')).status, 200);
  });

  test('kill -9 of an edge: FAULT within the timeout, lookups leave it, its listener comes back through a new lookup', async () => {
    const first = await lookup(nodes['origin-eu']!, 'action=subscribe&region=us-east&strict=true');
    assert.equal(first.node, 'edge-us');
    const listener = listen(`${nodes['edge-us']!.url}/listen`);
    await listener.firstByte;
    const killedAt = Date.now();
    await nodes['edge-us']!.crash();
    await listener.done;
    await waitFor(async () => {
      const node = await nodes['origin-eu']!.request('GET', '/directory/nodes/edge-us');
      return node.body.state === 'FAULT' || undefined;
    }, 'edge-us to be in FAULT', FAULT_AFTER_MS + 3000, 50);
    const faultMs = Date.now() - killedAt;
    assert.ok(faultMs < FAULT_AFTER_MS + 1000, `FAULT after ${faultMs} ms`);
    const again = await lookup(nodes['origin-eu']!, 'action=subscribe&region=us-east');
    assert.equal(again.status, 200);
    assert.notEqual(again.node, 'edge-us');
    const back = listen(`${nodes[again.node!]!.url}/listen`);
    await back.firstByte;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    back.close();
    const heard = await analyse((await back.done).bytes);
    assert.ok(Math.abs(heard.frequency - 440) < 10, `heard ${heard.frequency} Hz after reconnecting`);
  });
});
