import type { Kysely, Updateable } from 'kysely';
import type { Database } from '../core/db/database.ts';
import type { Announce } from '../core/events/bus.ts';
import type { GateTables, SessionRow } from './migrations.ts';

type Db = Kysely<GateTables>;

export type SessionPatch = Updateable<SessionRow>;

/** All SQL of the gate; the same statements serve SQLite and PostgreSQL. */
export class GateStore {
  readonly #db: Db;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
  }

  /** Takes the channel's slot and records the session, or answers false when another session holds it. */
  async claim(session: SessionRow, now: number): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const inserted = await trx.insertInto('gate_slots')
        .values({ channel: session.channel, session_id: session.id, owner: session.owner, heartbeat_at: now })
        .onConflict((oc) => oc.column('channel').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      await trx.insertInto('gate_sessions').values(session).execute();
      return true;
    });
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
    return this.#db.selectFrom('gate_slots')
      .innerJoin('gate_sessions', 'gate_sessions.id', 'gate_slots.session_id')
      .selectAll('gate_sessions')
      .where('gate_slots.channel', '=', channel)
      .executeTakeFirst();
  }

  async history(channel: string, limit: number): Promise<SessionRow[]> {
    return this.#db.selectFrom('gate_sessions').selectAll().where('channel', '=', channel)
      .orderBy('reserved_at', 'desc').orderBy('id').limit(limit).execute();
  }

  async get(id: string): Promise<SessionRow | undefined> {
    return this.#db.selectFrom('gate_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }
}
