/** What the webhooks area tells of its subscriptions (no URL and no secret: events reach /sse). */
export interface WebhookEvent {
  id: string;
  types: string[];
  description: string;
  enabled: boolean;
}

declare module '../core/events/bus.ts' {
  interface EventMap {
    'webhook-created': WebhookEvent;
    'webhook-changed': WebhookEvent;
    'webhook-removed': { id: string };
    /** By a 410 answer, or after five days of failed deliveries. */
    'webhook-disabled': WebhookEvent & { reason: string };
  }
}

/** Every event type, durable or lossy. */
export const ALL_TYPES = '*';
/** The task operation that makes each attempt: its own tasks' events are never delivered to webhooks. */
export const DELIVERY_OPERATION = 'webhook-delivery';
/** The type of the message POST /webhooks/{id}/test sends. */
export const TEST_TYPE = 'webhook-test';
