import type { WebhookEvent } from './contract.ts';
import type { SubscriptionRow } from './migrations.ts';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function eventOf(row: SubscriptionRow): WebhookEvent {
  return { id: row.id, types: JSON.parse(row.types) as string[], description: row.description, enabled: row.enabled === 1 };
}

/** A subscription as operators read it: never its secret. */
export function subscriptionView(row: SubscriptionRow, now: number) {
  return {
    ...eventOf(row),
    url: row.url,
    disabledReason: row.disabled_reason,
    failingSince: iso(row.failing_since),
    /** During a rotation, the previous secret signs too until then. */
    previousSecretUntil: row.previous_until !== null && row.previous_until > now ? iso(row.previous_until) : null,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
  };
}
