import { useState, type FormEvent } from 'react';
import { api, ApiError, get, query } from '../api.ts';
import { ConfirmButton } from '../confirm.tsx';
import { useLive, type LiveEvent } from '../live.ts';
import { Badge, CopyButton, Empty, Field, FormRefusal, Page, Refusal, Time, useAction } from '../ui.tsx';
import './webhooks.css';

interface Webhook {
  id: string;
  url: string;
  types: string[];
  description: string;
  enabled: boolean;
  disabledReason: string | null;
  failingSince: string | null;
  previousSecretUntil: string | null;
  createdAt: string;
  updatedAt: string;
}
interface Delivery {
  id: string;
  subscriber: string;
  message: string | null;
  type: string;
  attempt: number;
  at: string;
  status: number | null;
  durationMs: number;
  error: string | null;
  excerpt: string | null;
}
interface Attempt { message: string; attempt: number; status: number | null; error: string | null }
interface HookApp { name: string; appKey: string; url: string; methods: string[]; timeoutMs: number }
interface HookError { app: string; method: string; channel: string; error: string }

const WEBHOOK_EVENTS = ['webhook-created', 'webhook-changed', 'webhook-removed', 'webhook-disabled', 'task-status-changed'];
// Each attempt of a webhook's message is a task of the task engine: its end is a task-status-changed.
const DELIVERY_EVENTS = ['task-status-changed', 'webhook-changed', 'webhook-disabled'];
// Hook backends are called as streams are reserved, go on and off air.
const HOOK_EVENTS = ['hook-error', 'stream-reserved', 'stream-publishing', 'stream-disconnected', 'stream-ended', 'stream-failed'];
const LOG_SIZE = 50;
const FORM_FIELDS = ['url', 'types', 'description'];
const RECOVER_SINCE = [{ label: 'the last hour', ms: 3_600_000 }, { label: 'the last day', ms: 86_400_000 }, { label: 'the last 5 days', ms: 5 * 86_400_000 }];

const delivered = (status: number | null) => status !== null && status >= 200 && status < 300;
const webhookPath = (id: string) => `/webhooks/${encodeURIComponent(id)}`;
const loadWebhooks = (signal: AbortSignal) => get<{ webhooks: Webhook[] }>('/webhooks', signal).then((answer) => answer.webhooks);

/** The API names an event type by its place (`types.2`): the form has one field for them all. */
function typesAsOneField(error: ApiError | undefined): ApiError | undefined {
  const item = Object.keys(error?.fields ?? {}).find((field) => field.startsWith('types.'));
  if (error === undefined || item === undefined) return error;
  return new ApiError(error.status, error.message, { ...error.fields, types: error.fields[item]! });
}

export default function Webhooks() {
  const webhooks = useLive(loadWebhooks, WEBHOOK_EVENTS);
  const [chosen, choose] = useState<string>();
  const [secret, setSecret] = useState<{ url: string; secret: string }>();
  // A test delivery is no task: no event tells of it, so the page's own changes make the log read again.
  const [changes, counted] = useState(0);
  const changed = () => { webhooks.reload(); counted((count) => count + 1); };
  const logOf = webhooks.data?.find((webhook) => webhook.id === chosen);
  return (
    <Page title="Webhooks and hooks">
      <section aria-labelledby="webhooks-title">
        <h2 id="webhooks-title">Webhooks</h2>
        <Refusal error={webhooks.error} />
        {secret && <SecretShownOnce {...secret} done={() => setSecret(undefined)} />}
        {webhooks.data === undefined ? <Empty>Loading the subscriptions…</Empty> : webhooks.data.length === 0 ? <Empty>No subscription yet.</Empty> : (
          <div className="cards">
            {webhooks.data.map((webhook) => (
              <WebhookCard key={webhook.id} webhook={webhook} changed={changed} showSecret={setSecret}
                logShown={webhook.id === chosen} toggleLog={() => choose(webhook.id === chosen ? undefined : webhook.id)}
                removing={() => { if (webhook.id === chosen) choose(undefined); }} />
            ))}
          </div>
        )}
        {logOf && <DeliveryLog webhook={logOf} changes={changes} changed={changed} />}
        <details className="new-webhook">
          <summary>New webhook</summary>
          <WebhookForm submitLabel="Subscribe" onSaved={(saved) => { webhooks.reload(); if (saved.secret) setSecret({ url: saved.url, secret: saved.secret }); }} />
        </details>
      </section>
      <Hooks />
    </Page>
  );
}

function SecretShownOnce({ url, secret, done }: { url: string; secret: string; done(): void }) {
  return (
    <div className="notice secret" role="status">
      <p>The signing secret of <code>{url}</code>, shown only now: keep it where the receiver verifies signatures.</p>
      <p><code data-testid="secret">{secret}</code> <CopyButton value={secret} label="the signing secret" /></p>
      <button type="button" className="small" onClick={done}>I have kept it</button>
    </div>
  );
}

function WebhookCard({ webhook, changed, showSecret, logShown, toggleLog, removing }: {
  webhook: Webhook; changed(): void; showSecret(shown: { url: string; secret: string }): void; logShown: boolean; toggleLog(): void;
  /** Before it is deleted: its log closes, so that nothing reads what is gone. */
  removing(): void;
}) {
  const action = useAction();
  const [editing, setEditing] = useState(false);
  const [tested, setTested] = useState<Attempt>();
  const path = webhookPath(webhook.id);
  const test = () => void action.run(() => api<Attempt>('POST', `${path}/test`)).then((attempt) => { setTested(attempt); changed(); });
  const rotate = () => void action.run(() => api<Webhook & { secret: string }>('POST', `${path}/secret/rotate`))
    .then((rotated) => { if (rotated) showSecret({ url: rotated.url, secret: rotated.secret }); changed(); });
  const change = (method: string, body?: unknown) => void action.run(() => api(method, path, { body })).then(changed);
  const title = `webhook-${webhook.id}`;
  return (
    <article className="card webhook" aria-labelledby={title} data-enabled={webhook.enabled}>
      <h3 id={title}><code>{webhook.url}</code> <Badge state={webhook.enabled ? 'enabled' : 'disabled'} /></h3>
      {editing ? (
        <WebhookForm webhook={webhook} submitLabel="Save" onSaved={() => { setEditing(false); changed(); }} onCancel={() => setEditing(false)} />
      ) : (
        <dl className="facts">
          <dt>Events</dt><dd>{webhook.types.join(', ')}</dd>
          {webhook.description && <><dt>For</dt><dd>{webhook.description}</dd></>}
          {webhook.disabledReason && <><dt>Disabled</dt><dd>{webhook.disabledReason}</dd></>}
          {webhook.failingSince && <><dt>Failing since</dt><dd className="late"><Time value={webhook.failingSince} /></dd></>}
          {webhook.previousSecretUntil && <><dt>Old secret signs until</dt><dd><Time value={webhook.previousSecretUntil} /></dd></>}
          <dt>Created</dt><dd><Time value={webhook.createdAt} /></dd>
        </dl>
      )}
      {tested && (
        <p className={delivered(tested.status) ? 'tested' : 'tested late'} role="status">
          Test delivery: {tested.error ?? `answered ${tested.status}`}{!delivered(tested.status) && ', tried again later'}
        </p>
      )}
      <div className="actions">
        <button type="button" className="small" aria-pressed={logShown} onClick={toggleLog}>Delivery log</button>
        <button type="button" className="small" disabled={action.busy || !webhook.enabled} onClick={test}>Send a test delivery</button>
        {!editing && <button type="button" className="small" onClick={() => setEditing(true)}>Edit</button>}
        <ConfirmButton label="Rotate secret" busy={action.busy} question="The old secret signs too for 24 hours." confirm="Rotate the secret" onConfirm={rotate} />
        {webhook.enabled
          ? <ConfirmButton label="Disable" busy={action.busy} question="No event is sent while disabled." confirm="Disable it" onConfirm={() => change('PATCH', { enabled: false })} />
          : <button type="button" className="small" disabled={action.busy} onClick={() => change('PATCH', { enabled: true })}>Enable</button>}
        <ConfirmButton label="Delete" danger busy={action.busy} question="Its messages waiting to be sent go too." confirm="Delete the webhook" onConfirm={() => { removing(); change('DELETE'); }} />
      </div>
      <Refusal error={action.error} />
    </article>
  );
}

/** Subscribes a URL (answered with the secret, shown once), or changes a subscription. */
function WebhookForm({ webhook, submitLabel, onSaved, onCancel }: {
  webhook?: Webhook; submitLabel: string; onSaved(saved: Webhook & { secret?: string }): void; onCancel?(): void;
}) {
  const action = useAction();
  const error = typesAsOneField(action.error);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const values = new FormData(form);
    const body = {
      url: String(values.get('url')).trim(),
      types: String(values.get('types')).split(/[\s,]+/).filter(Boolean),
      description: String(values.get('description')),
    };
    const saved = await action.run(() => api<Webhook & { secret?: string }>(webhook ? 'PATCH' : 'POST', webhook ? webhookPath(webhook.id) : '/webhooks', { body }));
    if (saved === undefined) return;
    if (!webhook) form.reset();
    onSaved(saved);
  };
  return (
    <form className="stack" onSubmit={(event) => void submit(event)} aria-label={webhook ? `Change ${webhook.url}` : 'New webhook'}>
      <Field label="URL" name="url" error={error} hint="http or https; where onair POSTs the events, signed">
        {(props) => <input {...props} type="text" inputMode="url" autoComplete="off" required defaultValue={webhook?.url} placeholder="https://example.org/onair" />}
      </Field>
      <Field label="Event types" name="types" error={error} hint="separated by spaces or commas, such as task-status-changed stream-ended; * for every event">
        {(props) => <input {...props} type="text" autoComplete="off" required defaultValue={webhook?.types.join(' ')} />}
      </Field>
      <Field label="Description" name="description" error={error}>
        {(props) => <input {...props} type="text" defaultValue={webhook?.description} />}
      </Field>
      <FormRefusal error={error} fields={FORM_FIELDS} />
      <div className="actions">
        <button type="submit" className="primary" disabled={action.busy}>{submitLabel}</button>
        {onCancel && <button type="button" onClick={onCancel}>Cancel</button>}
      </div>
    </form>
  );
}

/** The attempts of one subscription, newest first, live: a failed one can be sent again now. */
function DeliveryLog({ webhook, changes, changed }: { webhook: Webhook; changes: number; changed(): void }) {
  const [failedOnly, setFailedOnly] = useState(false);
  const log = useLive((signal) => get<{ deliveries: Delivery[] }>(`${webhookPath(webhook.id)}/deliveries${query({ limit: LOG_SIZE, failed: failedOnly || undefined })}`, signal),
    DELIVERY_EVENTS, [webhook.id, failedOnly, changes]);
  const action = useAction();
  const retry = (delivery: Delivery) => void action.run(() => api('POST', `${webhookPath(webhook.id)}/deliveries/${encodeURIComponent(delivery.id)}/retry`)).then(log.reload);
  return (
    <section className="delivery-log" aria-labelledby="log-title">
      <h3 id="log-title">Delivery log of <code>{webhook.url}</code></h3>
      <div className="row">
        <label className="check"><input type="checkbox" checked={failedOnly} onChange={(event) => setFailedOnly(event.target.checked)} /> Only failed attempts</label>
      </div>
      <Refusal error={log.error ?? action.error} />
      {log.data === undefined ? <Empty>Loading the log…</Empty> : log.data.deliveries.length === 0 ? <Empty>No delivery yet.</Empty> : (
        <div className="table-wrap">
          <table>
            <thead><tr><th scope="col">At</th><th scope="col">Event</th><th scope="col">Attempt</th><th scope="col">Answer</th><th scope="col">Took</th><th scope="col">Retry</th></tr></thead>
            <tbody>
              {log.data.deliveries.map((delivery) => (
                <tr key={delivery.id} data-delivered={delivered(delivery.status)}>
                  <td><Time value={delivery.at} /></td>
                  <td><code>{delivery.type}</code>{delivery.message && <><br /><small className="mono">{delivery.message}</small></>}</td>
                  <td>{delivery.attempt}</td>
                  <td>
                    <Badge state={delivered(delivery.status) ? 'delivered' : 'failed'} /> {delivery.status ?? ''}
                    {delivery.error && <><br /><small>{delivery.error}</small></>}
                    {delivery.excerpt && <><br /><small className="mono">{delivery.excerpt}</small></>}
                  </td>
                  <td>{Math.round(delivery.durationMs)} ms</td>
                  <td>
                    {!delivered(delivery.status) && (
                      <button type="button" className="small" disabled={action.busy} onClick={() => retry(delivery)}
                        aria-label={`Retry ${delivery.type} attempt ${delivery.attempt} now`}>Retry now</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Recover webhook={webhook} changed={changed} />
    </section>
  );
}

/** Sends again every message that ended undelivered since a time; a disabled subscription is enabled first. */
function Recover({ webhook, changed }: { webhook: Webhook; changed(): void }) {
  const action = useAction();
  const [sent, setSent] = useState<number>();
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const since = new Date(Date.now() - Number(new FormData(event.currentTarget).get('since'))).toISOString();
    const path = webhookPath(webhook.id);
    void action.run(async () => {
      if (!webhook.enabled) await api('PATCH', path, { body: { enabled: true } });
      return api<{ messages: number }>('POST', `${path}/recover`, { body: { since } });
    }).then((answer) => { setSent(answer?.messages); changed(); });
  };
  return (
    <form className="row recover" onSubmit={submit}>
      <Field label="Send again what ended undelivered in" name="since" error={action.error}>
        {(props) => (
          <select {...props} defaultValue={RECOVER_SINCE[1]!.ms}>
            {RECOVER_SINCE.map((choice) => <option key={choice.ms} value={choice.ms}>{choice.label}</option>)}
          </select>
        )}
      </Field>
      <button type="submit" disabled={action.busy}>{webhook.enabled ? 'Send again' : 'Enable and send again'}</button>
      {sent !== undefined && <p role="status">{sent === 1 ? '1 message' : `${sent} messages`} sent again.</p>}
      <FormRefusal error={action.error} fields={['since']} />
    </form>
  );
}

async function loadHooks(signal: AbortSignal): Promise<{ apps: HookApp[]; deliveries: Delivery[] }> {
  const [{ apps }, { deliveries }] = await Promise.all([
    get<{ apps: HookApp[] }>('/hooks/apps', signal),
    get<{ deliveries: Delivery[] }>(`/hooks/deliveries${query({ limit: LOG_SIZE })}`, signal),
  ]);
  return { apps, deliveries };
}

/** The REST hook applications of the configuration and their calls, read-only; errors under restOnError FAIL as they come. */
function Hooks() {
  const [errors, setErrors] = useState<Array<LiveEvent<HookError>>>([]);
  const onEvent = (event: LiveEvent) => {
    if (event.type === 'hook-error') setErrors((seen) => [event as unknown as LiveEvent<HookError>, ...seen].slice(0, 10));
    return false;
  };
  const hooks = useLive(loadHooks, HOOK_EVENTS, [], onEvent);
  return (
    <section aria-labelledby="hooks-title">
      <h2 id="hooks-title">REST hooks</h2>
      <Refusal error={hooks.error} />
      {errors.length > 0 && (
        <ul className="hook-errors" aria-label="Hook errors since this page opened">
          {errors.map((event) => (
            <li key={`${event.id}-${event.createdAt}`} className="error"><Time value={event.createdAt} /> · {event.data.app} {event.data.method} ({event.data.channel}): {event.data.error}</li>
          ))}
        </ul>
      )}
      {hooks.data === undefined ? <Empty>Loading the hook applications…</Empty> : (
        <>
          {hooks.data.apps.length === 0 ? <Empty>No hook application (ONAIR_HOOK_APPS is not set).</Empty> : (
            <div className="table-wrap">
              <table aria-label="Hook applications">
                <thead><tr><th scope="col">Application</th><th scope="col">App key</th><th scope="col">URL</th><th scope="col">Methods</th><th scope="col">Timeout</th></tr></thead>
                <tbody>
                  {hooks.data.apps.map((app) => (
                    <tr key={app.name}><td>{app.name}</td><td><code>{app.appKey}</code></td><td><code>{app.url}</code></td><td>{app.methods.join(', ')}</td><td>{app.timeoutMs} ms</td></tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <h3>Calls to the hook backends</h3>
          {hooks.data.deliveries.length === 0 ? <Empty>No call yet.</Empty> : (
            <div className="table-wrap">
              <table>
                <thead><tr><th scope="col">At</th><th scope="col">Application</th><th scope="col">Method</th><th scope="col">Attempt</th><th scope="col">Answer</th><th scope="col">Took</th></tr></thead>
                <tbody>
                  {hooks.data.deliveries.map((call) => (
                    <tr key={call.id}>
                      <td><Time value={call.at} /></td><td>{call.subscriber}</td><td>{call.type}</td><td>{call.attempt}</td>
                      <td><Badge state={delivered(call.status) ? 'delivered' : 'failed'} /> {call.status ?? ''}{call.error && <><br /><small>{call.error}</small></>}</td>
                      <td>{Math.round(call.durationMs)} ms</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
