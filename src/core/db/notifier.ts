import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from 'pino';

/**
 * Wakes other onair instances sharing the database. On SQLite there is only one instance,
 * so notifications stay in the process; on PostgreSQL they travel by LISTEN/NOTIFY.
 */
export interface Notifier {
  notify(channel: string, payload: string): Promise<void>;
  listen(channel: string, handler: (payload: string) => void): void;
}

export function localNotifier(): Notifier {
  const emitter = new EventEmitter().setMaxListeners(0);
  return {
    notify: async (channel, payload) => {
      emitter.emit(channel, payload);
    },
    listen: (channel, handler) => {
      emitter.on(channel, handler);
    },
  };
}

const RECONNECT_MS = 1000;

/** One dedicated connection LISTENs; it reconnects after a failure and re-subscribes every channel. */
export class PostgresNotifier implements Notifier {
  #pool: pg.Pool;
  #url: string;
  #logger: Logger;
  #client: pg.Client | undefined;
  #handlers = new Map<string, Array<(payload: string) => void>>();
  #stopped = false;
  #reconnect: NodeJS.Timeout | undefined;
  #subscribing: Promise<void> = Promise.resolve();

  constructor(pool: pg.Pool, url: string, logger: Logger) {
    this.#pool = pool;
    this.#url = url;
    this.#logger = logger;
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url });
    client.on('notification', (message) => {
      for (const handler of this.#handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('connection ended')));
    await client.connect();
    for (const channel of this.#handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    this.#client = client;
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#client !== client || this.#stopped) return;
    this.#client = undefined;
    this.#logger.warn({ err: error }, 'LISTEN connection lost; reconnecting');
    client.end().catch(() => {});
    const retry = () => {
      this.#reconnect = undefined;
      if (this.#stopped) return;
      this.start().catch((err: unknown) => {
        this.#logger.warn({ err }, 'LISTEN reconnect failed');
        this.#reconnect = setTimeout(retry, RECONNECT_MS);
      });
    };
    this.#reconnect = setTimeout(retry, RECONNECT_MS);
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.#pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  listen(channel: string, handler: (payload: string) => void): void {
    const handlers = this.#handlers.get(channel);
    if (handlers) {
      handlers.push(handler);
      return;
    }
    this.#handlers.set(channel, [handler]);
    const client = this.#client;
    if (!client) return;
    // One query at a time on the LISTEN connection: areas subscribe in quick succession.
    this.#subscribing = this.#subscribing
      .then(() => client.query(`LISTEN ${pg.escapeIdentifier(channel)}`))
      .then(() => undefined, (err: unknown) => this.#logger.error({ err, channel }, 'LISTEN failed'));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#reconnect);
    const client = this.#client;
    this.#client = undefined;
    await this.#subscribing;
    await client?.end();
  }
}
