import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { NODE_ID, type Config, type NodeRole } from './config.ts';

/** This onair instance as the other instances and the directory see it. */
export interface NodeIdentity {
  /** Stable across restarts: ONAIR_NODE_ID, or the one kept in the data dir (made from the host name at first start). */
  readonly id: string;
  readonly region: string;
  readonly roles: readonly NodeRole[];
  /** Host name handed to sources and listeners. */
  readonly publicHost: string;
}

function keptId(dataDir: string): string {
  const file = join(dataDir, 'node-id');
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (NODE_ID.test(kept)) return kept;
  } catch { /* first start */ }
  const host = hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '').slice(0, 40) || 'onair';
  const id = `${host}-${randomBytes(3).toString('hex')}`;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${id}\n`);
  return id;
}

/**
 * The node identity, built once at start. The id is the task engine's lease owner, the gate's slot owner and the
 * origin of events: an instance restarted on the same data dir (kept exclusive by its lock) takes back at once what
 * its previous run held, without waiting for leases to expire.
 */
export function nodeIdentity(config: Config): NodeIdentity {
  return {
    id: config.node.id ?? keptId(config.dataDir),
    region: config.node.region,
    roles: config.node.roles,
    publicHost: config.gate.publicHost,
  };
}
