import { createHmac, randomBytes } from 'node:crypto';

/** Standard Webhooks: `whsec_` and the base64 of 24 to 64 random bytes (32 here). */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function newMessageId(): string {
  return `msg_${randomBytes(16).toString('hex')}`;
}

/** `v1,<base64 HMAC-SHA256 of id.timestamp.body>` per secret, space-separated (several during a rotation). */
export function signature(secrets: string[], id: string, timestamp: number, body: string): string {
  return secrets.map((secret) => {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
  }).join(' ');
}

/** The headers of one attempt: the timestamp is the attempt's own (Unix seconds), the id the message's. */
export function signedHeaders(secrets: string[], id: string, now: number, body: string): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature(secrets, id, timestamp, body),
  };
}
