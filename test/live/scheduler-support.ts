import assert from 'node:assert/strict';
import type { Clock } from '../../src/core/clock.ts';
import type { TestDatabase } from '../support/databases.ts';
import { startOnair, waitFor, type Answer, type Running } from '../support/onair.ts';

/** The seed's account and the moment its examples are written for (its broadcast starts at 14:00Z, activation at 17:55Z). */
export const SEED_ACCOUNT = '1752604059001';
export const SEED_NOW = Date.parse('2021-04-02T13:00:00Z');
export const PATH = '/v1/scheduler/jobstartstop';

/** This part's own SRT ports; loopback receivers allowed. */
export function liveEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ONAIR_ACCOUNT_ID: SEED_ACCOUNT, ONAIR_SRT_PORT_START: '26000', ONAIR_SRT_PORT_END: '26499',
    ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.0/8', ...extra,
  };
}

export function startLive(database: TestDatabase, clock: Clock, options: { env?: Record<string, string>; dataDir?: string; databaseUrl?: string } = {}): Promise<Running> {
  return startOnair({ database, clock, env: liveEnv(options.env), dataDir: options.dataDir, databaseUrl: options.databaseUrl });
}

/** A real static job (a gate channel with its SRT port): no encoder needed for the scheduler's tests, so it waits long. */
export async function createJob(server: Running, fields: Record<string, unknown> = {}): Promise<{ id: string; ingest: { port: number } }> {
  const answer = await server.request('POST', '/v1/jobs', { static: true, max_waiting_time: 7200, ...fields });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body;
}

export async function jobState(server: Running, job: string): Promise<string> {
  return (await server.request('GET', `/v1/jobs/${job}`)).body.state;
}

export async function schedule(server: Running, job: string, activation: number, deactivation: number, extra: Record<string, unknown> = {}): Promise<any> {
  const answer = await server.request('POST', PATH, { job_id: job, activation: { time_utc: activation }, deactivation: { time_utc: deactivation }, ...extra });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

export async function workflow(server: Running, id: string): Promise<any> {
  const answer = await server.request('GET', `${PATH}/${id}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

/** Waits until the workflow's activation or deactivation is in `state`; answers the workflow. */
export function reaches(server: Running, id: string, kind: 'activation' | 'deactivation', state: string): Promise<any> {
  return waitFor(async () => {
    const found = await workflow(server, id);
    return found[kind].state === state ? found : undefined;
  }, `${kind} of ${id} ${state}`);
}

/** A refusal in seed 001's form: `{"error"}` naming the field. */
export function refused(answer: Answer, status: number, ...words: string[]): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.deepEqual(Object.keys(answer.body), ['error'], JSON.stringify(answer.body));
  for (const word of words) assert.ok(answer.body.error.includes(word), `"${answer.body.error}" should name ${word}`);
}

/** A success, or a 4xx in seed 001's form: never a 5xx. */
export function answered(answer: Answer, what: string): void {
  assert.ok(answer.status < 500, `${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
  if (answer.status >= 400) {
    assert.deepEqual(Object.keys(answer.body ?? {}), ['error'], `${what}: ${JSON.stringify(answer.body)}`);
    assert.equal(typeof answer.body.error, 'string', what);
  }
}
