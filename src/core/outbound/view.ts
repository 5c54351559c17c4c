import { Type } from 'typebox';
import { Text } from '../http/validation.ts';
import type { DeliveryAttempt } from './contract.ts';

/** A delivery id, as the log hands it out. */
export const DeliveryId = Text('^[A-Za-z0-9_-]{1,100}$', '1 to 100 letters, digits, _ or - (a delivery id)', { description: 'Delivery id, from the delivery log' });

/** One attempt as the API shows it, for webhooks and REST hooks alike. */
export const Delivery = Type.Object({
  id: Type.String(), subscriber: Type.String({ description: 'The webhook subscription\'s id, or the hook application\'s name' }),
  message: Type.Union([Type.String(), Type.Null()], { description: 'Webhooks: the webhook-id, the same for every attempt; REST hooks: null' }),
  eventId: Type.Union([Type.Integer(), Type.Null()], { description: 'The outbox id of the event' }),
  type: Type.String({ description: 'The event type (webhooks) or the REST method (hooks)' }),
  attempt: Type.Integer(), at: Type.String({ format: 'date-time' }), status: Type.Union([Type.Integer(), Type.Null()], { description: 'The answer\'s status; null when none came' }),
  durationMs: Type.Number(), error: Type.Union([Type.String(), Type.Null()]), excerpt: Type.Union([Type.String(), Type.Null()], { description: 'The answer\'s first bytes' }),
}, { $id: 'Delivery' });

/** The paging query of a delivery log. */
export const DeliveryPage = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Attempts per page (default 100)' })),
  before: Type.Optional(DeliveryId),
  failed: Type.Optional(Type.Boolean({ description: 'Only attempts that failed' })),
};

/** A page of the log, and where the next one starts. */
export const DeliveryList = Type.Object({
  deliveries: Type.Array(Delivery),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Give it as `before` for the next page; null on the last' }),
});

export function deliveryView(attempt: DeliveryAttempt) {
  return {
    id: attempt.id, subscriber: attempt.subscriber, message: attempt.message, eventId: attempt.eventId, type: attempt.type, attempt: attempt.attempt,
    at: new Date(attempt.at).toISOString(), status: attempt.status, durationMs: attempt.durationMs, error: attempt.error,
    excerpt: attempt.excerpt,
  };
}

/** The page answered for `limit` attempts asked. */
export function deliveryList(attempts: DeliveryAttempt[], limit: number) {
  return { deliveries: attempts.map(deliveryView), next: attempts.length === limit ? attempts.at(-1)!.id : null };
}
