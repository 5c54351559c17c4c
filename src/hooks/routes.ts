import { Type } from 'typebox';
import type { App } from '../core/http/server.ts';
import { HOOK_METHODS } from '../core/hook-apps.ts';
import { AppKey, ChannelName } from '../gate/contract.ts';
import type { StreamFilter } from './contract.ts';
import { appView, type StreamApi } from './service.ts';
import type { HookApp } from '../core/hook-apps.ts';
import type { Outbound } from '../core/outbound/contract.ts';
import { DeliveryList, deliveryList, DeliveryPage } from '../core/outbound/view.ts';

const tags = ['hooks'];
const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Problem')]));
const Status = Type.Union([
  Type.Literal('NEW'), Type.Literal('PENDING'), Type.Literal('PUBLISHING'), Type.Literal('UNPUBLISHED'), Type.Literal('PLAYING'),
  Type.Literal('STOPPED'), Type.Literal('FAILED'),
], {
  description: 'NEW: reserved, waiting for its source; PUBLISHING: on air; UNPUBLISHED: the source left (static mode: it may come back)',
});
const Names = Type.Array(Type.String());
const MethodConfig = Type.Object({
  restExclude: Names, clientExclude: Names, restOverwrite: Names,
  restOnError: Type.Union([Type.Literal('LOG'), Type.Literal('FAIL')]),
  restPolicy: Type.Union([Type.Literal('NOTIFY'), Type.Literal('OVERWRITE'), Type.Literal('DISABLED')]),
  cacheTtlMs: Type.Integer({ description: 'How long an authorization\'s answer is kept for the same credential, unless the answer says cacheTtl' }),
});
const AppView = Type.Object({
  name: Type.String(), appKey: Type.String(),
  url: Type.String({ description: 'Where its methods are posted ({url}/{Method}), without user, password or query' }),
  methods: Type.Array(Type.String(), { description: 'The methods it is called for: every one unless ONAIR_HOOK_APPS lists them' }),
  timeoutMs: Type.Integer(),
  restClientConfig: Type.Object(Object.fromEntries(HOOK_METHODS.map((method) => [method, MethodConfig]))),
}, { $id: 'HookApp' });
const Filter = Type.Object({
  mediaSessionId: Type.Optional(Type.String({ format: 'uuid', description: 'The stream\'s session' })),
  name: Type.Optional(ChannelName),
  published: Type.Optional(Type.Boolean({ description: 'true: sources (every stream onair lists is one)' })),
  status: Type.Optional(Status),
  appKey: Type.Optional(AppKey),
}, { additionalProperties: false });
const StreamView = Type.Object({
  nodeId: Type.String(), appKey: Type.String(), sessionId: Type.String(), mediaSessionId: Type.String(), name: Type.String(),
  published: Type.Boolean(), hasVideo: Type.Boolean(), hasAudio: Type.Boolean(), status: Status, record: Type.Boolean(),
  mediaProvider: Type.Literal('SRT'), createDate: Type.Integer({ description: 'When it was reserved or activated, epoch milliseconds' }),
  metadata: Type.Record(Type.String(), Type.String()),
}, { $id: 'HookStream' });

export function registerHookRoutes(app: App, apps: HookApp[], streams: StreamApi, outbound: Outbound): void {
  // Apps are the operator's: they name the station's private backends.
  app.get('/hooks/apps', {
    config: { access: 'private' },
    schema: {
      tags, summary: 'The REST hook applications of ONAIR_HOOK_APPS (operators only)',
      response: { 200: Type.Object({ apps: Type.Array(AppView) }) },
    },
  }, async () => ({ apps: apps.map(appView) }));

  app.get('/hooks/deliveries', {
    config: { access: 'private' },
    schema: {
      tags, summary: 'The delivery log of REST hook calls, newest first (operators only)',
      description: 'Every call to a hook backend: its method, attempt (send errors are tried again), status or error, duration and the answer\'s first bytes.',
      querystring: Type.Object({
        app: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only the calls to this application (its name)' })),
        ...DeliveryPage,
      }, { additionalProperties: false }),
      response: { 200: DeliveryList },
    },
  }, async (request) => {
    const { limit = 100, app: subscriber, ...page } = request.query;
    return deliveryList(await outbound.deliveries({ kind: 'hook', subscriber, ...page, limit }), limit);
  });

  app.post('/rest-api/stream/find', {
    schema: {
      tags, summary: 'The streams matching a filter (seed 004\'s REST API)',
      description: 'Every field given must match; 404 when no stream does.',
      body: Filter, response: { 200: Type.Array(StreamView), ...problems(404) },
    },
  }, async (request) => streams.find(request.body as StreamFilter));

  app.post('/rest-api/stream/terminate', {
    schema: {
      tags, summary: 'Cut off the streams matching a filter, wherever they run (seed 004\'s REST API)',
      description: 'Every field given must match (at least one: an empty filter is refused); the sessions end with reason terminated. Answers the streams ended; 404 when no stream matches.',
      body: Filter,
      response: { 200: Type.Array(StreamView), ...problems(404) },
    },
  }, async (request) => streams.terminate(request.body as StreamFilter));
}
