import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { media } from '../recordings/support.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, tempDir, type Running } from '../support/onair.ts';

/**
 * Walks the OpenAPI document: every operation is sent good and bad requests (unknown ids, wrong types, unknown
 * query parameters, malformed JSON, a wrong content type, a body over the limit, huge headers, no API key), and
 * every status code and content type the server answers must be documented for that operation.
 */

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  anyOf?: Schema[];
  enum?: unknown[];
  default?: unknown;
  examples?: unknown[];
  example?: unknown;
  minimum?: number;
  items?: Schema;
}
interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, unknown> }>;
  security?: unknown[];
}
interface Probe {
  what: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

const KEY = 'k'.repeat(32);
/** In the order walked: what creates first, then what reads, and what deletes last. */
const METHODS = ['post', 'put', 'patch', 'get', 'head', 'delete'];
const SAFE = new Set(['get', 'head']);
const START = '2026-12-04T20:00:00';

/**
 * Sends a request with node:http (fetch would refuse some of the headers sent here); answers status, media type and,
 * but for event streams, the body.
 */
function send(base: string, method: string, probe: Probe): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...probe.headers };
    if (probe.body !== undefined) headers['content-length'] = String(Buffer.byteLength(probe.body));
    const req = httpRequest(`${base}${probe.path}`, { method: method.toUpperCase(), headers }, (res) => {
      const type = res.headers['content-type']?.split(';')[0]?.trim();
      if (type === 'text/event-stream') {
        res.destroy();
        return resolve({ status: res.statusCode!, type, body: '' });
      }
      let body = '';
      res.setEncoding('latin1').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode!, type, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    // The server may answer and close before taking a large body in: the answer is what counts.
    req.on('error', (error: NodeJS.ErrnoException) => (['EPIPE', 'ECONNRESET'].includes(error.code ?? '') ? undefined : reject(error)));
    req.end(probe.body);
  });
}

function documented(operation: Operation, status: number, type: string | undefined): boolean {
  const response = operation.responses[String(status)];
  if (!response) return false;
  if (type === undefined) return true;
  return Object.keys(response.content ?? {}).some((range) =>
    range === type || range === '*/*' || (range.endsWith('/*') && type.startsWith(range.slice(0, -1))));
}

for (const database of testDatabases) {
  describe(`the OpenAPI document tells the truth on ${database.name}`, () => {
    let server: Running;
    let doc: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };
    const dir = tempDir('onair-openapi-');
    const seed = { show: '', live: '', prerecorded: '', task: '', ogg: Buffer.alloc(0) };
    const key = { 'x-api-key': KEY };

    before(async () => {
      server = await startOnair({ database, env: { ONAIR_API_KEY: KEY } });
      const post = async (path: string, body: unknown) => (await server.request('POST', path, body, key)).body;
      seed.show = (await post('/shows', { title: 'Walked' })).id;
      const event = (type: string) => post('/events', { showId: seed.show, type, start: START, duration: 3600, timezone: 'UTC' });
      seed.live = (await event('live')).id;
      seed.prerecorded = (await event('prerecorded')).id;
      seed.task = (await post('/tasks', { operation: { type: 'test', parameters: {} } })).task.id;
      // A channel made at run time: every per-channel route is walked on it, and DELETE removes it last.
      await post('/channels', { name: 'walked' });
      seed.ogg = readFileSync(await media(dir, 'tone.ogg', '-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'libopus'));
      doc = (await server.request('GET', '/openapi.json')).body;
    });
    after(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const resolve = (schema: Schema): Schema => (schema.$ref ? resolve(doc.components.schemas[schema.$ref.split('/').pop()!]!) : schema);

    /** A value the schema accepts, as far as a few rules make one. */
    function example(given: Schema): unknown {
      const schema = resolve(given);
      if (schema.default !== undefined) return schema.default;
      if (schema.example !== undefined) return schema.example;
      if (schema.examples?.length) return schema.examples[0];
      if (schema.enum?.length) return schema.enum[0];
      if (schema.anyOf?.length) return example(schema.anyOf[0]!);
      switch (schema.type) {
        case 'object': return Object.fromEntries((schema.required ?? []).map((name) => [name, example(schema.properties![name]!)]));
        case 'array': return [];
        case 'integer': case 'number': return schema.minimum ?? 1;
        case 'boolean': return false;
        case 'string': return schema.format === 'uuid' ? randomUUID() : schema.format === 'date-time' ? new Date().toISOString() : 'x';
        default: return null;
      }
    }

    const good = (path: string, name: string): string => {
      const byName: Record<string, string> = {
        id: path.startsWith('/shows') ? seed.show : path.startsWith('/events') ? seed.live : seed.task,
        event: path.startsWith('/prerecordings') ? seed.prerecorded : seed.live, eventId: seed.live,
        start: START, channel: 'walked', status: 'completed', file: 'index.m3u8',
      };
      return byName[name] ?? 'x';
    };
    const unknown: Record<string, () => string> = {
      id: randomUUID, event: randomUUID, eventId: randomUUID, start: () => '2031-01-01T00:00:00', channel: () => 'nope', status: () => 'failed', file: () => 'none.ts',
    };
    const goodQuery: Record<string, string> = { start: '2026-12-01T00:00:00', end: '2026-12-31T00:00:00' };
    /** Bodies that a route takes (the generic example is rarely one). */
    const goodBodies: Record<string, () => unknown> = {
      'post /shows': () => ({ title: 'Walk' }),
      'patch /shows/{id}': () => ({ description: 'walked' }),
      'post /events': () => ({ showId: seed.show, type: 'live', start: '2027-01-01T10:00:00', duration: 60, timezone: 'UTC' }),
      'patch /events/{id}': () => ({ duration: 120 }),
      'post /tasks': () => ({ operation: { type: 'test', parameters: {} } }),
      'post /tasks/clean': () => ({ strategy: { type: 'timedelta', parameters: { delta: 'P1000D' } } }),
      // Reserving for real would start an SRT listener: an event the programme does not have is enough here.
      'post /reserve': () => ({ event: randomUUID() }),
      'post /channels/{channel}/reserve': () => ({ event: randomUUID() }),
      'patch /channels/{channel}': () => ({ key: 'a-new-stream-key' }),
      'patch /webhooks/{id}': () => ({ enabled: true }),
      'put /v1/scheduler/jobstartstop/{workflow_id}': () => ({ deactivation: { time_utc: 4102444800 } }),
    };

    // A listener's own query parameters (a ticket) go to the station's hook backend: these routes take any.
    const TICKETS = new Set(['/listen', '/channels/{channel}/listen', '/hls/{file}', '/channels/{channel}/hls/{file}']);

    function probes(method: string, path: string, operation: Operation): Probe[] {
      const parameters = operation.parameters ?? [];
      const fill = (value: (name: string) => string) => path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(value(name)));
      const query = parameters.filter((p) => p.in === 'query' && p.required).map((p) => [p.name, goodQuery[p.name] ?? String(example(p.schema))] as [string, string]);
      const url = (at: string, extra: Array<[string, string]> = []) => {
        const search = new URLSearchParams([...query, ...(token ? [['accessToken', KEY] as [string, string]] : []), ...extra]).toString();
        return search ? `${at}?${search}` : at;
      };
      const goodPath = fill((name) => good(path, name));
      // The stream manager's admin routes take the key as their accessToken, in the query.
      const token = operation.security?.some((scheme) => 'accessToken' in (scheme as object)) ?? false;
      const keyless = (at: string) => (token ? at.replace(/[?&]accessToken=[^&]*/, '').replace(/^([^?]*)&/, '$1?') : at);
      const json = { ...key, 'content-type': 'application/json' };
      const media = path.startsWith('/recordings') || path.startsWith('/prerecordings');
      const goodBody = media ? seed.ogg : JSON.stringify(goodBodies[`${method} ${path}`]?.() ?? example(operation.requestBody?.content['application/json']?.schema ?? {}));
      const hasBody = !SAFE.has(method) && method !== 'delete';
      const bodyHeaders = !hasBody ? key : media ? { ...key, 'content-type': 'audio/ogg' } : json;
      const list: Probe[] = [
        { what: 'good', path: url(goodPath), headers: bodyHeaders, ...(hasBody ? { body: goodBody } : {}) },
        { what: 'unknown ids', path: url(fill((name) => unknown[name]?.() ?? 'x')), headers: bodyHeaders, ...(hasBody ? { body: goodBody } : {}) },
        { what: 'wrong path types', path: url(fill(() => 'not valid!')), headers: key },
        { what: 'unknown query parameter', path: url(goodPath, [['bogus', '1']]), headers: bodyHeaders, ...(hasBody ? { body: goodBody } : {}) },
        { what: 'huge headers', path: url(goodPath), headers: { ...key, 'x-padding': 'x'.repeat(20_000) } },
        ...(path.includes('{') ? [{ what: 'a malformed %-escape in the path', path: url(path.replace(/\{\w+\}/g, '%ff')), headers: key }] : []),
        ...parameters.filter((p) => p.in === 'query').map((p) => ({ what: `wrong type of ${p.name}`, path: url(goodPath, [[p.name, p.schema.type === 'string' ? '\u0000' : 'abc']]), headers: key })),
      ];
      if (!SAFE.has(method)) list.push({ what: 'no API key', path: keyless(url(goodPath)), headers: { 'content-type': 'application/json' }, body: media ? seed.ogg : goodBody });
      else if (operation.security) list.push({ what: 'no API key', path: keyless(url(goodPath)) });
      if (method !== 'get' && method !== 'head') {
        list.push(
          { what: 'malformed JSON', path: url(goodPath), headers: json, body: '{"title":' },
          { what: 'wrong JSON types', path: url(goodPath), headers: json, body: '[1, "two", null]' },
          { what: 'a wrong content type', path: url(goodPath), headers: { ...key, 'content-type': 'text/plain' }, body: 'hello' },
          { what: 'a body over the limit', path: url(goodPath), headers: bodyHeaders, body: media ? Buffer.alloc(2 * 1024 * 1024, 7) : JSON.stringify({ blob: 'x'.repeat(2 * 1024 * 1024) }) },
        );
      }
      return list;
    }

    test('every status code and content type the server answers is documented for its operation', async () => {
      const operations = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
        Object.entries(byMethod).filter(([method]) => METHODS.includes(method)).map(([method, operation]) => ({ path, method, operation })));
      operations.sort((a, b) => METHODS.indexOf(a.method) - METHODS.indexOf(b.method));
      assert.ok(operations.length > 40, `${operations.length} operations`);
      const wrong: string[] = [];
      const accepted: string[] = [];
      const seen = new Set<string>();
      for (const { path, method, operation } of operations) {
        for (const probe of probes(method, path, operation)) {
          const { status, type, body } = await send(server.url, method, probe).catch((error: Error) => {
            throw new Error(`${method.toUpperCase()} ${path} (${probe.what}): ${error.message}`, { cause: error });
          });
          const named = method === 'head' || body.includes('querystring.bogus is an unknown field');
          if (probe.what === 'unknown query parameter' && !TICKETS.has(path) && !(status === 400 && named)) {
            accepted.push(`${method.toUpperCase()} ${path}: ${status} ${body}`);
          }
          seen.add(String(status));
          if (!documented(operation, status, type)) wrong.push(`${method.toUpperCase()} ${path} (${probe.what}): ${status} ${type ?? '(no body)'}`);
        }
      }
      assert.deepEqual(wrong, [], `undocumented answers:\n${wrong.join('\n')}`);
      assert.deepEqual(accepted, [], `unknown query parameters not refused by name:\n${accepted.join('\n')}`);
      for (const status of ['200', '201', '204', '400', '401', '404', '413', '415', '431']) assert.ok(seen.has(status), `the walk saw a ${status}`);
    });

    // Public reads of seed 003 that take its token for part of what they do (explain): the token is optional there.
    const OPEN_WITH_TOKEN = new Set(['get /streammanager/api/2.0/event/{scope}/{stream}']);

    test('every operation but the public reads declares the API key, and those that may answer 401 are they', () => {
      assert.equal(doc.paths['/schedule']!.get!.security, undefined, 'a public read');
      assert.deepEqual(doc.paths['/tasks']!.get!.security, [{ apiKey: [] }], 'a read for key holders');
      assert.ok(doc.paths['/channels/{channel}/sessions']!.get!.responses['403'], 'a read for operators only');
      for (const [path, byMethod] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(byMethod).filter(([m]) => METHODS.includes(m))) {
          if (SAFE.has(method) && !operation.responses['401']) assert.equal(operation.security, undefined, `${method} ${path}`);
          else if (path.startsWith('/streammanager/')) {
            const token = OPEN_WITH_TOKEN.has(`${method} ${path}`) ? [{}, { accessToken: [] }] : [{ accessToken: [] }];
            assert.deepEqual(operation.security, token, `${method} ${path}: seed 003's token`);
          }
          else assert.deepEqual(operation.security, [{ apiKey: [] }], `${method} ${path}`);
        }
      }
    });

    test('record keys keep their pattern in the document', () => {
      const body = doc.paths['/reserve']!.post!.requestBody!.content['application/json']!.schema;
      const metadata = resolve(body).properties!.metadata as Schema & { propertyNames?: { pattern: string } };
      assert.equal(metadata.propertyNames?.pattern, '^[A-Za-z0-9_.-]{1,64}$');
    });

    test('a query schema\'s keywords are never listed as its parameters (the listening routes take any)', () => {
      // (`type` is a real parameter of /events and /schedule.)
      const keywords = new Set(['description', 'properties', 'patternProperties', 'additionalProperties']);
      const misread = Object.entries(doc.paths).flatMap(([path, byMethod]) => Object.values(byMethod).flatMap((operation) =>
        (operation.parameters ?? []).filter((p) => p.in === 'query' && keywords.has(p.name)).map((p) => `${path} ${p.name}`)));
      assert.deepEqual(misread, []);
    });
  });
}
