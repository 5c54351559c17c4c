import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { pino, type Logger } from 'pino';
import { ManualClock, systemClock, type Clock } from '../../src/core/clock.ts';
import { ConfigError, loadConfig } from '../../src/core/config.ts';
import { migrate, openDatabase } from '../../src/core/db/database.ts';
import { InvalidInput } from '../../src/core/errors.ts';
import { keepEvents } from '../../src/core/events/retention.ts';
import { createMetrics, type Metrics } from '../../src/core/metrics.ts';
import type { Resolver } from '../../src/core/outbound/client.ts';
import { AddressGuard } from '../../src/core/outbound/address.ts';
import { createOutbound, OutboundError, outboundMigrations, type OutboundService } from '../../src/core/outbound/index.ts';
import { VERSION } from '../../src/core/version.ts';
import { testDatabases, type TestDatabase } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Receiver {
  /** http://127.0.0.1:PORT */
  base: string;
  port: number;
  requests: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>;
  close(): Promise<void>;
}

/** A real HTTP server on loopback that keeps every request and answers with `answer`. */
async function receiver(answer: (request: IncomingMessage, response: ServerResponse) => void = (_q, s) => void s.end('ok'), host = '127.0.0.1'): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      requests.push({ method: request.method!, url: request.url!, headers: request.headers, body });
      answer(request, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, port, requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

interface Opened {
  outbound: OutboundService;
  metrics: Metrics;
  close(): Promise<void>;
}

async function openOutbound(options: { allowed?: string; clock?: Clock; database?: TestDatabase; resolver?: Resolver; logger?: Logger } = {}): Promise<Opened> {
  const kind = options.database ?? testDatabases[0]!;
  const url = await kind.create();
  const dataDir = tempDir('onair-outbound-');
  const config = loadConfig({ ONAIR_DATA_DIR: dataDir, ONAIR_ALLOWED_PRIVATE_ADDRESSES: options.allowed ?? '', ...(url ? { ONAIR_DATABASE_URL: url } : {}) });
  const logger = options.logger ?? pino({ level: 'silent' });
  const metrics = createMetrics();
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, logger });
  await migrate(database, outboundMigrations);
  const outbound = createOutbound({ config, database, clock: options.clock ?? systemClock, logger, metrics, resolver: options.resolver });
  return {
    outbound, metrics,
    async close() {
      await database.close();
      await kind.drop(url);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function refusedAddress(promise: Promise<unknown>): Promise<OutboundError> {
  const error = await promise.then(() => assert.fail('expected a refusal'), (e: unknown) => e);
  assert.ok(error instanceof OutboundError, `expected an OutboundError, got ${error}`);
  return error;
}

/** Host forms that all lead to loopback, reachable by the loopback receiver on `port`. */
const loopbackForms = (port: number) => [
  `http://127.0.0.1:${port}/`, `http://2130706433:${port}/`, `http://0x7f.1:${port}/`, `http://017700000001:${port}/`,
  `http://127.1:${port}/`, `http://0x7f000001:${port}/`, `http://0177.1:${port}/`, `http://127.0.0.1.:${port}/`, `http://%31%32%37.0.0.1:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, `http://[::ffff:7f00:1]:${port}/`,
  `http://localhost:${port}/`,
];

/** Refused addresses that lead elsewhere, each with the CIDR that allows it. */
const OTHER_REFUSED: Array<[string, string]> = [
  ['http://127.0.0.2/', '127.0.0.0/8'],
  ['http://10.1.2.3/', '10.0.0.0/8'],
  ['http://172.16.0.1/', '172.16.0.0/12'],
  ['http://192.168.1.1/', '192.168.0.0/16'],
  ['http://169.254.169.254/latest/meta-data/', '169.254.169.254/32'],
  ['http://100.64.0.1/', '100.64.0.0/10'],
  ['http://224.0.0.1/', '224.0.0.0/4'],
  ['http://255.255.255.255/', '255.255.255.255/32'],
  ['http://0.0.0.0/', '0.0.0.0/8'],
  ['http://0/', '0.0.0.0/32'],
  ['http://198.18.0.1/', '198.18.0.0/15'],
  ['http://192.0.0.8/', '192.0.0.0/24'],
  ['http://240.0.0.1/', '240.0.0.0/4'],
  ['http://[::1]/', '::1/128'],
  ['http://[::]/', '::/128'],
  ['http://[fd00::1]/', 'fc00::/7'],
  ['http://[fe80::1]/', 'fe80::/10'],
  ['http://[ff02::1]/', 'ff00::/8'],
  ['http://[::ffff:10.0.0.1]/', '10.0.0.0/8'],
  ['http://[::ffff:169.254.169.254]/', '169.254.0.0/16'],
  ['http://[64:ff9b::a9fe:a9fe]/', '169.254.0.0/16'],
  ['http://[2002:7f00:1::]/', '127.0.0.0/8'],
  ['http://[::127.0.0.1]/', '127.0.0.0/8'],
];

describe('the address guard', () => {
  let loopback: Receiver;
  let guarded: Opened;
  let allowing: Opened;
  before(async () => {
    loopback = await receiver();
    guarded = await openOutbound();
    allowing = await openOutbound({ allowed: '127.0.0.0/8' });
  });
  after(async () => {
    await loopback.close();
    await guarded.close();
    await allowing.close();
  });

  test('check refuses every form of a loopback address, naming the field', async () => {
    for (const url of loopbackForms(loopback.port)) {
      await assert.rejects(guarded.outbound.check(url, 'url'), (error: unknown) => {
        assert.ok(error instanceof InvalidInput, url);
        assert.equal(error.field, 'url');
        assert.match(error.message, /loopback/, url);
        return true;
      });
    }
  });

  test('send refuses every form of a loopback address, and the receiver is never hit', async () => {
    for (const url of loopbackForms(loopback.port)) {
      const error = await refusedAddress(guarded.outbound.send({ url, trust: 'api', body: '{}' }));
      assert.equal(error.failure, 'refused-address', url);
    }
    assert.equal(loopback.requests.length, 0);
  });

  test('every form is let through once its CIDR is allowed, and reaches the receiver', async () => {
    for (const url of loopbackForms(loopback.port)) {
      await allowing.outbound.check(url, 'url');
      const answer = await allowing.outbound.send({ url, trust: 'api', body: '{}' });
      assert.equal(answer.status, 200, url);
    }
    assert.equal(loopback.requests.length, loopbackForms(loopback.port).length);
  });

  test('a refusal names the address, and the IPv4 address an IPv6 form carries', async () => {
    const said = async (url: string) => (await refusedAddress(guarded.outbound.send({ url, trust: 'api' }))).message;
    assert.equal(await said('http://[::1]/'), '::1, the loopback address, which ONAIR_ALLOWED_PRIVATE_ADDRESSES does not allow');
    assert.equal(await said('http://[::ffff:10.0.0.1]/'), '::ffff:a00:1, a private address (10.0.0.1), which ONAIR_ALLOWED_PRIVATE_ADDRESSES does not allow');
    assert.equal(await said('http://[2002:a9fe:a9fe::]/'), '2002:a9fe:a9fe::, a link-local address (169.254.169.254), which ONAIR_ALLOWED_PRIVATE_ADDRESSES does not allow');
    assert.equal(await said('http://0x7f.1/'), '127.0.0.1, a loopback address, which ONAIR_ALLOWED_PRIVATE_ADDRESSES does not allow');
  });

  test('other refused ranges: refused, then allowed by their CIDR', async () => {
    for (const [url, cidr] of OTHER_REFUSED) {
      await assert.rejects(guarded.outbound.check(url, 'notification_url'), (error: unknown) =>
        error instanceof InvalidInput && error.field === 'notification_url', url);
      assert.equal((await refusedAddress(guarded.outbound.send({ url, trust: 'api' }))).failure, 'refused-address', url);
      const opened = await openOutbound({ allowed: cidr });
      try {
        await opened.outbound.check(url, 'url');
      } finally {
        await opened.close();
      }
    }
  });

  test('public addresses pass without any allowed range', async () => {
    for (const url of ['https://93.184.215.14/hook', 'http://8.8.8.8:8080/', 'https://[2606:4700:4700::1111]/', 'http://[::ffff:1.1.1.1]/', 'http://[64:ff9b::808:808]/']) {
      await guarded.outbound.check(url, 'url');
    }
  });

  test('only http and https URLs', async () => {
    for (const url of ['ftp://example.com/', 'file:///etc/passwd', 'gopher://127.0.0.1/', 'not a url']) {
      await assert.rejects(allowing.outbound.check(url, 'url'), (error: unknown) => error instanceof InvalidInput && /http or https/.test(error.message), url);
      assert.equal((await refusedAddress(allowing.outbound.send({ url, trust: 'operator' }))).failure, 'refused-address', url);
    }
  });

  test('a redirect to loopback is answered as the redirect, never followed', async () => {
    const target = await receiver();
    const redirecting = await receiver((_q, s) => {
      s.writeHead(302, { location: `${target.base}/internal` });
      s.end();
    }, '::1');
    const opened = await openOutbound({ allowed: '::1/128' });
    try {
      const answer = await opened.outbound.send({ url: `${redirecting.base}/hook`, trust: 'api', body: '{}' });
      assert.equal(answer.status, 302);
      assert.equal(answer.headers.location, `${target.base}/internal`);
      assert.equal(redirecting.requests.length, 1);
      assert.equal(target.requests.length, 0);
    } finally {
      await opened.close();
      await target.close();
      await redirecting.close();
    }
  });

  test('operator trust reaches loopback without any allowed range', async () => {
    const answer = await guarded.outbound.send({ url: `http://localhost:${loopback.port}/app/connect`, trust: 'operator', body: '{"a":1}' });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'ok');
    const seen = loopback.requests.at(-1)!;
    assert.equal(seen.url, '/app/connect');
    assert.equal(seen.method, 'POST');
    assert.equal(seen.body, '{"a":1}');
    assert.equal(seen.headers['user-agent'], `onair/${VERSION}`);
    assert.equal(seen.headers['content-type'], 'application/json');
  });
});

describe('the connection goes to the address that was checked', () => {
  test('a name is resolved once: a second answer (DNS rebinding) is never asked for', async () => {
    const server = await receiver();
    const asked: string[] = [];
    const rebinding: Resolver = async (host) => {
      asked.push(host);
      return [{ address: asked.length === 1 ? '127.0.0.1' : '10.0.0.1', family: 4 }];
    };
    const opened = await openOutbound({ allowed: '127.0.0.1', resolver: rebinding });
    try {
      const answer = await opened.outbound.send({ url: `http://station.example:${server.port}/x`, trust: 'api', body: '{}' });
      assert.equal(answer.status, 200);
      assert.deepEqual(asked, ['station.example']);
      assert.equal(server.requests[0]!.headers.host, `station.example:${server.port}`);
    } finally {
      await opened.close();
      await server.close();
    }
  });

  test('a name with one refused address among its answers is refused', async () => {
    const both: Resolver = async () => [{ address: '127.0.0.1', family: 4 }, { address: '169.254.169.254', family: 4 }];
    const opened = await openOutbound({ allowed: '127.0.0.1', resolver: both });
    try {
      await assert.rejects(opened.outbound.check('https://station.example/hook', 'url'), /station\.example resolves to 169\.254\.169\.254, a link-local address/);
      const error = await refusedAddress(opened.outbound.send({ url: 'https://station.example/hook', trust: 'api' }));
      assert.equal(error.failure, 'refused-address');
    } finally {
      await opened.close();
    }
  });

  test('a name that does not resolve: refused at check, a send failure at delivery', async () => {
    const opened = await openOutbound();
    try {
      await assert.rejects(opened.outbound.check('https://nowhere.invalid/hook', 'url'), (error: unknown) =>
        error instanceof InvalidInput && /nowhere\.invalid does not resolve/.test(error.message));
      assert.equal((await refusedAddress(opened.outbound.send({ url: 'https://nowhere.invalid/hook', trust: 'api' }))).failure, 'send');
    } finally {
      await opened.close();
    }
  });

  test('TLS checks the certificate against the host name, not the address it connects to', async () => {
    const dir = tempDir('onair-tls-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=station.example', '-addext', 'subjectAltName=DNS:station.example',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const names: string[] = [];
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (_q, s) => s.end('secure'));
    server.on('secureConnection', (socket) => names.push(String(socket.servername)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const defaults = getCACertificates('default');
    setDefaultCACertificates([...defaults, cert]);
    const toLoopback: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const opened = await openOutbound({ allowed: '127.0.0.1', resolver: toLoopback });
    try {
      const answer = await opened.outbound.send({ url: `https://station.example:${port}/`, trust: 'api', method: 'GET' });
      assert.equal(answer.body, 'secure');
      const error = await refusedAddress(opened.outbound.send({ url: `https://other.example:${port}/`, trust: 'api', method: 'GET' }));
      assert.equal(error.failure, 'send');
      assert.match(error.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
      assert.deepEqual(names, ['station.example']);
    } finally {
      setDefaultCACertificates(defaults);
      rmSync(dir, { recursive: true, force: true });
      await opened.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('what is told of a call', () => {
  test('the debug log shows no userinfo or query secret; the counter counts by kind and outcome', async () => {
    const server = await receiver((_q, s) => {
      s.statusCode = 503;
      s.end();
    });
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const opened = await openOutbound({ allowed: '127.0.0.1', logger });
    try {
      const url = `http://alice:pa55word@127.0.0.1:${server.port}/hook?api_key=k3y&secret=s3&channel=main`;
      assert.equal((await opened.outbound.send({ url, trust: 'api', log: { kind: 'hook', subscriber: 'app', message: null, eventId: null, type: 'connect', attempt: 1 } })).status, 503);
      await refusedAddress(opened.outbound.send({ url: 'http://10.0.0.1/', trust: 'api' }));
      const text = lines.join('');
      assert.match(text, /outgoing call/);
      for (const secret of ['alice', 'pa55word', 'k3y', 's3&']) assert.ok(!text.includes(secret), `the log shows ${secret}: ${text}`);
      const metrics = await opened.metrics.registry.getSingleMetricAsString('onair_outbound_requests_total');
      assert.match(metrics, /onair_outbound_requests_total\{kind="hook",outcome="5xx"\} 1/);
      assert.match(metrics, /onair_outbound_requests_total\{kind="other",outcome="refused-address"\} 1/);
    } finally {
      await opened.close();
      await server.close();
    }
  });

  test('ONAIR_ALLOWED_PRIVATE_ADDRESSES must be CIDR ranges', () => {
    assert.deepEqual(loadConfig({ ONAIR_ALLOWED_PRIVATE_ADDRESSES: '10.0.0.0/8, fd00::/8,127.0.0.1' }).outbound.allowedPrivate, ['10.0.0.0/8', 'fd00::/8', '127.0.0.1']);
    assert.deepEqual(loadConfig({}).outbound.allowedPrivate, []);
    for (const bad of ['10.0.0.0/33', 'localhost', '10.0.0.0/8/8', '::1/129']) {
      assert.throws(() => loadConfig({ ONAIR_ALLOWED_PRIVATE_ADDRESSES: bad }), (error: unknown) =>
        error instanceof ConfigError && error.message.includes('ONAIR_ALLOWED_PRIVATE_ADDRESSES'), bad);
    }
  });
});

describe('the client', () => {
  test('a request that gets no answer in time fails as a timeout, on the clock', async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 6, 8));
    const silent = await receiver(() => {});
    const opened = await openOutbound({ allowed: '127.0.0.1', clock });
    try {
      const sent = opened.outbound.send({ url: silent.base, trust: 'api', timeoutMs: 5000, body: '{}' });
      await waitFor(() => silent.requests.length === 1, 'the request to arrive');
      clock.advance(4999);
      clock.advance(1);
      const error = await refusedAddress(sent);
      assert.equal(error.failure, 'timeout');

      const dripping = await receiver((_q, s) => s.write('a'));
      try {
        const slow = opened.outbound.send({ url: dripping.base, trust: 'api', timeoutMs: 5000, body: '{}' });
        await waitFor(() => dripping.requests.length === 1, 'the request to arrive');
        clock.advance(5000);
        assert.equal((await refusedAddress(slow)).failure, 'timeout');
      } finally {
        await dripping.close();
      }
    } finally {
      await opened.close();
      await silent.close();
    }
  });

  test('a call its caller cancels fails at once', async () => {
    const silent = await receiver(() => {});
    const opened = await openOutbound({ allowed: '127.0.0.1' });
    try {
      const caller = new AbortController();
      const sent = opened.outbound.send({ url: silent.base, trust: 'api', signal: caller.signal });
      await waitFor(() => silent.requests.length === 1, 'the request to arrive');
      caller.abort();
      const error = await refusedAddress(sent);
      assert.deepEqual([error.failure, error.message], ['send', 'cancelled']);
    } finally {
      await opened.close();
      await silent.close();
    }
  });

  test('an answer past the size cap fails as too large', async () => {
    const big = await receiver((_q, s) => s.end('x'.repeat(10_000)));
    const chunked = await receiver((_q, s) => {
      s.write('y'.repeat(6000));
      s.end('y'.repeat(6000));
    });
    const opened = await openOutbound({ allowed: '127.0.0.1' });
    try {
      for (const server of [big, chunked]) {
        const error = await refusedAddress(opened.outbound.send({ url: server.base, trust: 'api', maxResponseBytes: 8192 }));
        assert.equal(error.failure, 'too-large');
      }
      const fits = await opened.outbound.send({ url: big.base, trust: 'api', maxResponseBytes: 10_000 });
      assert.equal(fits.body.length, 10_000);
    } finally {
      await opened.close();
      await big.close();
      await chunked.close();
    }
  });

  test('no answer at all is a send failure', async () => {
    const gone = await receiver();
    await gone.close();
    const opened = await openOutbound({ allowed: '127.0.0.1' });
    try {
      const error = await refusedAddress(opened.outbound.send({ url: gone.base, trust: 'api' }));
      assert.equal(error.failure, 'send');
      assert.match(error.message, /ECONNREFUSED/);
    } finally {
      await opened.close();
    }
  });
});

for (const database of testDatabases) {
  describe(`the delivery log (${database.name})`, () => {
    test('an attempt is kept with its headers without secrets; pages newest first', async () => {
      const server = await receiver((_q, s) => {
        s.writeHead(201, { 'set-cookie': 'session=abc', 'x-request-id': 'r1', 'content-type': 'text/plain' });
        s.end('z'.repeat(3000));
      });
      const opened = await openOutbound({ allowed: '127.0.0.1', database });
      try {
        const tag = { kind: 'webhook' as const, subscriber: 'sub-1', message: 'msg_1', eventId: 42, type: 'stream-ended', attempt: 1 };
        const answer = await opened.outbound.send({
          url: `http://user:pw@127.0.0.1:${server.port}/hook?token=t0p&channel=main`, trust: 'api', body: '{}',
          headers: { Authorization: 'Bearer s3cret', 'Webhook-Secret': 'x', 'X-API-Key': 'k', 'webhook-id': 'msg_1', 'User-Agent': 'other' }, log: tag,
        });
        assert.ok(answer.delivery);
        const kept = await opened.outbound.delivery(answer.delivery);
        assert.ok(kept);
        assert.deepEqual({ ...tag }, { kind: kept.kind, subscriber: kept.subscriber, message: kept.message, eventId: kept.eventId, type: kept.type, attempt: kept.attempt });
        assert.equal(kept.status, 201);
        assert.equal(kept.error, null);
        assert.equal(kept.url, `http://127.0.0.1:${server.port}/hook?token=redacted&channel=main`);
        assert.deepEqual(kept.requestHeaders, { 'content-type': 'application/json', 'user-agent': `onair/${VERSION}`, 'webhook-id': 'msg_1' });
        assert.deepEqual([server.requests[0]!.headers['user-agent'], server.requests[0]!.headers.authorization], [`onair/${VERSION}`, 'Bearer s3cret']);
        assert.equal(kept.responseHeaders['x-request-id'], 'r1');
        assert.equal(kept.responseHeaders['set-cookie'], undefined);
        assert.equal(kept.excerpt, 'z'.repeat(1024));
        assert.ok(kept.durationMs >= 0);

        const gone = await receiver();
        await gone.close();
        const ids = [answer.delivery];
        for (let attempt = 2; attempt <= 5; attempt++) {
          const error = await refusedAddress(opened.outbound.send({ url: gone.base, trust: 'api', log: { ...tag, attempt } }));
          ids.push(error.delivery!);
        }
        const newest = [...ids].reverse();
        const first = await opened.outbound.deliveries({ kind: 'webhook', subscriber: 'sub-1', limit: 3 });
        assert.deepEqual(first.map((d) => d.id), newest.slice(0, 3));
        const second = await opened.outbound.deliveries({ kind: 'webhook', subscriber: 'sub-1', limit: 3, before: first.at(-1)!.id });
        assert.deepEqual(second.map((d) => d.id), newest.slice(3));
        const failed = await opened.outbound.deliveries({ kind: 'webhook', failed: true, limit: 10 });
        assert.deepEqual(failed.map((d) => d.attempt), [5, 4, 3, 2]);
        assert.match(failed[0]!.error!, /ECONNREFUSED/);
        assert.equal(failed[0]!.status, null);
        assert.deepEqual(await opened.outbound.deliveries({ kind: 'hook', limit: 10 }), []);
        assert.equal((await opened.outbound.deliveries({ kind: 'webhook', failed: false, limit: 10 }))[0]!.id, answer.delivery);
        assert.deepEqual((await opened.outbound.deliveries({ kind: 'webhook', message: 'msg_1', since: kept.at, limit: 10 })).length, 5);
      } finally {
        await opened.close();
        await server.close();
      }
    });

    test('an attempt refused at delivery time is logged with why', async () => {
      const opened = await openOutbound({ database });
      try {
        const log = { kind: 'hook' as const, subscriber: 'defaultApp', message: null, eventId: null, type: 'publishStream', attempt: 1 };
        const error = await refusedAddress(opened.outbound.send({ url: 'http://[::ffff:169.254.169.254]/latest', trust: 'api', log }));
        const kept = (await opened.outbound.delivery(error.delivery!))!;
        assert.equal(kept.status, null);
        assert.equal(kept.error, '::ffff:a9fe:a9fe, a link-local address (169.254.169.254), which ONAIR_ALLOWED_PRIVATE_ADDRESSES does not allow');
        assert.equal(kept.url, 'http://[::ffff:a9fe:a9fe]/latest');
      } finally {
        await opened.close();
      }
    });

    test('the daily clean removes the attempts older than the retention, whatever the outbox\'s clean does', async () => {
      const clock = new ManualClock(Date.UTC(2026, 11, 6, 3));
      const server = await receiver();
      const opened = await openOutbound({ allowed: '127.0.0.1', database, clock });
      try {
        const log = { kind: 'webhook' as const, subscriber: 's', message: 'm', eventId: null, type: 't', attempt: 1 };
        const old = (await opened.outbound.send({ url: server.base, trust: 'api', log })).delivery!;
        clock.advance(DAY);
        const recent = (await opened.outbound.send({ url: server.base, trust: 'api', log })).delivery!;
        const cleaned: number[] = [];
        const retention = keepEvents({
          cleans: {
            event: async () => {
              throw new Error('the outbox is down');
            },
            delivery: async (before) => {
              cleaned.push(await opened.outbound.clean(before));
              return cleaned.at(-1)!;
            },
          },
          clock, logger: pino({ level: 'silent' }), retentionMs: DAY - 1000, time: '03:30',
        });
        clock.advance(HOUR);
        await waitFor(() => cleaned.length === 1, 'the daily clean');
        retention.stop();
        assert.deepEqual(cleaned, [1]);
        assert.equal(await opened.outbound.delivery(old), undefined);
        assert.ok(await opened.outbound.delivery(recent));
      } finally {
        await opened.close();
        await server.close();
      }
    });
  });
}

/** The reference table, written plainly from the registries (IANA special-purpose IPv4 and IPv6). */
function refusedV4([a, b, c]: number[]): boolean {
  return a === 0 || a === 10 || a === 127 || a! >= 224 || (a === 100 && b! >= 64 && b! <= 127) || (a === 169 && b === 254)
    || (a === 172 && b! >= 16 && b! <= 31) || (a === 192 && b === 168) || (a === 198 && (b === 18 || b === 19))
    || (a === 192 && b === 0 && (c === 0 || c === 2)) || (a === 192 && b === 88 && c === 99)
    || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113);
}

const octets = (high: number, low: number) => [high >> 8, high & 0xff, low >> 8, low & 0xff];

function refusedV6(g: number[]): boolean {
  const zero = (from: number, to: number) => g.slice(from, to).every((group) => group === 0);
  if (zero(0, 8) || (zero(0, 7) && g[7] === 1)) return true;
  // IPv4 carried: mapped, compatible, translated, NAT64, 6to4.
  if ((zero(0, 5) && g[5] === 0xffff) || zero(0, 6) || (zero(0, 4) && g[4] === 0xffff && g[5] === 0)
    || (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6))) return refusedV4(octets(g[6]!, g[7]!));
  if (g[0] === 0x2002) return refusedV4(octets(g[1]!, g[2]!));
  const [first = 0, second = 0, third = 0] = g;
  return (first === 0x64 && second === 0xff9b && third === 1) || (first === 0x100 && zero(1, 4))
    || (first === 0x2001 && (second === 0 || second === 0xdb8 || (second === 2 && third === 0)))
    || (first === 0x3fff && second < 0x1000) || (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80
    || (first & 0xffc0) === 0xfec0 || (first & 0xff00) === 0xff00;
}

const byte = fc.integer({ min: 0, max: 255 });
const group = fc.integer({ min: 0, max: 0xffff });
/** IPv4 addresses, often in or near the special ranges. */
const ipv4 = fc.oneof(
  fc.tuple(byte, byte, byte, byte),
  fc.tuple(fc.constantFrom(0, 10, 100, 127, 169, 172, 192, 198, 203, 223, 224, 239, 240, 255), byte, byte, byte),
  fc.tuple(fc.constant(192), fc.constantFrom(0, 88, 168), fc.constantFrom(0, 1, 2, 99, 100), byte),
);
/** IPv6 addresses: any, or one of the special prefixes followed by anything. */
const ipv6 = fc.oneof(
  fc.array(group, { minLength: 8, maxLength: 8 }),
  fc.tuple(fc.constantFrom([0, 0, 0, 0, 0, 0xffff], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0xffff, 0], [0x64, 0xff9b, 0, 0, 0, 0]), ipv4)
    .map(([prefix, [a, b, c, d]]) => [...prefix, (a! << 8) | b!, (c! << 8) | d!]),
  fc.tuple(ipv4, fc.array(group, { minLength: 5, maxLength: 5 })).map(([[a, b, c, d], rest]) => [0x2002, (a! << 8) | b!, (c! << 8) | d!, ...rest]),
  fc.tuple(fc.constantFrom([0x2002], [0x2001, 0], [0x2001, 0xdb8], [0x2001, 2, 0], [0x64, 0xff9b, 1], [0x100, 0, 0, 0], [0x3fff], [0xfc00], [0xfdff], [0xfe80], [0xfebf], [0xfec0], [0xff00], [0xffff], [0x2000], [0xfbff]), fc.array(group, { minLength: 8, maxLength: 8 }))
    .map(([prefix, rest]) => [...prefix, ...rest.slice(prefix.length)]),
  fc.array(fc.constantFrom(0, 1, 0xffff), { minLength: 8, maxLength: 8 }),
);

describe('the address guard against a reference table', () => {
  const guard = new AddressGuard([]);

  test('IPv4 addresses are refused exactly where the table says', () => {
    fc.assert(fc.property(ipv4, (address) => {
      assert.equal(guard.refusal(address.join('.')) !== undefined, refusedV4(address), address.join('.'));
    }), { numRuns: 5000 });
  });

  test('IPv6 addresses, written in full or as URL parsing writes them, are refused exactly where the table says', () => {
    fc.assert(fc.property(ipv6, (groups) => {
      const full = groups.map((g) => g.toString(16)).join(':');
      const short = new URL(`http://[${full}]/`).hostname;
      assert.equal(guard.refusal(full) !== undefined, refusedV6(groups), full);
      assert.equal(guard.refusal(short) !== undefined, refusedV6(groups), short);
    }), { numRuns: 5000 });
  });

  test('an address in an allowed range is let through, whatever it is', () => {
    fc.assert(fc.property(fc.oneof(ipv4.map((a) => a.join('.')), ipv6.map((g) => g.map((x) => x.toString(16)).join(':'))), fc.integer({ min: 0, max: 128 }), (address, bits) => {
      const v4 = !address.includes(':');
      const range = `${address}/${v4 ? bits % 33 : bits}`;
      assert.equal(new AddressGuard([range]).refusal(address), undefined, range);
    }), { numRuns: 2000 });
  });
});
