import type { Kysely, Transaction, Updateable } from 'kysely';
import type { Database, Dialect } from '../core/db/database.ts';
import type { Announce } from '../core/events/bus.ts';
import type { InstanceRef } from './contract.ts';
import type { ChannelRow, GateTables, SessionRow } from './migrations.ts';

type Db = Kysely<GateTables>;

export type SessionPatch = Updateable<SessionRow>;

/** What a change to a run-time channel found: done, the channel held by a session, or no such channel. */
export type ChannelOutcome = 'done' | 'busy' | 'gone';

/** The programme instance a session row belongs to. */
export const instanceOf = (row: SessionRow): InstanceRef | null => (row.event === null ? null : { event: row.event, start: row.instance_start ?? '' });

/** All SQL of the gate; the same statements serve SQLite and PostgreSQL. */
export class GateStore {
  readonly #db: Db;
  readonly #dialect: Dialect;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
    this.#dialect = database.dialect;
  }

  /**
   * Takes the channel's slot and records the session: `busy` when another session holds it. For a run-time channel,
   * `defined` is the port and key the session was made with: `gone` when the channel was removed or changed since.
   */
  async claim(session: SessionRow, now: number, defined?: Pick<ChannelRow, 'port' | 'key'>): Promise<ChannelOutcome> {
    return this.#db.transaction().execute(async (trx) => {
      if (defined) {
        // Shared lock: a change or removal of the channel waits for this claim, or this claim for it (PostgreSQL).
        const row = await this.#lockChannel(trx, session.channel, 'share');
        if (row?.port !== defined.port || row.key !== defined.key) return 'gone';
      }
      const inserted = await trx.insertInto('gate_slots')
        .values({ channel: session.channel, session_id: session.id, owner: session.owner, heartbeat_at: now })
        .onConflict((oc) => oc.column('channel').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return 'busy';
      await trx.insertInto('gate_sessions').values(session).execute();
      return 'done';
    });
  }

  async channels(): Promise<ChannelRow[]> {
    return this.#db.selectFrom('gate_channels').selectAll().orderBy('name').execute();
  }

  async channel(name: string): Promise<ChannelRow | undefined> {
    return this.#db.selectFrom('gate_channels').selectAll().where('name', '=', name).executeTakeFirst();
  }

  /** Throws the database's unique violation when the name or the port is taken. `announce` records the channel's event in the same transaction. */
  async createChannel(row: ChannelRow, announce: Announce<ChannelRow>): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('gate_channels').values(row).execute();
      await announce(trx, row);
    });
  }

  /** Changes a run-time channel that no session holds (the unique violation of a taken port is thrown). */
  async changeChannel(name: string, patch: Updateable<ChannelRow>, announce: Announce<ChannelRow>): Promise<ChannelOutcome> {
    return this.#whileFree(name, async (trx) =>
      announce(trx, await trx.updateTable('gate_channels').set(patch).where('name', '=', name).returningAll().executeTakeFirstOrThrow()));
  }

  async removeChannel(name: string, announce: Announce<ChannelRow>): Promise<ChannelOutcome> {
    return this.#whileFree(name, async (trx) =>
      announce(trx, await trx.deleteFrom('gate_channels').where('name', '=', name).returningAll().executeTakeFirstOrThrow()));
  }

  /** Runs `change` on a channel locked against claims, unless a session holds it. */
  async #whileFree(name: string, change: (trx: Transaction<GateTables>) => Promise<unknown>): Promise<ChannelOutcome> {
    return this.#db.transaction().execute(async (trx) => {
      if (!(await this.#lockChannel(trx, name, 'update'))) return 'gone';
      if (await trx.selectFrom('gate_slots').select('channel').where('channel', '=', name).executeTakeFirst()) return 'busy';
      await change(trx);
      return 'done';
    });
  }

  /** Reads a channel's row under a row lock on PostgreSQL; SQLite runs one transaction at a time anyway. */
  async #lockChannel(trx: Transaction<GateTables>, name: string, lock: 'share' | 'update'): Promise<ChannelRow | undefined> {
    return trx.selectFrom('gate_channels').selectAll().where('name', '=', name)
      .$if(this.#dialect === 'postgres', (q) => (lock === 'share' ? q.forShare() : q.forUpdate()))
      .executeTakeFirst();
  }

  /** Changes a session; `announce`, when given, records its events in the same transaction. */
  async update(id: string, patch: SessionPatch, announce?: Announce): Promise<void> {
    if (!announce) {
      await this.#db.updateTable('gate_sessions').set(patch).where('id', '=', id).execute();
      return;
    }
    await this.#db.transaction().execute(async (trx) => {
      await trx.updateTable('gate_sessions').set(patch).where('id', '=', id).execute();
      await announce(trx);
    });
  }

  /** Closes a session and frees its channel in one step; `announce`, when given, records its events in it. */
  async release(id: string, patch: SessionPatch, announce?: Announce): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.updateTable('gate_sessions').set(patch).where('id', '=', id).execute();
      await trx.deleteFrom('gate_slots').where('session_id', '=', id).execute();
      await announce?.(trx);
    });
  }

  async heartbeat(owner: string, now: number): Promise<void> {
    await this.#db.updateTable('gate_slots').set({ heartbeat_at: now }).where('owner', '=', owner).execute();
  }

  /**
   * Frees the slots of sessions nobody looks after any more (those of listed sessions, of a given owner, or whose
   * heartbeat is older than `staleBefore`) and closes those sessions; answers the channels freed.
   */
  async sweep(gone: { sessions: string[]; owner?: string; staleBefore: number }, patch: SessionPatch, announce: Announce<string[]>): Promise<string[]> {
    return this.#db.transaction().execute(async (trx) => {
      const freed = await trx.deleteFrom('gate_slots').where((eb) => eb.or([
        eb('heartbeat_at', '<', gone.staleBefore),
        ...(gone.sessions.length > 0 ? [eb('session_id', 'in', gone.sessions)] : []),
        ...(gone.owner !== undefined ? [eb('owner', '=', gone.owner)] : []),
      ])).returning(['channel', 'session_id']).execute();
      const open = [...gone.sessions, ...freed.map((f) => f.session_id)];
      if (open.length > 0) {
        await trx.updateTable('gate_sessions').set(patch).where('id', 'in', open).where('ended_at', 'is', null).execute();
      }
      const channels = freed.map((f) => f.channel);
      if (channels.length > 0) await announce(trx, channels);
      return channels;
    });
  }

  /** The session holding the channel, if any. */
  async holder(channel: string): Promise<SessionRow | undefined> {
    return this.#holding().where('gate_slots.channel', '=', channel).executeTakeFirst();
  }

  /** The session `id` if it holds a channel. */
  async holding(id: string): Promise<SessionRow | undefined> {
    return this.#holding().where('gate_slots.session_id', '=', id).executeTakeFirst();
  }

  /** The sessions holding channels, by channel. */
  async holders(): Promise<Map<string, SessionRow>> {
    const rows = await this.#holding().execute();
    return new Map(rows.map((row) => [row.channel, row]));
  }

  #holding() {
    return this.#db.selectFrom('gate_slots').innerJoin('gate_sessions', 'gate_sessions.id', 'gate_slots.session_id').selectAll('gate_sessions');
  }

  async history(channel: string, limit: number): Promise<SessionRow[]> {
    return this.#db.selectFrom('gate_sessions').selectAll().where('channel', '=', channel)
      .orderBy('reserved_at', 'desc').orderBy('id').limit(limit).execute();
  }

  async get(id: string): Promise<SessionRow | undefined> {
    return this.#db.selectFrom('gate_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }
}
