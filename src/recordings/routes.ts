import { Readable } from 'node:stream';
import { Type, type Static } from 'typebox';
import type { App } from '../core/http/server.ts';
import { invalid } from '../core/errors.ts';
import { problem } from '../core/http/problem.ts';
import type { ArchiveKind } from './contract.ts';
import { KINDS } from './files.ts';
import { ifRangeHolds, noneMatchHits, parseRange } from './range.ts';
import { EVENT_TYPE_OF, etagOf, type ArchiveService, type Entry } from './service.ts';
import type { StartBounds } from './store.ts';
import { Text } from '../core/http/validation.ts';
import { localField, NaiveLocal, normalLocal, parseDateTime } from '../core/time.ts';

const EventParam = Text('^[\\w.~-]+$', 'an event id, as in the programme', { minLength: 1, maxLength: 200, description: 'Event id, as in the programme' });
const Key = Type.Object({
  event: EventParam,
  start: NaiveLocal('Naive local start of the instance, as in the programme'),
});
const PartQuery = (what: string) => Type.Object({
  part: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: `The part, by its number in the listing; without it, ${what}` })),
}, { additionalProperties: false });
const ListQuery = Type.Object({
  after: Type.Optional(Type.String({ maxLength: 40, description: 'Only instances starting at or after this: naive local time, or ISO 8601 with an offset' })),
  before: Type.Optional(Type.String({ maxLength: 40, description: 'Only instances starting before this: naive local time, or ISO 8601 with an offset' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 })),
}, { additionalProperties: false });

const FileView = Type.Object({
  event: Type.String(),
  start: Type.String({ description: 'Naive local start of the instance' }),
  part: Type.Integer({ minimum: 1, description: 'Its number among the files of the instance (from 1, in the order stored): every gate session recording the instance adds one' }),
  startsAt: Type.String({ format: 'date-time', description: 'The instance start, ISO 8601 (UTC)' }),
  size: Type.Integer({ description: 'Bytes' }),
  contentType: Type.String(),
  format: Type.String({ description: 'Container format as ffprobe names it' }),
  duration: Type.Number({ description: 'Seconds, from ffprobe' }),
  createdAt: Type.String({ format: 'date-time', description: 'When this file was stored' }),
  etag: Type.String(),
}, { $id: 'ArchivedFile' });
type FileView = Static<typeof FileView>;

const Binary = Type.Unsafe<unknown>({ type: 'string', format: 'binary', description: 'The file, or the requested byte range of it' });
const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Problem')]));
const MEDIA_TYPES = ['audio/*', 'video/*', 'application/octet-stream'];

function view(file: Entry): FileView {
  return {
    event: file.event, start: file.start, part: file.part, startsAt: new Date(file.startsAt).toISOString(), size: file.size,
    contentType: file.contentType, format: file.format, duration: file.duration,
    createdAt: new Date(file.createdAt).toISOString(), etag: etagOf(file),
  };
}


/** A naive bound compares with the naive local start; one with an offset (or Z) with the instant. */
function bound(value: string | undefined, field: string): StartBounds['after'] {
  if (value === undefined) return undefined;
  const naive = normalLocal(value);
  if (naive !== undefined) return { naive };
  const at = /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? parseDateTime(value) : undefined;
  if (at === undefined) throw invalid(field, 'must be a real date-time: local, such as 2026-12-04T20:00:00, or with an offset, such as 2026-12-04T20:00:00+01:00');
  return { at };
}

function contentLength(header: string | undefined): number | undefined {
  return header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
}

function kindRoutes(app: App, service: ArchiveService, kind: ArchiveKind, uploadTimeoutMs: number): void {
  const tags = ['recordings'];
  const one = kind.slice(0, -1);
  const base = `/${kind}`;
  // A prerecording is a show not aired yet: only operators read it.
  const readers = kind === 'prerecordings' ? { config: { access: 'private' as const } } : {};

  app.put(`${base}/:event/:start`, {
    bodyLimit: Number.MAX_SAFE_INTEGER,
    config: { requestTimeoutMs: uploadTimeoutMs },
    schema: {
      tags, summary: `Store the ${one} of an instance`, params: Key, consumes: MEDIA_TYPES,
      description: `Streams the body (any audio or video file, any size) to disk, checks it with ffprobe and makes it visible `
        + `at once when complete. The instance must exist in the programme and be of a ${EVENT_TYPE_OF[kind]} event. `
        + '201 when created, 200 when it replaced what was stored: an upload replaces every part of the instance (a recording the '
        + 'gate made over several sessions included) with this one file, part 1. An upload that sends nothing for ONAIR_UPLOAD_IDLE_TIMEOUT '
        + '(default one minute), or is not whole after ONAIR_UPLOAD_TIMEOUT (default four hours), is given up: 408, nothing stored.',
      response: { 200: Type.Ref('ArchivedFile'), 201: Type.Ref('ArchivedFile'), ...problems(400, 404, 408, 413) },
    },
  }, async (request, reply) => {
    const { event } = request.params;
    const start = localField('params.start', request.params.start);
    const body = request.body instanceof Readable ? request.body : Readable.from([]);
    const stored = await service.upload(kind, event, start, body, {
      type: request.headers['content-type'], length: contentLength(request.headers['content-length']),
    });
    return reply.code(stored.created ? 201 : 200).send(view(stored.file));
  });

  app.route({
    method: ['GET', 'HEAD'],
    url: `${base}/:event/:start`,
    ...readers,
    schema: {
      tags, summary: `Download the ${one} of an instance`, params: Key, querystring: PartQuery('the first part'), produces: MEDIA_TYPES,
      description: 'Answers the file (or the part asked for: a live instance recorded over several sessions has one part per session) with ETag, Last-Modified and Accept-Ranges; a single Range (also suffix and open-ended) '
        + 'answers 206, an unsatisfiable one 416; several ranges are answered with the whole file. If-None-Match answers 304, If-Range is honoured.',
      response: { 200: Binary, 206: Binary, 304: Type.Null({ description: 'Not modified' }), 416: Type.Ref('Problem'), ...problems(400, 404) },
    },
    handler: async (request, reply) => {
      const { event } = request.params;
      const start = localField('params.start', request.params.start);
      const opened = await service.open(kind, event, start, request.query.part);
      const { file, etag, handle } = opened;
      reply.header('etag', etag).header('last-modified', new Date(file.createdAt).toUTCString())
        .header('accept-ranges', 'bytes').header('cache-control', 'no-cache');
      const range = ifRangeHolds(request.headers['if-range'] as string | undefined, etag, file.createdAt) ? parseRange(request.headers.range, file.size) : undefined;
      if (noneMatchHits(request.headers['if-none-match'], etag) || range === 'unsatisfiable' || request.method === 'HEAD') await handle.close();
      if (noneMatchHits(request.headers['if-none-match'], etag)) return reply.code(304).send(null);
      if (range === 'unsatisfiable') {
        return reply.code(416).header('content-range', `bytes */${file.size}`).type('application/problem+json')
          .send(problem(416, `headers.range: ${request.headers.range} lies beyond the file's ${file.size} bytes`, [{ field: 'headers.range', message: 'is not satisfiable' }]));
      }
      const { start: first, end } = range ?? { start: 0, end: file.size - 1 };
      reply.type(file.contentType).header('content-length', String(end - first + 1));
      if (range) reply.code(206).header('content-range', `bytes ${first}-${end}/${file.size}`);
      if (request.method === 'HEAD') return reply.send();
      return reply.send(service.read(opened, first, end));
    },
  });

  app.delete(`${base}/:event/:start`, {
    schema: {
      tags, summary: `Delete the ${one} of an instance`, params: Key, querystring: PartQuery('every part'),
      response: { 204: Type.Null({ description: 'Deleted' }), ...problems(400, 404) },
    },
  }, async (request, reply) => {
    const { event } = request.params;
    const start = localField('params.start', request.params.start);
    await service.remove(kind, event, start, request.query.part);
    return reply.code(204).send(null);
  });

  app.get(`${base}/:event`, {
    ...readers,
    schema: {
      tags, summary: `List the ${kind} of an event`, params: Type.Object({ event: EventParam }), querystring: ListQuery,
      description: 'Ordered by instance start, then part (each part of an instance is listed with its number); `after` is inclusive, `before` exclusive. A naive bound compares with the '
        + 'naive local start, one with an offset with the instant. An event without any answers an empty list; an event the programme does not have and the archive holds nothing of answers 404.',
      response: {
        200: Type.Object({ count: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(), [kind]: Type.Array(Type.Ref('ArchivedFile')) }),
        ...problems(400, 404),
      },
    },
  }, async (request) => {
    const { after, before, limit = 50, offset = 0 } = request.query;
    const bounds = { after: bound(after, 'querystring.after'), before: bound(before, 'querystring.before') };
    const { count, files } = await service.list(kind, request.params.event, bounds, limit, offset);
    return { count, limit, offset, [kind]: files.map(view) };
  });
}

/** The archive's routes, in their own scope: there every body is handed over as an untouched stream. */
export function registerRecordingRoutes(app: App, service: ArchiveService, uploadTimeoutMs: number): void {
  app.addSchema(FileView);
  app.register(async (scope: App) => {
    scope.removeAllContentTypeParsers();
    // Whatever the Content-Type (even none or a malformed one) the body is the file: ffprobe decides what it is.
    scope.addHook('onRequest', async (request) => {
      if (!/^[\w.+-]+\/[\w.+-]+\s*(;|$)/.test(request.headers['content-type'] ?? '')) request.headers['content-type'] = 'application/octet-stream';
    });
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    for (const kind of KINDS) kindRoutes(scope, service, kind, uploadTimeoutMs);
  });
}
