import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { cooperate } from '../cooperate.ts';
import type { DeliveryAttempt, DeliveryFilter } from './contract.ts';
import type { DeliveryRow, DeliveryTables } from './migrations.ts';

const CLEAN_BATCH = 5000;
const SEQUENCE = 36 ** 4;

/** The delivery log: every attempt of an outgoing call that carried a DeliveryTag, newest first. */
export class DeliveryLog {
  readonly #db: Kysely<DeliveryTables>;
  #sequence = 0;

  constructor(db: Kysely<any>) {
    this.#db = db;
  }

  /**
   * Ids sort as the attempts were logged: the time, then a counter of this process (attempts logged in one
   * millisecond keep their order), then random characters that keep instances apart. Lowercase letters and digits
   * only, of one length, so that every collation sorts them alike.
   */
  #nextId(at: number): string {
    this.#sequence = (this.#sequence + 1) % SEQUENCE;
    const random = randomBytes(8).readBigUInt64BE().toString(36).padStart(13, '0').slice(0, 6);
    return `${at.toString(36).padStart(9, '0')}${this.#sequence.toString(36).padStart(4, '0')}${random}`;
  }

  async add(attempt: Omit<DeliveryAttempt, 'id'>): Promise<string> {
    const id = this.#nextId(attempt.at);
    await this.#db.insertInto('onair_deliveries').values({
      id, kind: attempt.kind, subscriber: attempt.subscriber, message: attempt.message, event_id: attempt.eventId,
      type: attempt.type, attempt: attempt.attempt, at: attempt.at, url: attempt.url,
      request_headers: JSON.stringify(attempt.requestHeaders), status: attempt.status, duration_ms: attempt.durationMs,
      error: attempt.error, response_headers: JSON.stringify(attempt.responseHeaders), excerpt: attempt.excerpt,
    }).execute();
    return id;
  }

  async list(filter: DeliveryFilter): Promise<DeliveryAttempt[]> {
    let query = this.#db.selectFrom('onair_deliveries').selectAll().where('kind', '=', filter.kind);
    if (filter.subscriber !== undefined) query = query.where('subscriber', '=', filter.subscriber);
    if (filter.message !== undefined) query = query.where('message', '=', filter.message);
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.before !== undefined) query = query.where('id', '<', filter.before);
    if (filter.failed !== undefined) {
      query = query.where((eb) => {
        const succeeded = eb.and([eb('status', '>=', 200), eb('status', '<=', 299)]);
        return filter.failed ? eb.or([eb('status', 'is', null), eb.not(succeeded)]) : succeeded;
      });
    }
    const rows = await query.orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(attemptOf);
  }

  async get(id: string): Promise<DeliveryAttempt | undefined> {
    const row = await this.#db.selectFrom('onair_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return row && attemptOf(row);
  }

  /** Removes the attempts logged before `before`, a batch at a time; answers how many. */
  async clean(before: number): Promise<number> {
    const turn = cooperate();
    let removed = 0;
    for (;;) {
      await turn();
      const gone = await this.#db.deleteFrom('onair_deliveries').where('id', 'in', (eb) =>
        eb.selectFrom('onair_deliveries').select('id').where('at', '<', before).limit(CLEAN_BATCH)).executeTakeFirst();
      const count = Number(gone.numDeletedRows);
      removed += count;
      if (count < CLEAN_BATCH) return removed;
    }
  }
}

function attemptOf(row: DeliveryRow): DeliveryAttempt {
  return {
    id: row.id, kind: row.kind as DeliveryAttempt['kind'], subscriber: row.subscriber, message: row.message,
    eventId: row.event_id === null ? null : Number(row.event_id), type: row.type, attempt: row.attempt, at: Number(row.at),
    url: row.url, requestHeaders: JSON.parse(row.request_headers), status: row.status, durationMs: row.duration_ms,
    error: row.error, responseHeaders: JSON.parse(row.response_headers), excerpt: row.excerpt,
  };
}
