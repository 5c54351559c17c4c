import type { Kysely, Updateable } from 'kysely';
import type { Database } from '../core/db/database.ts';
import type { Announce } from '../core/events/bus.ts';
import type { MessageRow, MessageStatus, SubscriptionRow, WebhookTables } from './migrations.ts';

type Db = Kysely<WebhookTables>;

const CLEAN_BATCH = 5000;

/** What an attempt's outcome changes: the message, and the subscription (a success, a failure, a disable). */
export interface Settlement {
  message: Pick<MessageRow, 'status' | 'attempts' | 'plan' | 'next_at'>;
  subscription?: Updateable<SubscriptionRow>;
}

/** All SQL of the webhooks area; the same statements serve SQLite and PostgreSQL. */
export class WebhookStore {
  readonly #db: Db;

  constructor(database: Database) {
    this.#db = database.kysely as Db;
  }

  async create(row: SubscriptionRow, announce: Announce<SubscriptionRow>): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('webhook_subscriptions').values(row).execute();
      await announce(trx, row);
    });
  }

  list(): Promise<SubscriptionRow[]> {
    return this.#db.selectFrom('webhook_subscriptions').selectAll().orderBy('created_at').orderBy('id').execute();
  }

  get(id: string): Promise<SubscriptionRow | undefined> {
    return this.#db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Changes a subscription and announces it in one transaction; undefined when it does not exist. */
  async change(id: string, patch: Updateable<SubscriptionRow>, announce: Announce<SubscriptionRow>): Promise<SubscriptionRow | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await trx.updateTable('webhook_subscriptions').set(patch).where('id', '=', id).returningAll().executeTakeFirst();
      if (row) await announce(trx, row);
      return row;
    });
  }

  /** Removes a subscription with its messages; false when it did not exist. */
  async remove(id: string, announce: Announce): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('webhook_messages').where('subscription', '=', id).execute();
      const gone = await trx.deleteFrom('webhook_subscriptions').where('id', '=', id).executeTakeFirst();
      if (Number(gone.numDeletedRows) === 0) return false;
      await announce(trx);
      return true;
    });
  }

  enabled(): Promise<SubscriptionRow[]> {
    return this.#db.selectFrom('webhook_subscriptions').selectAll().where('enabled', '=', 1).execute();
  }

  async cursor(): Promise<number> {
    const row = await this.#db.selectFrom('webhook_cursor').select('through').where('id', '=', 1).executeTakeFirstOrThrow();
    return Number(row.through);
  }

  /**
   * Moves the cursor from `from` to `through` and stores the messages of the events between, in one transaction:
   * answers those stored, or undefined (nothing stored) when another instance moved it first. The update locks the
   * cursor's row, so on PostgreSQL a second instance waits for the first to commit, then finds the cursor moved.
   */
  async dispatch(from: number, through: number, messages: MessageRow[]): Promise<MessageRow[] | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const moved = await trx.updateTable('webhook_cursor').set({ through }).where('id', '=', 1).where('through', '=', from).executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) return undefined;
      return this.#insertMessages(trx, messages);
    });
  }

  async insertMessage(message: MessageRow): Promise<void> {
    await this.#insertMessages(this.#db, [message]);
  }

  /** Stores a subscription unless one of its id exists, announcing it then: false when it existed. */
  async createOnce(row: SubscriptionRow, announce: Announce<SubscriptionRow>): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const made = await trx.insertInto('webhook_subscriptions').values(row).onConflict((oc) => oc.column('id').doNothing()).returning('id').executeTakeFirst();
      if (made) await announce(trx, row);
      return made !== undefined;
    });
  }

  /** Stores a message unless one of its id exists: the message as stored, this one or the earlier. */
  async insertOnce(message: MessageRow): Promise<MessageRow> {
    await this.#db.insertInto('webhook_messages').values(message).onConflict((oc) => oc.column('id').doNothing()).execute();
    return (await this.message(message.id))!;
  }

  /** Stores messages, but never two of one event for one subscription; answers those stored. */
  async #insertMessages(db: Kysely<WebhookTables>, messages: MessageRow[]): Promise<MessageRow[]> {
    const stored = new Set<string>();
    for (let i = 0; i < messages.length; i += 500) {
      const rows = await db.insertInto('webhook_messages').values(messages.slice(i, i + 500))
        .onConflict((oc) => oc.columns(['subscription', 'event_id']).doNothing()).returning('id').execute();
      for (const { id } of rows) stored.add(id);
    }
    return messages.filter((m) => stored.has(m.id));
  }

  message(id: string): Promise<MessageRow | undefined> {
    return this.#db.selectFrom('webhook_messages').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Pending messages after `after` (by id), a page at a time. */
  pending(after: string, limit: number): Promise<MessageRow[]> {
    return this.#db.selectFrom('webhook_messages').selectAll().where('status', '=', 'pending').where('id', '>', after)
      .orderBy('id').limit(limit).execute();
  }

  /**
   * Records an attempt's outcome if the message is still at `plan` (a replay moves it on): false otherwise. The
   * subscription's change and what `announce` records go in the same transaction.
   */
  async settle(id: string, plan: number, now: number, settlement: Settlement, announce?: Announce<SubscriptionRow>): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const done = await trx.updateTable('webhook_messages').set({ ...settlement.message, updated_at: now })
        .where('id', '=', id).where('plan', '=', plan).returning('subscription').executeTakeFirst();
      if (!done) return false;
      if (settlement.subscription) {
        const row = await trx.updateTable('webhook_subscriptions').set(settlement.subscription).where('id', '=', done.subscription)
          .returningAll().executeTakeFirst();
        if (row && announce) await announce(trx, row);
      }
      return true;
    });
  }

  /** Makes messages pending again with a new plan, due now; answers them as they now are. */
  async replay(ids: string[], now: number): Promise<MessageRow[]> {
    return this.#nextPlan(ids.map((id) => ({ id })), now);
  }

  /** Gives pending messages a new plan, due now, unless they moved on from the plan given. */
  async replan(messages: Array<Pick<MessageRow, 'id' | 'plan'>>, now: number): Promise<MessageRow[]> {
    return this.#nextPlan(messages, now);
  }

  async #nextPlan(messages: Array<{ id: string; plan?: number }>, now: number): Promise<MessageRow[]> {
    if (messages.length === 0) return [];
    return this.#db.transaction().execute(async (trx) => {
      const rows: MessageRow[] = [];
      for (const { id, plan } of messages) {
        const row = await trx.updateTable('webhook_messages')
          .set((eb) => ({ status: 'pending' as MessageStatus, plan: eb('plan', '+', 1), next_at: now, updated_at: now }))
          .where('id', '=', id).$if(plan !== undefined, (q) => q.where('plan', '=', plan!).where('status', '=', 'pending'))
          .returningAll().executeTakeFirst();
        if (row) rows.push(row);
      }
      return rows;
    });
  }

  /** The messages of a subscription that ended undelivered, created at or after `since`. */
  async undelivered(subscription: string, since: number): Promise<string[]> {
    const rows = await this.#db.selectFrom('webhook_messages').select('id').where('subscription', '=', subscription)
      .where('status', 'in', ['failed', 'aborted', 'dropped']).where('created_at', '>=', since).execute();
    return rows.map((r) => r.id);
  }

  /** Removes the messages that ended (delivered, failed, aborted, dropped) before `before`, a batch at a time. */
  async clean(before: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const gone = await this.#db.deleteFrom('webhook_messages').where('id', 'in', (eb) => eb.selectFrom('webhook_messages').select('id')
        .where('status', '!=', 'pending').where('updated_at', '<', before).limit(CLEAN_BATCH)).executeTakeFirst();
      removed += Number(gone.numDeletedRows);
      if (Number(gone.numDeletedRows) < CLEAN_BATCH) return removed;
    }
  }
}
