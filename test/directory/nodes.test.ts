import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { NodeChanged } from '../../src/directory/contract.ts';
import { postgresAvailable, postgresDatabase } from '../support/databases.ts';
import { startOnair, tempDir, waitFor } from '../support/onair.ts';
import { spawnOnair } from '../support/process.ts';

/** Two instances on one PostgreSQL database: each learns the other's changes by NOTIFY, long before its next report. */

// Reports far apart: what an instance learns within the deadlines below, it learned by NOTIFY.
const SLOW = { ONAIR_NODE_REPORT_INTERVAL: 'PT60S', ONAIR_NODE_FAULT_AFTER: 'PT120S' };
const ports = (start: number) => ({ ONAIR_SRT_PORT_START: String(start), ONAIR_SRT_PORT_END: String(start + 99) });
const DEADLINE = 5000;

describe('nodes sharing one PostgreSQL database', { skip: !postgresAvailable }, () => {
  test('each sees the other register, drain, resume, stop and be removed, within a deadline', async () => {
    const databaseUrl = (await postgresDatabase.create())!;
    const a = await startOnair({ database: postgresDatabase, databaseUrl, env: { ...SLOW, ...ports(28200), ONAIR_NODE_ID: 'node-a', ONAIR_REGION: 'eu-central' } });
    let b = await startOnair({ database: postgresDatabase, databaseUrl, env: { ...SLOW, ...ports(28300), ONAIR_NODE_ID: 'node-b', ONAIR_REGION: 'us-east' } });
    const snapshot = (server: typeof a) => server.onair.directory.registry;
    const stateOn = (server: typeof a, id: string) => snapshot(server).node(id)?.state;
    try {
      await waitFor(() => stateOn(a, 'node-b') === 'INSERVICE', 'a to see b in service', DEADLINE);
      assert.equal(stateOn(b, 'node-a'), 'INSERVICE', 'b read a at its start');
      const shared = await a.request('GET', '/streammanager/api/2.0/admin/node/127.0.0.1');
      assert.equal(shared.status, 400, 'both have the default address: which one is meant is not guessed');
      assert.match(shared.body.errorMessage, /node-a, node-b share the address 127\.0\.0\.1/);
      let changes = 0;
      snapshot(b).onChange(() => changes++);

      assert.equal((await a.request('POST', '/directory/nodes/node-b/drain')).status, 200);
      await waitFor(() => stateOn(b, 'node-b') === 'SOFT_SUNSET', 'b to learn it is drained', DEADLINE);
      assert.ok(changes > 0, 'b\'s listeners were called');
      assert.equal((await b.request('POST', '/directory/nodes/node-b/drain')).status, 409, 'the compare-and-set sees a\'s drain');
      assert.equal((await b.request('POST', '/directory/nodes/node-b/resume')).status, 200);
      await waitFor(() => stateOn(a, 'node-b') === 'INSERVICE', 'a to see b resumed', DEADLINE);

      await b.stop();
      await waitFor(() => stateOn(a, 'node-b') === 'STOPPED', 'a to see b stopped', DEADLINE);
      assert.equal((await a.request('DELETE', '/directory/nodes/node-b')).status, 204);
      assert.equal(snapshot(a).node('node-b'), undefined);
      b = await startOnair({ database: postgresDatabase, databaseUrl, env: { ...SLOW, ...ports(28300), ONAIR_NODE_ID: 'node-b', ONAIR_REGION: 'us-east' } });
      await waitFor(() => stateOn(a, 'node-b') === 'INSERVICE', 'a to see b back', DEADLINE);
    } finally {
      await b.stop();
      await a.stop();
      await postgresDatabase.drop(databaseUrl);
    }
  });

  test('a node killed with -9 is FAULT for the others once it is overdue, and the sweep records it once', async () => {
    const databaseUrl = (await postgresDatabase.create())!;
    const fast = { ONAIR_NODE_REPORT_INTERVAL: '200', ONAIR_NODE_FAULT_AFTER: '1500' };
    const a = await startOnair({ database: postgresDatabase, databaseUrl, env: { ...fast, ...ports(28200), ONAIR_NODE_ID: 'node-a' } });
    const faults: NodeChanged[] = [];
    a.onair.bus.subscribe((event) => event.type === 'node-changed' && (event.data as NodeChanged).state === 'FAULT' && faults.push(event.data as NodeChanged));
    const dataDir = tempDir();
    const b = await spawnOnair({ ...fast, ...ports(28300), ONAIR_NODE_ID: 'node-b', ONAIR_DATABASE_URL: databaseUrl, ONAIR_DATA_DIR: dataDir });
    const c = await startOnair({ database: postgresDatabase, databaseUrl, env: { ...fast, ...ports(28400), ONAIR_NODE_ID: 'node-c' } });
    try {
      await waitFor(() => a.onair.directory.registry.node('node-b')?.state === 'INSERVICE', 'a to see b', DEADLINE);
      await b.crash();
      const crashed = Date.now();
      await waitFor(() => a.onair.directory.registry.node('node-b')!.state === 'FAULT', 'a to count b as FAULT', DEADLINE);
      assert.ok(Date.now() - crashed >= 1000, 'not before it is overdue');
      await waitFor(() => faults.length > 0, 'the FAULT recorded', DEADLINE);
      // Both instances sweep at each of their reports: after two more of each, still one of them alone recorded it.
      const recorded = Date.now();
      const reportedSince = (server: typeof a, id: string) => server.onair.directory.registry.node(id)!.reportedAt > recorded + 400;
      await waitFor(() => reportedSince(a, 'node-a') && reportedSince(c, 'node-c') && reportedSince(a, 'node-c'), 'two more sweeps of a and c', DEADLINE);
      await waitFor(() => a.onair.bus.delivered >= c.onair.bus.delivered, 'a to have delivered what c recorded', DEADLINE);
      assert.deepEqual(faults.map((f) => [f.node, f.previous]), [['node-b', 'INSERVICE']]);
      assert.equal(c.onair.directory.registry.node('node-b')!.state, 'FAULT');
    } finally {
      await c.stop();
      await a.stop();
      await postgresDatabase.drop(databaseUrl);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
