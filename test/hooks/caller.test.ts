import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { ManualClock, type Alarm } from '../../src/core/clock.ts';
import { Refused } from '../../src/core/errors.ts';
import { AUTHORIZATIONS, hookApps, type Authorization, type HookApp } from '../../src/core/hook-apps.ts';
import { HookCaller, type HookFailure } from '../../src/hooks/caller.ts';
import { Backend, type Answer } from './backend.ts';
import { realOutbound } from './outbound.ts';
import { waitFor } from '../support/onair.ts';

const logger = pino({ level: 'silent' });

function app(url: string, fields: Record<string, unknown> = {}): HookApp {
  return hookApps(JSON.stringify([{ name: 'station', url, timeout: 'PT0.3S', ...fields }]), (message) => {
    throw new Error(message);
  })[0]!;
}

/** A ManualClock that knows when someone waits on it: the caller pausing before it tries again. */
class PausingClock extends ManualClock {
  readonly #pauses = new Set<number>();

  at(at: number, callback: () => void): Alarm {
    this.#pauses.add(at);
    const alarm = super.at(at, () => {
      this.#pauses.delete(at);
      callback();
    });
    return {
      cancel: () => {
        this.#pauses.delete(at);
        alarm.cancel();
      },
    };
  }

  /** The earliest time someone waits for. */
  get pause(): number | undefined {
    return this.#pauses.size === 0 ? undefined : Math.min(...this.#pauses);
  }

  /** Answers `call`, moving the clock to the end of each pause it takes on the way; `pauses` gets their lengths. */
  async through<T>(call: Promise<T>, pauses: number[] = []): Promise<T> {
    let done = false;
    void call.then(() => (done = true), () => (done = true));
    for (;;) {
      await waitFor(() => done || this.pause !== undefined, 'a pause or the answer');
      if (done) return call;
      pauses.push(this.pause! - this.now());
      this.set(this.pause!);
    }
  }
}

function onError(method: Authorization, restOnError: 'LOG' | 'FAIL') {
  return { restClientConfig: { [method]: { restOnError } } };
}

/** How each backend behaves, and whether a call is let through under LOG and under FAIL (connect apart). */
const BEHAVIOURS: Array<{ name: string; answer: Answer | 'down'; log: boolean; fail: boolean; connect?: boolean }> = [
  { name: 'allows (200)', answer: { body: { status: 200 } }, log: true, fail: true },
  { name: 'refuses in its answer ({status: 403, reason})', answer: { body: { status: 403, reason: 'no ticket' } }, log: false, fail: false },
  { name: 'answers 403', answer: { status: 403, body: { reason: 'no ticket' } }, log: true, fail: false, connect: false },
  { name: 'answers 500', answer: { status: 500 }, log: true, fail: false, connect: false },
  { name: 'is slow (past the timeout)', answer: { delayMs: 2000 }, log: true, fail: false },
  { name: 'is down', answer: 'down', log: true, fail: false },
];

describe('REST hook authorizations', () => {
  let backend: Backend;
  let down: string;
  let outbound: Awaited<ReturnType<typeof realOutbound>>;
  let caller: HookCaller;
  // The cache's clock; the outbound client's timeouts run on the system clock.
  const clock = new PausingClock(Date.UTC(2026, 11, 6, 8));
  before(async () => {
    backend = await Backend.start();
    down = await Backend.down();
    outbound = await realOutbound();
    caller = new HookCaller({ outbound: outbound.outbound, clock, logger, failed: async () => {} });
  });
  after(async () => {
    await backend.close();
    await outbound.close();
  });

  let credential = 0;
  for (const method of AUTHORIZATIONS) {
    for (const restOnError of ['LOG', 'FAIL'] as const) {
      for (const behaviour of BEHAVIOURS) {
        const allowed = (method === 'connect' ? behaviour.connect : undefined) ?? (restOnError === 'LOG' ? behaviour.log : behaviour.fail);
        test(`${method}, ${restOnError}: a backend that ${behaviour.name} ${allowed ? 'lets it through' : 'refuses'}`, async () => {
          const url = behaviour.answer === 'down' ? down : backend.url;
          if (behaviour.answer !== 'down') backend.answer(method, behaviour.answer);
          const asked = clock.through(caller.authorize(app(url, onError(method, restOnError)), method, { name: 'main' }, `listener-${credential++}`));
          if (allowed) assert.deepEqual(await asked, {});
          else {
            const refusal = await asked.then(() => assert.fail('let through'), (error: unknown) => error);
            assert.ok(refusal instanceof Refused, String(refusal));
            if (behaviour.name.includes('reason')) assert.match(refusal.message, /no ticket/);
          }
        });
      }
    }
  }

  test('a send error is tried again 3 times, 100, 200 and 400 ms later, within the call\'s timeout; an answer or a timeout never', async (t) => {
    const backend = await Backend.start();
    t.after(() => backend.close());
    const pauses: number[] = [];
    const ask = (method: Authorization, timeout = 'PT1S') =>
      clock.through(caller.authorize(app(backend.url, { ...onError(method, 'FAIL'), timeout }), method, {}, `retry-${credential++}`), pauses);
    backend.answer('connect', (_body, n) => (n <= 2 ? 'hang-up' : {}));
    assert.deepEqual(await ask('connect'), {});
    assert.equal(backend.of('connect').length, 3);
    assert.deepEqual(pauses.splice(0), [100, 200]);
    backend.answer('publishStream', 'hang-up');
    await assert.rejects(ask('publishStream'), Refused);
    assert.equal(backend.of('publishStream').length, 4);
    assert.deepEqual(pauses.splice(0), [100, 200, 400]);
    const logged = await outbound.outbound.deliveries({ kind: 'hook', subscriber: 'station', limit: 100 });
    assert.deepEqual(logged.filter((d) => d.type === 'publishStream' && d.url === `${backend.url}/publishStream`).map((d) => d.attempt).sort(), [1, 2, 3, 4]);
    // Within 0.3 s a second try starts (at 100 ms), a third (at 300 ms) would not.
    await assert.rejects(ask('publishStream', 'PT0.3S'), Refused);
    assert.equal(backend.of('publishStream').length, 6);
    assert.deepEqual(pauses.splice(0), [100]);
    backend.answer('playStream', { status: 500 });
    await assert.rejects(ask('playStream'), Refused);
    backend.answer('playStream', { delayMs: 1500 });
    await assert.rejects(ask('playStream'), Refused);
    assert.equal(backend.of('playStream').length, 2);
  });

  test('restExclude keeps fields from the backend; OVERWRITE takes restOverwrite\'s fields but clientExclude\'s', async () => {
    backend.answer('connect', { body: { record: true, metadata: { title: 'Chosen' }, name: 'other' } });
    const station = app(backend.url, {
      restClientConfig: { connect: { restExclude: 'client,metadata', restPolicy: 'OVERWRITE', restOverwrite: ['record', 'metadata', 'bitrate'], clientExclude: ['metadata'] } },
    });
    const taken = await caller.authorize(station, 'connect', { name: 'main', client: '10.0.0.7', metadata: { title: 'x' }, record: false }, 'overwrite');
    assert.deepEqual(taken, { record: true });
    assert.deepEqual(backend.of('connect').at(-1), { name: 'main', record: false });
  });

  test('an app whose URL has a query is posted to {path}/{Method} with that query', async () => {
    backend.answer('connect', {});
    await caller.authorize(app(`${backend.url}?ticket=station-secret`), 'connect', {}, `query-${credential++}`);
    assert.equal(backend.calls.at(-1)!.path, '/rest/my_api/connect?ticket=station-secret');
  });

  test('under LOG an error answer lets it through but overwrites nothing', async () => {
    backend.answer('publishStream', { status: 500, body: { record: true } });
    const station = app(backend.url, { restClientConfig: { publishStream: { restPolicy: 'OVERWRITE', restOverwrite: ['record'] } } });
    assert.deepEqual(await caller.authorize(station, 'publishStream', {}, `error-${credential++}`), {});
  });

  test('an app asked for no method, or a method DISABLED (or DISABLE), is not called', async () => {
    const before = backend.calls.length;
    backend.answer('playStream', { status: 403 });
    for (const fields of [{ methods: [] }, { methods: ['connect'] }, { restClientConfig: { playStream: { restPolicy: 'DISABLE', restOnError: 'FAIL' } } }]) {
      assert.deepEqual(await caller.authorize(app(backend.url, fields), 'playStream', {}, `disabled-${credential++}`), {});
    }
    assert.equal(backend.calls.length, before);
  });

  test('answers are cached per app, method and credential: playStream for 5 s, or the answer\'s cacheTtl; connect not', async () => {
    const station = app(backend.url);
    const count = (method: string) => backend.of(method).length;
    const played = count('playStream');
    backend.answer('playStream', { body: { status: 403, reason: 'sold out' } });
    for (let i = 0; i < 3; i++) await assert.rejects(caller.authorize(station, 'playStream', {}, 'ticket-1'), /sold out/);
    assert.equal(count('playStream'), played + 1);
    clock.advance(5_001);
    backend.answer('playStream', { body: { cacheTtl: 60 } });
    await caller.authorize(station, 'playStream', {}, 'ticket-1');
    await caller.authorize(station, 'playStream', {}, 'ticket-2');
    clock.advance(59_000);
    await caller.authorize(station, 'playStream', {}, 'ticket-1');
    await caller.authorize(station, 'playStream', {}, 'ticket-2');
    assert.equal(count('playStream'), played + 3);
    const connected = count('connect');
    backend.answer('connect', {});
    await caller.authorize(station, 'connect', {}, 'same');
    await caller.authorize(station, 'connect', {}, 'same');
    assert.equal(count('connect'), connected + 2);
  });

  test('the cache keeps a credential in a few bytes, however long the listener\'s query that makes it', async () => {
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    const station = app(backend.url);
    backend.answer('playStream', { body: { cacheTtl: 60 } });
    collect();
    const before = process.memoryUsage().heapUsed;
    // A listener's query is part of the credential; 10,000 kept of the 16 KiB a request line may have would be 160 MiB.
    for (let i = 0; i < 50; i++) await caller.authorize(station, 'playStream', {}, `${i}${'é'.repeat(1 << 20)}`);
    collect();
    const kept = process.memoryUsage().heapUsed - before;
    assert.ok(kept < 20 * 1024 * 1024, `the cache keeps ${Math.round(kept / 1024 / 1024)} MiB for 50 credentials`);
  });
});

describe('REST hook events', () => {
  let backend: Backend;
  let outbound: Awaited<ReturnType<typeof realOutbound>>;
  let caller: HookCaller;
  const failures: HookFailure[] = [];
  before(async () => {
    backend = await Backend.start();
    outbound = await realOutbound();
    caller = new HookCaller({ outbound: outbound.outbound, clock: new ManualClock(0), logger, failed: async (failure) => void failures.push(failure) });
  });
  after(async () => {
    await backend.close();
    await outbound.close();
  });

  test('FAIL makes a failed event an ErrorEvent naming the method and the error; LOG only logs it', async () => {
    backend.answer('StreamStatusEvent', { status: 500, body: { reason: 'database down' } });
    const event = { name: 'main', mediaSessionId: 'm', status: 'PUBLISHING' };
    const fail = app(backend.url, { restClientConfig: { StreamStatusEvent: { restOnError: 'FAIL' } } });
    assert.equal(await caller.notify(app(backend.url), 'StreamStatusEvent', event, null), 500);
    assert.equal(failures.length, 0);
    assert.equal(await caller.notify(fail, 'StreamStatusEvent', event, 7), 500);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.method, 'StreamStatusEvent');
    assert.equal(failures[0]!.eventId, 7);
    assert.match(failures[0]!.error, /500: database down/);
  });

  test('an event answers the status in the backend\'s answer first (a keep-alive\'s 403)', async () => {
    backend.answer('StreamKeepAliveEvent', { body: { status: 403 } });
    assert.equal(await caller.notify(app(backend.url), 'StreamKeepAliveEvent', {}, null), 403);
    backend.answer('StreamKeepAliveEvent', {});
    assert.equal(await caller.notify(app(backend.url), 'StreamKeepAliveEvent', {}, null), 200);
  });
});
