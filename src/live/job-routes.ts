import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../core/http/server.ts';
import { Text } from '../core/http/validation.ts';
import { JOB_STATES, SEP_STATES } from './contract.ts';
import { errorAnswers, LIVE_ERRORS } from './errors.ts';
import type { JobService } from './jobs.ts';
import { commaList } from './paging.ts';

const tags = ['live jobs'];
const BAD = { 400: 'A parameter or the body is not valid: the error names it' };
const UNKNOWN = { 404: 'No such job' };
// Every /v1 route: seed 001's error bodies; reads show stream keys, so they need the key too.
const config = { access: 'private' as const, errors: LIVE_ERRORS };
const Seconds = (what: string) => Type.Integer({ minimum: 1, maximum: 7200, description: `${what}, in seconds (1-7200; 1800 when omitted)` });
const Format = Type.Union([Type.Literal('ogg'), Type.Literal('mpegts')]);

const JobBody = Type.Object({
  static: Type.Optional(Type.Boolean({ description: 'Must be true: only jobs with a static entry point (an SRT ingest with a stream key) exist here' })),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'job-<id> when omitted' })),
  region: Type.Optional(Text('^[a-z0-9][a-z0-9-]{0,63}$', 'lowercase letters, digits and - (such as eu-central)', { description: "The node's region when omitted" })),
  format: Type.Optional(Format),
  record: Type.Optional(Type.Boolean({ description: 'Record each activation that names a programme instance (an activation without one is not recorded)' })),
  outputs: Type.Optional(Type.Array(Type.Unknown(), { description: 'Only [] for now: push outputs of live jobs are not supported yet' })),
  reconnect_time: Type.Optional(Seconds('How long a dropped encoder may take to come back')),
  max_waiting_time: Type.Optional(Seconds('How long an activation waits for an encoder before the job deactivates itself')),
}, { additionalProperties: false });

const Change = Type.Object({
  at: Type.String({ format: 'date-time' }), state: Type.Union(JOB_STATES.map((s) => Type.Literal(s))),
  sep_state: Type.Union(SEP_STATES.map((s) => Type.Literal(s))), reason: Type.String(), by: Type.String(),
});

const Job = Type.Object({
  id: Type.String({ description: '32 lowercase hex' }),
  name: Type.String(),
  state: Type.Union(JOB_STATES.map((s) => Type.Literal(s))),
  sep_state: Type.Union(SEP_STATES.map((s) => Type.Literal(s))),
  static: Type.Literal(true),
  region: Type.String(),
  format: Format,
  record: Type.Boolean(),
  channel: Type.String({ description: 'The gate channel that carries it' }),
  node: Type.String({ description: 'The node its ingest lives on' }),
  ingest: Type.Object({
    url: Type.String({ description: 'srt:// without the key (empty once cancelled)' }), host: Type.String(), port: Type.Integer(),
    stream_key: Type.String({ description: 'The SRT passphrase (empty once cancelled)' }),
  }),
  playback_url: Type.String(),
  reconnect_time: Type.Integer(),
  max_waiting_time: Type.Integer(),
  created_at: Type.Integer({ description: 'Unix ms' }),
  updated_at: Type.Integer({ description: 'Unix ms' }),
  history: Type.Array(Change, { description: 'The last 200 changes' }),
});

const Params = Type.Object({ id: Type.String({ maxLength: 64, description: 'Job id (32 lowercase hex); any other is a 404' }) });
const States = commaList(JOB_STATES, 'states');

const who = (request: FastifyRequest) => `api ${request.ip}`;
/** Every answer carries the stream key. */
const secret = (reply: FastifyReply) => reply.header('Cache-Control', 'no-store');

export function registerJobRoutes(app: App, jobs: JobService): void {
  app.post('/v1/jobs', {
    config,
    schema: {
      tags, summary: 'Create a live job with a static SRT entry point', description: 'Its channel job-<id> gets a port of the SRT range and a 192-bit random stream key.',
      body: JobBody, response: { 201: Job, ...errorAnswers({ ...BAD, 409: 'The SRT port range has no free port' }) },
    },
  }, async (request, reply) => secret(reply).code(201).send(await jobs.create(request.body, who(request))));

  app.get('/v1/jobs', {
    config,
    schema: {
      tags, summary: 'Live jobs, newest first',
      querystring: Type.Object({
        state: Type.Optional(States),
        page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10 })),
        start_token: Type.Optional(Type.String({ maxLength: 200, description: 'next_token of the previous page' })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ jobs: Type.Array(Job), next_token: Type.Union([Type.String(), Type.Null()], { description: 'null on the last page' }) }), ...errorAnswers(BAD) },
    },
  }, async (request, reply) => {
    const { state, page_size: pageSize = 10, start_token: startToken } = request.query;
    return secret(reply).send(await jobs.list({ states: state ? [...new Set(state.split(','))] : [], pageSize, startToken }));
  });

  app.get('/v1/jobs/:id', {
    config, schema: { tags, summary: 'A live job', params: Params, response: { 200: Job, ...errorAnswers({ ...BAD, ...UNKNOWN }) } },
  }, async (request, reply) => secret(reply).send(await jobs.get(request.params.id)));

  const action = (path: string, summary: string, run: (id: string, by: string) => Promise<unknown>, answers: Record<number, string>, description?: string) =>
    app.put(`/v1/jobs/:id/${path}`, {
      config, schema: { tags, summary, ...(description && { description }), params: Params, response: { 200: Job, ...errorAnswers({ ...BAD, ...UNKNOWN, ...answers }) } },
    }, async (request, reply) => secret(reply).send(await run(request.params.id, who(request))));
  action('activate', 'Open the job to its encoder', (id, by) => jobs.activate(id, { by }), {
    409: 'The job is cancelled, is being deactivated, or was deactivated while it was being opened',
    503: "The job's node did not take the activation within 10 s, or could not open it",
  }, 'The job waits for its encoder (waiting), then is on air (processing); a job already active, or still being opened by its node, answers as it is.');
  action('deactivate', 'Close the job: the stream ends within a second and new connections are refused', (id, by) => jobs.deactivate(id, { by }), {
    409: 'The job is cancelled',
    503: "The job's node cannot be reached: the job stays pending_deactivation, and closes when its node is back (it is never opened again)",
  });
  action('cancel', 'Cancel the job: deactivated, its workflows cancelled, its channel removed; it stays readable', (id, by) => jobs.cancel(id, by), {
    409: 'The job is cancelled already, or its channel is in use',
  });

  app.post('/v1/jobs/:id/stream_key/rotate', {
    config, schema: { tags, summary: 'Give the job a new stream key (409 while it is active)', params: Params, response: { 200: Job, ...errorAnswers({ ...BAD, ...UNKNOWN, 409: 'The job is active (deactivate it first) or cancelled' }) } },
  }, async (request, reply) => secret(reply).send(await jobs.rotate(request.params.id, who(request))));
}
