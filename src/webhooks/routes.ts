import { Type } from 'typebox';
import type { Clock } from '../core/clock.ts';
import type { App } from '../core/http/server.ts';
import { Text } from '../core/http/validation.ts';
import { ALL_TYPES } from './contract.ts';
import type { WebhookService } from './service.ts';
import { subscriptionView } from './view.ts';
import { DeliveryId, DeliveryList, deliveryList, DeliveryPage } from '../core/outbound/view.ts';

const tags = ['webhooks'];
const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Problem')]));
const Url = Type.String({
  minLength: 1, maxLength: 2000, examples: ['https://example.org/onair'], description: 'http or https; it may not lead to a private or loopback address unless ONAIR_ALLOWED_PRIVATE_ADDRESSES allows it',
});
const Types = Type.Array(Text('^(\\*|[a-z][a-z0-9-]{0,63})$', 'an event type such as task-status-changed, or * for every event'), {
  minItems: 1, maxItems: 64, examples: [['task-status-changed', 'stream-ended']],
  description: `Event types (task-status-changed, task-progress, stream-reserved, availability-changed, programme-changed, ...); ${ALL_TYPES} for every durable one (task-progress, best effort, only by name)`,
});
const Description = Type.String({ maxLength: 500, description: 'What the subscription is for' });
const Params = Type.Object({ id: Type.String({ format: 'uuid', description: 'Webhook id' }) });
const DeliveryParams = Type.Object({
  id: Params.properties.id,
  delivery: DeliveryId,
});
const Webhook = Type.Object({
  id: Type.String({ format: 'uuid' }), url: Type.String(), types: Type.Array(Type.String()), description: Type.String(),
  enabled: Type.Boolean(),
  disabledReason: Type.Union([Type.String(), Type.Null()], { description: 'Why it was disabled: a 410 answer, 5 days of failures, an operator' }),
  failingSince: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'The first failed delivery since the last success' }),
  previousSecretUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'After a rotation: the previous secret signs too until then' }),
  createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }),
});
const WithSecret = Type.Intersect([Webhook, Type.Object({
  secret: Type.String({ description: 'whsec_...: the signing secret, shown only now (on creation and rotation)' }),
})]);
const Attempt = Type.Object({
  message: Type.String(), attempt: Type.Integer(), status: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]), delivery: Type.Union([Type.String(), Type.Null()]),
});

export function registerWebhookRoutes(app: App, webhooks: WebhookService, clock: Clock): void {
  const view = (row: Parameters<typeof subscriptionView>[0]) => subscriptionView(row, clock.now());

  app.post('/webhooks', {
    schema: {
      tags, summary: 'Subscribe a URL to events',
      description: 'Every event of the types named is POSTed to the URL, signed per Standard Webhooks with the secret answered, and retried on failure.',
      body: Type.Object({ url: Url, types: Types, description: Type.Optional(Description) }, { additionalProperties: false }),
      response: { 201: WithSecret, ...problems(400) },
    },
  }, async (request, reply) => {
    const { subscription, secret } = await webhooks.create(request.body);
    return reply.code(201).header('Cache-Control', 'no-store').send({ ...view(subscription), secret });
  });

  // Reads show where events go: for operators only.
  app.get('/webhooks', {
    config: { access: 'private' },
    schema: { tags, summary: 'Webhook subscriptions', response: { 200: Type.Object({ webhooks: Type.Array(Webhook) }) } },
  }, async () => ({ webhooks: (await webhooks.list()).map(view) }));

  app.get('/webhooks/:id', {
    config: { access: 'private' },
    schema: { tags, summary: 'A webhook subscription', params: Params, response: { 200: Webhook, ...problems(400, 404) } },
  }, async (request) => view(await webhooks.get(request.params.id)));

  app.patch('/webhooks/:id', {
    schema: {
      tags, summary: 'Change a webhook subscription', description: '`enabled: true` enables a disabled subscription again.', params: Params,
      body: Type.Object({ url: Type.Optional(Url), types: Type.Optional(Types), description: Type.Optional(Description), enabled: Type.Optional(Type.Boolean()) },
        { additionalProperties: false, minProperties: 1 }),
      response: { 200: Webhook, ...problems(400, 404) },
    },
  }, async (request) => view(await webhooks.change(request.params.id, request.body)));

  app.delete('/webhooks/:id', {
    schema: { tags, summary: 'Remove a webhook subscription and its pending messages', params: Params, response: { 204: Type.Null(), ...problems(400, 404) } },
  }, async (request, reply) => {
    await webhooks.remove(request.params.id);
    return reply.code(204).send(null);
  });

  app.post('/webhooks/:id/secret/rotate', {
    schema: {
      tags, summary: 'Rotate the signing secret', description: 'The previous secret signs too for 24 hours (both signatures are sent), so receivers can switch meanwhile.',
      params: Params, response: { 200: WithSecret, ...problems(400, 404) },
    },
  }, async (request, reply) => {
    const { subscription, secret } = await webhooks.rotate(request.params.id);
    return reply.header('Cache-Control', 'no-store').send({ ...view(subscription), secret });
  });

  app.post('/webhooks/:id/test', {
    schema: {
      tags, summary: 'Send a webhook-test message now', description: 'Answers how the first attempt went; a failed one is retried like any message.',
      params: Params, response: { 200: Attempt, ...problems(400, 404, 409) },
    },
  }, async (request) => webhooks.test(request.params.id));

  app.get('/webhooks/:id/deliveries', {
    config: { access: 'private' },
    schema: {
      tags, summary: 'The delivery log of a subscription, newest first', params: Params,
      querystring: Type.Object({
        ...DeliveryPage,
        message: Type.Optional(Text('^msg_[A-Za-z0-9]{1,64}$', 'a message id (msg_...)', { description: 'Only the attempts of this message (its webhook-id)' })),
      }, { additionalProperties: false }),
      response: {
        200: DeliveryList,
        ...problems(400, 404),
      },
    },
  }, async (request) => {
    const { limit = 100, ...filter } = request.query;
    const attempts = await webhooks.deliveries(request.params.id, { ...filter, limit });
    return deliveryList(attempts, limit);
  });

  app.post('/webhooks/:id/deliveries/:delivery/retry', {
    schema: {
      tags, summary: 'Send the message of a delivery again, now', description: 'The same webhook-id, a new attempt; the log shows how it went.',
      params: DeliveryParams, response: { 202: Type.Object({ message: Type.String() }), ...problems(400, 404) },
    },
  }, async (request, reply) => reply.code(202).send(await webhooks.retry(request.params.id, request.params.delivery)));

  app.post('/webhooks/:id/recover', {
    schema: {
      tags, summary: 'Send again every message that ended undelivered since a time',
      params: Params,
      body: Type.Object({ since: Type.String({ format: 'date-time', description: 'Messages created at or after this instant' }) }, { additionalProperties: false }),
      response: { 202: Type.Object({ messages: Type.Integer({ description: 'How many are sent again' }) }), ...problems(400, 404) },
    },
  }, async (request, reply) => reply.code(202).send(await webhooks.recover(request.params.id, Date.parse(request.body.since))));
}
