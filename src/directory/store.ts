import type { Kysely, Selectable, Transaction, Updateable } from 'kysely';
import type { Database } from '../core/db/database.ts';
import type { NodeRole } from '../core/config.ts';
import type { DirectoryNode, NodeReport, NodeState } from './contract.ts';

interface NodeRow {
  id: string;
  address: string;
  url: string;
  region: string;
  geozone: string | null;
  roles: string;
  capacity: number;
  state: string;
  drained: number;
  started_at: number;
  reported_at: number;
  state_changed_at: number;
  report: string;
}

interface DirectoryTables {
  directory_nodes: NodeRow;
}

type Db = Kysely<DirectoryTables>;

/** What a change to a node writes: its state and report as they are after it. */
export type NodePatch = Partial<Pick<DirectoryNode, 'state' | 'drained' | 'reportedAt' | 'stateChangedAt' | 'report'>>;

/** A node before a change (undefined: new) and after it (undefined: removed). */
export interface NodeChange {
  before: DirectoryNode | undefined;
  after: DirectoryNode | undefined;
}

/** Records, as the last statement of the transaction of a change, what it changed. */
export type NodeAnnounce = (trx: Transaction<any>, changes: NodeChange[]) => Promise<void>;

export const EMPTY_REPORT: NodeReport = { streams: [], publishers: 0, subscribers: 0, cpuLoad: 0, bytesIn: 0, bytesOut: 0, ports: {} };

function toNode(row: Selectable<NodeRow>): DirectoryNode {
  return {
    id: row.id, address: row.address, url: row.url, region: row.region, geozone: row.geozone, roles: JSON.parse(row.roles) as NodeRole[],
    capacity: Number(row.capacity), state: row.state as NodeState, drained: Number(row.drained) === 1, startedAt: Number(row.started_at),
    reportedAt: Number(row.reported_at), stateChangedAt: Number(row.state_changed_at), report: JSON.parse(row.report) as NodeReport,
  };
}

function toRow(node: DirectoryNode): NodeRow {
  return {
    id: node.id, address: node.address, url: node.url, region: node.region, geozone: node.geozone, roles: JSON.stringify(node.roles),
    capacity: node.capacity, state: node.state, drained: node.drained ? 1 : 0, started_at: node.startedAt, reported_at: node.reportedAt,
    state_changed_at: node.stateChangedAt, report: JSON.stringify(node.report),
  };
}

function toPatch(patch: NodePatch): Updateable<NodeRow> {
  return {
    ...(patch.state !== undefined && { state: patch.state }),
    ...(patch.drained !== undefined && { drained: patch.drained ? 1 : 0 }),
    ...(patch.reportedAt !== undefined && { reported_at: patch.reportedAt }),
    ...(patch.stateChangedAt !== undefined && { state_changed_at: patch.stateChangedAt }),
    ...(patch.report !== undefined && { report: JSON.stringify(patch.report) }),
  };
}

/** All SQL of the node registry (directory_nodes); the same statements serve SQLite and PostgreSQL. */
export class NodeStore {
  readonly #db: Db;
  readonly #lockRows: boolean;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
    // SQLite has one writer at a time; PostgreSQL needs the row locked between reading and changing it.
    this.#lockRows = database.dialect !== 'sqlite';
  }

  async all(): Promise<DirectoryNode[]> {
    return (await this.#db.selectFrom('directory_nodes').selectAll().orderBy('id').execute()).map(toNode);
  }

  async some(ids: string[]): Promise<DirectoryNode[]> {
    if (ids.length === 0) return [];
    return (await this.#db.selectFrom('directory_nodes').selectAll().where('id', 'in', ids).execute()).map(toNode);
  }

  /** Writes the node as given, keeping `drained` when it was there already. */
  async register(node: DirectoryNode, announce: NodeAnnounce): Promise<DirectoryNode> {
    return this.#db.transaction().execute(async (trx) => {
      const before = await this.#read(trx, node.id);
      const after = { ...node, drained: before?.drained ?? node.drained };
      if (before) await trx.updateTable('directory_nodes').set(toRow(after)).where('id', '=', node.id).execute();
      else await trx.insertInto('directory_nodes').values(toRow(after)).execute();
      await announce(trx, [{ before, after }]);
      return after;
    });
  }

  /**
   * Reads the node, asks `decide` for its change (undefined: none; it may throw to refuse) and makes it with its
   * announcement, in one transaction; answers the node as it is afterwards (undefined when there is no such node).
   */
  async change(id: string, decide: (node: DirectoryNode) => NodePatch | undefined, announce: NodeAnnounce): Promise<DirectoryNode | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const before = await this.#read(trx, id);
      if (!before) return undefined;
      const patch = decide(before);
      if (!patch) return before;
      const after = toNode(await trx.updateTable('directory_nodes').set(toPatch(patch)).where('id', '=', id).returningAll().executeTakeFirstOrThrow());
      await announce(trx, [{ before, after }]);
      return after;
    });
  }

  /** Removes the node once `allow` lets it (it throws to refuse); answers whether there was one. */
  async remove(id: string, allow: (node: DirectoryNode) => void, announce: NodeAnnounce): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const before = await this.#read(trx, id);
      if (!before) return false;
      allow(before);
      await trx.deleteFrom('directory_nodes').where('id', '=', id).execute();
      await announce(trx, [{ before, after: undefined }]);
      return true;
    });
  }

  /**
   * Puts in FAULT every node in one of `states` that has not reported since `before`. Rows are locked first: of
   * instances sweeping at once, one changes each node and announces it; the others find it changed already.
   */
  async sweep(before: number, states: readonly NodeState[], at: number, announce: NodeAnnounce): Promise<DirectoryNode[]> {
    return this.#db.transaction().execute(async (trx) => {
      let read = trx.selectFrom('directory_nodes').selectAll().where('reported_at', '<', before).where('state', 'in', [...states]);
      if (this.#lockRows) read = read.forUpdate();
      const overdue = (await read.execute()).map(toNode);
      if (overdue.length === 0) return [];
      const faulted = (await trx.updateTable('directory_nodes').set({ state: 'FAULT', state_changed_at: at })
        .where('id', 'in', overdue.map((node) => node.id)).returningAll().execute()).map(toNode);
      await announce(trx, faulted.map((after) => ({ before: overdue.find((node) => node.id === after.id), after })));
      return faulted;
    });
  }

  async #read(trx: Transaction<DirectoryTables>, id: string): Promise<DirectoryNode | undefined> {
    let read = trx.selectFrom('directory_nodes').selectAll().where('id', '=', id);
    if (this.#lockRows) read = read.forUpdate();
    const row = await read.executeTakeFirst();
    return row && toNode(row);
  }
}
