import { parseArgs } from 'node:util';
import { OnairClient } from './client.ts';
import type { Output } from './output.ts';

export const WEBHOOKS_USAGE = `onair webhooks add URL TYPE... [--description TEXT]
                                       subscribe URL to events of these types (* for all); prints the secret
onair webhooks list                    subscriptions
onair webhooks show ID                 a subscription
onair webhooks deliveries ID [--failed] [--limit N] [--before DELIVERY]
                                       its delivery log, newest first
onair webhooks retry ID DELIVERY       send that delivery's message again
onair webhooks retry ID --since DATETIME
                                       send again every message that ended undelivered since then
onair webhooks rotate ID               a new secret (the previous one signs too for 24 hours)
onair webhooks remove ID               remove a subscription`;

/** A subscription in a sentence, with its secret when the answer has one. */
const said = (done: string) => (body: { id: string; url: string; secret?: string }) =>
  `webhook ${body.id} ${done} (${body.url})${body.secret ? `\nsecret: ${body.secret} (shown only now)` : ''}`;

export async function webhooksCommand(args: string[], out: Output, client = new OnairClient()): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      description: { type: 'string' }, failed: { type: 'boolean' }, limit: { type: 'string' }, before: { type: 'string' },
      since: { type: 'string' },
    },
  });
  const [verb, first, ...rest] = positionals;
  switch (verb) {
    case 'add':
      if (!first || rest.length === 0) break;
      return out.print(await client.request('POST', '/webhooks', {
        url: first, types: rest, ...(values.description === undefined ? {} : { description: values.description }),
      }), said('added'));
    case 'list':
      return out.print(await client.request('GET', '/webhooks'), (body: { webhooks: unknown[] }) => (body.webhooks.length === 0 ? 'no webhooks' : body.webhooks));
    case 'show':
      if (!first) break;
      return out.print(await client.request('GET', `/webhooks/${first}`));
    case 'deliveries': {
      if (!first) break;
      const query = new URLSearchParams();
      if (values.failed) query.set('failed', 'true');
      if (values.limit) query.set('limit', values.limit);
      if (values.before) query.set('before', values.before);
      const path = `/webhooks/${first}/deliveries${query.size > 0 ? `?${query}` : ''}`;
      return out.print(await client.request('GET', path), (body: { deliveries: unknown[]; next: string | null }) =>
        (body.deliveries.length === 0 ? 'no deliveries' : body));
    }
    case 'retry':
      if (!first) break;
      if (values.since !== undefined) {
        return out.print(await client.request('POST', `/webhooks/${first}/recover`, { since: values.since }),
          (body: { messages: number }) => `${body.messages} message${body.messages === 1 ? '' : 's'} sent again`);
      }
      if (!rest[0]) break;
      return out.print(await client.request('POST', `/webhooks/${first}/deliveries/${rest[0]}/retry`), (body: { message: string }) => `message ${body.message} sent again`);
    case 'rotate':
      if (!first) break;
      return out.print(await client.request('POST', `/webhooks/${first}/secret/rotate`), said('has a new secret'));
    case 'remove':
      if (!first) break;
      return out.print(await client.request('DELETE', `/webhooks/${first}`), () => `webhook ${first} removed`);
  }
  process.stderr.write(`${WEBHOOKS_USAGE}\n`);
  return 2;
}
