import { Type } from 'typebox';
import type { EventBus } from '../core/events/bus.ts';
import { registerSse } from '../core/events/sse.ts';
import { notFound } from '../core/errors.ts';
import type { App } from '../core/http/server.ts';
import { FALLBACK_EXAMPLE, FallbackForm } from '../core/fallback.ts';
import { Choice, Text } from '../core/http/validation.ts';
import { NaiveLocal } from '../core/time.ts';
import { AppKey, ChannelName as Name, StreamKey as Key, type Availability, type ChannelInfo, type ChannelWithIngest } from './contract.ts';
import type { SessionRow } from './migrations.ts';
import { RELAY_HEADER } from './edge.ts';
import { METADATA_KEY, METADATA_LIMITS, METADATA_VALUE } from './pipeline.ts';
import { instanceOf } from './store.ts';
import type { GateService } from './service.ts';
import type { Attempt } from './session.ts';

const Port = Type.Integer({ minimum: 1024, maximum: 65535, description: 'UDP port of the SRT listener, in the SRT port range (ONAIR_SRT_PORT_START to ONAIR_SRT_PORT_END)' });
const ChannelParams = Type.Object({ channel: Name });
const OwnFallback = Choice(Type.Union([FallbackForm, Type.Null()], {
  description: 'What listeners hear between shows, as in ONAIR_CHANNELS; null or omitted: ONAIR_GATE_FALLBACK\'s',
}), `${FALLBACK_EXAMPLE}, or null for ONAIR_GATE_FALLBACK's`);
const InstanceRef = Type.Object({
  event: Type.String({ format: 'uuid', description: 'Event id' }),
  start: NaiveLocal('Naive local start of the instance in the event\'s time zone'),
}, { additionalProperties: false });
const ReserveBody = Type.Object({
  instance: Type.Optional(InstanceRef),
  event: Type.Optional(Type.String({ format: 'uuid', description: 'Older form: the event, whose instance nearest to now (within an hour) is meant' })),
  format: Type.Optional(Type.Union([Type.Literal('ogg'), Type.Literal('mpegts')], { description: 'ogg (Opus audio, default) or mpegts (H.264 + AAC)' })),
  record: Type.Optional(Type.Boolean({ description: 'Record into the archive (live events only)' })),
  metadata: Type.Optional(Type.Record(Text(METADATA_KEY.source, '1 to 64 letters, digits, ., _ or -'),
    Text(METADATA_VALUE.source, 'plain text without control characters', { maxLength: METADATA_LIMITS.length, description: 'No control characters' }),
    { maxProperties: METADATA_LIMITS.values, additionalProperties: false, description: 'Stream tags (e.g. title, artist)' })),
  appKey: Type.Optional(AppKey),
}, { additionalProperties: false });
// A listener's own query parameters (a ticket, say) go to the admission as they are: any name, plain text.
// An object of no named properties, so that the document lists none (a record's keywords would read as parameters).
const ListenerQuery = Type.Unsafe<Record<string, string>>(Type.Object({}, {
  patternProperties: { '^.*$': Text(METADATA_VALUE.source, 'plain text without control characters', { maxLength: 2000 }) },
  description: 'Any parameters of the listener\'s own (such as a ticket), passed on to the station\'s hook backend (playStream)',
}));
const Outputs = Type.Array(Type.Object({
  type: Type.String({ description: 'icecast, srt or rtmp' }),
  url: Type.String({ description: 'The configured URL without its credentials' }),
  state: Type.Union([Type.Literal('waiting'), Type.Literal('connected'), Type.Literal('failed'), Type.Literal('skipped')], {
    description: 'waiting until the session is on air, then connected; failed once ffmpeg dropped it (could not connect, or the connection broke); skipped when the format cannot go there',
  }),
  error: Type.Union([Type.String(), Type.Null()]),
}), { description: 'The channel\'s push outputs and how they fare' });
const Stats = Type.Object({
  bytes: Type.Integer(), bitrate: Type.Integer({ description: 'bits per second' }), duration: Type.Number({ description: 'seconds on air' }),
  codec: Type.Union([Type.String(), Type.Null()]), listeners: Type.Integer(), outputs: Outputs,
});
const Iso = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Check = Type.Object({
  instance: Type.Union([InstanceRef, Type.Null()]),
  checkedAt: Type.String({ format: 'date-time' }),
  channel: Type.String(),
  state: Type.Union([Type.Literal('idle'), Type.Literal('reserved'), Type.Literal('publishing'), Type.Literal('disconnected')], {
    description: 'reserved: waiting for the source; disconnected: static mode, the encoder dropped and may come back',
  }),
  session: Type.Union([Type.String(), Type.Null()]),
  since: Iso,
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'While no source is on air: when the channel stops waiting for one (the reservation expires, an activation\'s maximum wait or reconnect window ends)',
  }),
  stats: Type.Union([Stats, Type.Null()]),
});
const ChannelView = Type.Intersect([Check, Type.Object({
  port: Type.Integer(),
  configured: Type.Boolean({ description: 'From ONAIR_CHANNELS: neither changed nor removed through the API' }),
  static: Type.Boolean({ description: 'Has a stream key, so that it can be activated (static mode)' }),
  fallback: FallbackForm,
  appKey: Type.String({ description: 'The hook application that decides on its sessions unless a reservation names one' }),
})]);
const Ingest = Type.Object({
  host: Type.String(), port: Type.Integer(),
  url: Type.String({ description: 'srt:// URL without the key: give the key as the encoder\'s passphrase' }),
  streamKey: Type.String({ description: 'The SRT passphrase of static mode: a secret' }),
}, { description: 'Where an encoder sends the channel\'s stream in static mode' });
const Operated = Type.Intersect([ChannelView, Type.Object({ ingest: Ingest })]);
const CreateBody = Type.Object({
  name: Name,
  port: Type.Optional(Port),
  key: Type.Optional(Key),
  fallback: Type.Optional(OwnFallback),
  appKey: Type.Optional(AppKey),
}, { additionalProperties: false });
const ChangeBody = Type.Object({
  port: Type.Optional(Port), key: Type.Optional(Key), fallback: Type.Optional(OwnFallback), appKey: Type.Optional(AppKey),
}, { additionalProperties: false, minProperties: 1 });
const Reserved = Type.Object({
  credentials: Type.Object({ token: Type.String({ description: 'One-time SRT passphrase' }), expiresAt: Type.String({ format: 'date-time' }) }),
  port: Type.Integer(),
  url: Type.String({ description: 'srt:// URL with the passphrase, ready for ffmpeg' }),
});
const Session = Type.Object({
  id: Type.String(), channel: Type.String(), mode: Type.String(), instance: Type.Union([InstanceRef, Type.Null()]),
  format: Type.String(), record: Type.Boolean(), metadata: Type.Record(Type.String(), Type.String()), appKey: Type.String(), who: Type.String(),
  state: Type.String(), reservedAt: Type.String(), expiresAt: Iso, publishedAt: Iso, endedAt: Iso,
  bytes: Type.Integer(), duration: Type.Number(), codec: Type.Union([Type.String(), Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]), reason: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Array(Type.Object({ at: Type.String({ format: 'date-time' }), error: Type.String() }),
    { description: 'Failed attempts of sources to connect (refused or broken handshakes); the session went on listening after each' }),
  outputs: Outputs,
});
const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Problem')]));
const HLS_TYPES: Record<string, string> = { m3u8: 'application/vnd.apple.mpegurl', ts: 'video/mp2t' };

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

function checkView(a: Availability) {
  return { ...a, checkedAt: new Date(a.checkedAt).toISOString(), since: iso(a.since), expiresAt: iso(a.expiresAt) };
}

const channelView = ({ name: _, ...channel }: ChannelInfo, availability: Availability) => ({ ...checkView(availability), ...channel });

function sessionView(row: SessionRow) {
  return {
    id: row.id, channel: row.channel, mode: row.mode, instance: instanceOf(row),
    format: row.format, record: row.record === 1, metadata: JSON.parse(row.metadata), appKey: row.app_key, who: row.who, state: row.state,
    reservedAt: new Date(row.reserved_at).toISOString(), expiresAt: iso(row.expires_at), publishedAt: iso(row.published_at),
    endedAt: iso(row.ended_at), bytes: row.bytes, duration: row.duration_ms / 1000, codec: row.codec,
    exitCode: row.exit_code, reason: row.reason,
    attempts: (JSON.parse(row.attempts) as Attempt[]).map((a) => ({ at: new Date(a.at).toISOString(), error: a.error })),
    outputs: JSON.parse(row.outputs),
  };
}

export interface GateRoutesOptions {
  gate: GateService;
  bus: EventBus;
}

/**
 * The gate's routes, a Fastify plugin with its own scope: seed 002's paths for the default channel, the same under
 * /channels/{channel}/ for every channel (parametric, so channels made at run time have them all), and the channels API.
 */
export async function gateRoutes(app: App, { gate, bus }: GateRoutesOptions): Promise<void> {
  const tags = ['gate'];
  const channelOf = (params: unknown) => (params as { channel?: string }).channel ?? gate.defaultChannel;
  const operated = async (channel: ChannelWithIngest) => ({ ...channelView(channel, await gate.availability(channel.name)), ingest: channel.ingest });

  app.addHook('preClose', async () => gate.closeListeners());

  for (const prefix of ['', '/channels/:channel']) {
    const params = prefix === '' ? {} : { params: ChannelParams };
    const which = prefix === '' ? 'the default channel' : 'a channel';

    app.get(`${prefix}/check`, {
      config: { access: 'public' },
      schema: { tags, summary: `Who is on air on ${which}`, ...params, response: { 200: Check, ...problems(400, 404) } },
    }, async (request, reply) => reply.header('Cache-Control', 'no-store').send(checkView(await gate.availability(channelOf(request.params)))));

    app.post(`${prefix}/reserve`, {
      schema: {
        tags, summary: `Reserve ${which} for a live source`,
        description: 'Answers a one-time token (the SRT passphrase), the port and a ready srt:// URL. The token expires unused at expiresAt. '
          + 'The station\'s hook backend may refuse (403, its reason as the detail) or change record and metadata (connect).',
        ...params, body: ReserveBody, response: { 201: Reserved, ...problems(400, 403, 404, 409, 503) },
      },
    }, async (request, reply) => {
      const reservation = await gate.reserve(channelOf(request.params), { ...request.body, who: request.ip });
      return reply.code(201).header('Cache-Control', 'no-store').send({
        credentials: { token: reservation.token, expiresAt: new Date(reservation.expiresAt).toISOString() },
        port: reservation.port, url: reservation.url,
      });
    });

    app.get(`${prefix}/listen`, {
      config: { access: 'public' },
      schema: {
        tags, summary: `Listen to ${which}`,
        description: 'The live stream as it arrives: Ogg/Opus for audio sessions (any player or <audio> element), MPEG-TS for mpegts sessions. '
          + 'Between sessions, the channel\'s fallback (silence unless configured otherwise) as Ogg/Opus: listeners stay connected and hear the next '
          + 'Ogg session as it starts (a chained Ogg stream). 404 only when nothing is on air and the channel has no fallback. '
          + 'A show on air on another node: an edge relays it from there (the answer comes with its first bytes; 503 when the origin cannot be '
          + 'reached, for 5 s before it is tried again), any other node answers 404 naming that node. '
          + 'The station\'s hook backend may refuse the listener (403, its reason as the detail; playStream), told the query string.',
        ...params, querystring: ListenerQuery, produces: ['audio/ogg', 'video/mp2t'],
        response: { 200: { description: 'audio/ogg or video/mp2t stream' }, ...problems(400, 403, 404, 503) },
      },
    }, async (request, reply) => {
      const name = channelOf(request.params);
      const join = await gate.listen(name, { kind: 'listen', query: request.query, client: request.ip, relay: request.headers[RELAY_HEADER] !== undefined });
      if (!join) throw notFound(`Nothing is on air on channel ${name}, and it has no fallback`);
      reply.hijack();
      join(reply.raw);
    });

    app.get(`${prefix}/hls/:file`, {
      config: { access: 'public' },
      schema: {
        tags, summary: `HLS of ${which} (mpegts sessions)`,
        description: 'The station\'s hook backend may refuse a playlist or segment (403, its reason as the detail; playStream), told the query string; '
          + 'a playlist\'s segments carry the query it was asked with.',
        params: Type.Object({ ...(prefix === '' ? {} : { channel: Name }), file: Text('^[A-Za-z0-9_-]{1,64}\\.(m3u8|ts)$', 'a playlist (.m3u8) or segment (.ts) name') }),
        querystring: ListenerQuery, produces: Object.values(HLS_TYPES), response: { 200: { description: 'Playlist or segment' }, ...problems(400, 403, 404, 503) },
      },
    }, async (request, reply) => {
      const { file } = request.params as { file: string };
      const body = await gate.hls(channelOf(request.params), file, { query: request.query, client: request.ip });
      return reply.type(HLS_TYPES[file.split('.').pop() ?? '']).header('Cache-Control', file.endsWith('.m3u8') ? 'no-store' : 'max-age=60')
        .header('Access-Control-Allow-Origin', '*').send(body);
    });
  }

  app.get('/channels', {
    schema: { tags, summary: 'Channels and who is on air on each: those of ONAIR_CHANNELS, then those made at run time', response: { 200: Type.Array(ChannelView) } },
  }, async () => (await gate.overview()).map(({ channel, availability }) => channelView(channel, availability)));

  app.post('/channels', {
    schema: {
      tags, summary: 'Make a channel at run time (static mode: it has a stream key)',
      description: 'Kept in the database: it survives restarts and every instance sharing the database serves it. The port is the lowest free one '
        + 'of the SRT range unless given; a taken name or port is a 409 naming it. The key is 192 random bits unless given. The answer shows the key.',
      body: CreateBody, response: { 201: Operated, ...problems(400, 409) },
    },
  }, async (request, reply) => reply.code(201).header('Cache-Control', 'no-store').send(await operated(await gate.createChannel(request.body))));

  app.get('/channels/:channel', {
    schema: { tags, summary: 'A channel and who is on air on it', params: ChannelParams, response: { 200: ChannelView, ...problems(400, 404) } },
  }, async (request) => channelView(await gate.channel(request.params.channel), await gate.availability(request.params.channel)));

  app.patch('/channels/:channel', {
    schema: {
      tags, summary: 'Change the port or the stream key of a channel made at run time',
      description: 'Refused (409) while the channel is reserved or live, and for channels of ONAIR_CHANNELS. The answer shows the key.',
      params: ChannelParams, body: ChangeBody, response: { 200: Operated, ...problems(400, 404, 409) },
    },
  }, async (request, reply) => reply.header('Cache-Control', 'no-store').send(await operated(await gate.changeChannel(request.params.channel, request.body))));

  app.delete('/channels/:channel', {
    schema: {
      tags, summary: 'Remove a channel made at run time', description: 'Refused (409) while it is reserved or live, and for channels of ONAIR_CHANNELS.',
      params: ChannelParams, response: { 204: { type: 'null', description: 'Removed' }, ...problems(400, 404, 409) },
    },
  }, async (request, reply) => {
    await gate.removeChannel(request.params.channel);
    return reply.code(204).send(null);
  });

  app.get('/channels/:channel/ingest', {
    config: { access: 'private' },
    schema: {
      tags, summary: 'Where an encoder sends the channel in static mode, with its stream key (operators only)',
      params: ChannelParams, response: { 200: Ingest, ...problems(400, 404) },
    },
  }, async (request, reply) => reply.header('Cache-Control', 'no-store').send(await gate.ingest(request.params.channel)));

  // Sessions name who reserved (the client's address).
  app.get('/channels/:channel/sessions', {
    config: { access: 'private' },
    schema: {
      tags, summary: 'Session history of a channel, newest first', params: ChannelParams,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })) }, { additionalProperties: false }),
      response: { 200: Type.Array(Session), ...problems(400, 404) },
    },
  }, async (request) => {
    await gate.channel(request.params.channel);
    return (await gate.store.history(request.params.channel, request.query.limit ?? 50)).map(sessionView);
  });

  registerSse(app, bus, '/channels/:channel/sse', {
    summary: 'Server-sent events of one channel: its availability, streams and changes',
    params: ChannelParams,
    async select({ channel }) {
      await gate.channel(channel);
      return (event) => (event.data as { channel?: unknown }).channel === channel;
    },
    responses: problems(404),
  });
}
