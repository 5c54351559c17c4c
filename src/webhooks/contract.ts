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

/** The webhook of a notification URL, and its secret when it was made by this call (it is shown once, as on creation). */
export interface NotificationEndpoint {
  webhook: string;
  secret?: string;
}

/**
 * Messages to a URL given for one purpose (the live scheduler's notification_url), rather than events to subscribers.
 * Each URL has one webhook, subscribed to no event type, made the first time the URL is given: its messages are
 * signed with its secret, retried, logged and managed (rotation, deliveries, retry) like any webhook's.
 */
export interface Notifications {
  /** Checks a URL before it is stored (InvalidInput naming `field` when the address guard refuses it); its webhook. */
  endpoint(url: string, field: string): Promise<NotificationEndpoint>;
  /**
   * Sends `body` as it is to the URL's webhook, first attempt now. `key` makes it once: a second call with the same key
   * (a task run again after a crash) stores and sends nothing more. Answers the message's id (its webhook-id), or
   * undefined when the URL's webhook was removed: nothing is sent (a warning names the URL without its query), and
   * nothing makes it again but endpoint().
   */
  notify(url: string, key: string, type: string, body: unknown): Promise<string | undefined>;
}
