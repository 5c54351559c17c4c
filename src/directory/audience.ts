import { sql, type Kysely, type RawBuilder } from 'kysely';
import { chunks, type Database } from '../core/db/database.ts';
import { MINUTE } from '../core/time.ts';
import type { InstanceAudience, NodeStream } from './contract.ts';

/** Which audiences to answer: one event's instances, and only the minutes heard between `start` and `end` (epoch ms). */
export interface AudienceQuery {
  event?: string;
  start?: number;
  end?: number;
}

interface AudienceRow {
  event: string;
  start: string;
  minute: number;
  node: string;
  region: string;
  listener_ms: number;
  peak: number;
}

// Seven values a row: well under SQLite's 32,766 parameters a statement.
const ROWS_A_STATEMENT = 1000;

const tenths = (value: number) => Math.round(value * 10) / 10;

/**
 * A programme instance's listeners over every node, from the nodes' reports: per minute and node, listener-milliseconds
 * and the most at once. Kept for good (nothing cleans it: a row a minute per node and instance heard is small beside
 * what it tells a station afterwards).
 */
export class Audience {
  readonly #db: Kysely<any>;

  constructor(database: Database) {
    this.#db = database.kysely;
  }

  /** Counts one report of `node`: each stream of an instance with listeners adds `intervalMs` per listener to the minute of `at`. */
  async record(node: { id: string; region: string }, streams: readonly NodeStream[], intervalMs: number, at: number): Promise<void> {
    const rows = rowsOf(node, streams, intervalMs, Math.floor(at / MINUTE) * MINUTE);
    for (const part of chunks(rows, ROWS_A_STATEMENT)) {
      await this.#db.insertInto('directory_audience').values(part).onConflict((oc) => oc.columns(['event', 'start', 'minute', 'node']).doUpdateSet({
        listener_ms: sql`directory_audience.listener_ms + excluded.listener_ms`,
        peak: sql`CASE WHEN excluded.peak > directory_audience.peak THEN excluded.peak ELSE directory_audience.peak END`,
      })).execute();
    }
  }

  /** Each instance heard (within the query), first heard first. */
  async between(query: AudienceQuery): Promise<InstanceAudience[]> {
    const where = conditions(query);
    // A minute's listeners at once: the sum over nodes of each node's most in that minute; the first minute of the most is the peak's.
    const totals = await sql<{ event: string; start: string; minutes: number; first: number; last: number; peak: number; peak_at: number }>`
      WITH minutes AS (
        SELECT event, start, minute, SUM(peak) AS listeners,
          ROW_NUMBER() OVER (PARTITION BY event, start ORDER BY SUM(peak) DESC, minute) AS place
        FROM directory_audience WHERE ${where} GROUP BY event, start, minute
      )
      SELECT event, start, COUNT(*) AS minutes, MIN(minute) AS first, MAX(minute) AS last, MAX(listeners) AS peak,
        MIN(CASE WHEN place = 1 THEN minute END) AS peak_at
      FROM minutes GROUP BY event, start ORDER BY first, event, start`.execute(this.#db);
    const regions = await sql<{ event: string; start: string; region: string; ms: number }>`
      SELECT event, start, region, SUM(listener_ms) AS ms FROM directory_audience WHERE ${where} GROUP BY event, start, region`.execute(this.#db);
    const byInstance = new Map<string, Map<string, number>>();
    for (const row of regions.rows) {
      const key = `${row.event} ${row.start}`;
      byInstance.set(key, (byInstance.get(key) ?? new Map()).set(row.region, Number(row.ms)));
    }
    return totals.rows.map((row) => {
      const heard = byInstance.get(`${row.event} ${row.start}`)!;
      const ms = [...heard.values()].reduce((sum, value) => sum + value, 0);
      return {
        event: row.event, start: row.start, peakListeners: Number(row.peak), peakAt: Number(row.peak_at),
        averageListeners: tenths(ms / MINUTE / Number(row.minutes)), listenerMinutes: tenths(ms / MINUTE),
        regions: Object.fromEntries([...heard].map(([region, value]) => [region, tenths(value / MINUTE)])),
        firstHeardAt: Number(row.first), lastHeardAt: Number(row.last),
      };
    });
  }
}

/** One row per instance heard on the node: two channels airing the same instance at once add up. */
function rowsOf(node: { id: string; region: string }, streams: readonly NodeStream[], intervalMs: number, minute: number): AudienceRow[] {
  const rows = new Map<string, AudienceRow>();
  for (const { instance, subscribers } of streams) {
    if (instance === null || subscribers <= 0) continue;
    const key = `${instance.event} ${instance.start}`;
    const row = rows.get(key) ?? { event: instance.event, start: instance.start, minute, node: node.id, region: node.region, listener_ms: 0, peak: 0 };
    row.listener_ms += subscribers * intervalMs;
    row.peak += subscribers;
    rows.set(key, row);
  }
  return [...rows.values()];
}

/** The minutes that overlap [start, end), of the event if one is named. */
function conditions(query: AudienceQuery): RawBuilder<unknown> {
  const found = [sql`1 = 1`];
  if (query.event !== undefined) found.push(sql`event = ${query.event}`);
  if (query.start !== undefined) found.push(sql`minute > ${query.start - MINUTE}`);
  if (query.end !== undefined) found.push(sql`minute < ${query.end}`);
  return sql.join(found, sql` AND `);
}
