import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  /** A fresh, empty database for one test; undefined means SQLite in the test's data dir. */
  create(): Promise<string | undefined>;
  drop(url: string | undefined): Promise<void>;
}

const ADMIN_URL = process.env.ONAIR_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

const sqlite: TestDatabase = { name: 'sqlite', create: async () => undefined, drop: async () => {} };

const postgres: TestDatabase = {
  name: 'postgres',
  async create() {
    const name = `onair_test_${randomBytes(6).toString('hex')}`;
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    return url.toString();
  },
  async drop(url) {
    if (!url) return;
    const name = new URL(url).pathname.slice(1);
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  },
};

/**
 * The databases every storage test runs against. PostgreSQL is required in CI; elsewhere, when no
 * server answers, its tests are skipped with a loud message rather than failing.
 */
export const testDatabases: TestDatabase[] = await (async () => {
  if (await postgresReachable()) return [sqlite, postgres];
  const message = `PostgreSQL is not reachable at ${ADMIN_URL}`;
  if (process.env.CI) throw new Error(`${message}: CI must run the PostgreSQL tests`);
  process.stderr.write(`\n!!! ${message}: PostgreSQL tests are SKIPPED. Run 'npm run setup' to install and start it. !!!\n\n`);
  return [sqlite];
})();

export const postgresAvailable = testDatabases.some((d) => d.name === 'postgres');
export { postgres as postgresDatabase };
