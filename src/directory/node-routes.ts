import { Type } from 'typebox';
import type { Clock } from '../core/clock.ts';
import { NODE_ID } from '../core/config.ts';
import { invalid, notFound } from '../core/errors.ts';
import type { App } from '../core/http/server.ts';
import { Text } from '../core/http/validation.ts';
import { NODE_STATES, type DirectoryNode } from './contract.ts';
import type { NodeRegistry } from './registry.ts';
import { AccessToken, requireAccessToken, STREAM_MANAGER, streamManagerAnswers, streamManagerErrors, TOKEN_ANSWERS } from './streammanager.ts';

// The words of every schema with this pattern (tasks' `node` too): a pattern has one wording.
const NODE_WORDS = '1 to 64 letters, digits, ., _ or -, starting with a letter or digit (a node id)';
const NodeId = Text(NODE_ID.source, NODE_WORDS, { description: 'Node id (ONAIR_NODE_ID)' });
const Region = Text('^[a-z0-9][a-z0-9-]{0,63}$', 'lowercase letters, digits and - (such as eu-central)');
const State = Type.Union([Type.Literal('STARTED'), Type.Literal('INSERVICE'), Type.Literal('SOFT_SUNSET'), Type.Literal('FAULT'), Type.Literal('STOPPED')], {
  description: `One of ${NODE_STATES.join(', ')}`,
});
const Count = Type.Integer({ minimum: 0 });
const EpochMs = (description: string) => Type.Integer({ description: `${description}, epoch ms` });

const Stream = Type.Object({
  name: Type.String({ description: 'The gate channel' }),
  scope: Type.String({ description: 'With its leading slash (/live)' }),
  carriedAs: Type.Union([Type.Literal('origin'), Type.Literal('edge')], { description: 'origin: on air here; edge: relayed from its origin' }),
  publishers: Count,
  subscribers: Count,
  startTime: EpochMs('On air (origin) or relayed (edge) since'),
  instance: Type.Union([Type.Object({ event: Type.String(), start: Type.String() }), Type.Null()], { description: 'The programme instance on air' }),
});
const Load = {
  publishers: Count,
  subscribers: Count,
  cpuLoad: Type.Number({ description: 'One-minute load average over the cores' }),
  bytesIn: Type.Integer({ description: 'Taken in since the node started' }),
  bytesOut: Type.Integer({ description: 'Sent to listeners since the node started' }),
};
const Node = Type.Object({
  id: Type.String(),
  address: Type.String({ description: 'Handed to clients as serverAddress (ONAIR_NODE_ADDRESS)' }),
  url: Type.String({ description: 'Its HTTP API, where edges pull its streams (ONAIR_NODE_URL)' }),
  region: Type.String(),
  geozone: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(Type.Union([Type.Literal('origin'), Type.Literal('edge')])),
  capacity: Type.Integer({ description: 'Listeners at most' }),
  state: State,
  drained: Type.Boolean({ description: 'Drained and not resumed: back from FAULT it is in SOFT_SUNSET' }),
  startedAt: EpochMs('Registered'),
  reportedAt: EpochMs('Last report'),
  stateChangedAt: EpochMs('In its state since'),
  report: Type.Object({ streams: Type.Array(Stream), ...Load }),
});

const tags = ['directory'];
const config = { access: 'private' as const };
const Params = Type.Object({ id: NodeId });
const problems = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, Type.Ref('Problem')]));

/** The operators' routes of the registry: problem documents, like the rest of onair. */
function registerDirectoryRoutes(app: App, registry: NodeRegistry): void {
  app.get('/directory/nodes', {
    config,
    schema: {
      tags, summary: 'Every node of the directory, by id',
      description: 'From this instance\'s snapshot, which every change on any instance refreshes; a node silent for ONAIR_NODE_FAULT_AFTER is in FAULT.',
      querystring: Type.Object({ region: Type.Optional(Region), state: Type.Optional(State) }),
      response: { 200: Type.Array(Node), ...problems(400) },
    },
  }, async (request) => registry.nodes().filter((node) =>
    (request.query.region === undefined || node.region === request.query.region) && (request.query.state === undefined || node.state === request.query.state)));

  app.get('/directory/nodes/:id', {
    config, schema: { tags, summary: 'A node of the directory', params: Params, response: { 200: Node, ...problems(400, 404) } },
  }, async (request) => registry.node(request.params.id) ?? Promise.reject(notFound(`There is no node ${request.params.id}`)));

  app.post('/directory/nodes/:id/drain', {
    config,
    schema: {
      tags, summary: 'Drain a node: SOFT_SUNSET, no new clients, those there stay', params: Params,
      response: { 200: Node, ...problems(400, 404), 409: { $ref: 'Problem', description: 'The node is neither INSERVICE nor STARTED' } },
    },
  }, async (request) => registry.drain(request.params.id));

  app.post('/directory/nodes/:id/resume', {
    config,
    schema: {
      tags, summary: 'Put a drained node back in service (INSERVICE)', params: Params,
      response: { 200: Node, ...problems(400, 404), 409: { $ref: 'Problem', description: 'The node is not in SOFT_SUNSET' } },
    },
  }, async (request) => registry.resume(request.params.id));

  app.delete('/directory/nodes/:id', {
    config,
    schema: {
      tags, summary: 'Remove a node in FAULT or STOPPED (any node with force=true)',
      description: 'A node that still runs registers again at its next report.',
      params: Params, querystring: Type.Object({ force: Type.Optional(Type.Boolean({ default: false })) }),
      response: { 204: Type.Null({ description: 'Removed' }), ...problems(400, 404), 409: { $ref: 'Problem', description: 'The node is in service: stop it or force' } },
    },
  }, async (request, reply) => {
    await registry.remove(request.params.id, request.query.force === true);
    return reply.code(204).send(null);
  });
}

/** The stream manager's node admin (seed 003's product): `{host}` is a node id or a node's address. */
function registerAdminRoutes(app: App, registry: NodeRegistry, clock: Clock, tokens: Array<string | undefined>): void {
  const smConfig = { access: 'token' as const, errors: streamManagerErrors(clock) };
  const onRequest = requireAccessToken(tokens);
  const HostParams = Type.Object({ host: Text(NODE_ID.source, NODE_WORDS, { description: 'Node id, or its address' }) });
  const unknown = { ...TOKEN_ANSWERS, 404: 'No such node' };
  const smTags = ['stream manager'];
  const security = [{ accessToken: [] }];
  const nodeOf = (host: string): DirectoryNode => {
    const found = registry.node(host);
    if (found) return found;
    const sharing = registry.nodes().filter((candidate) => candidate.address === host);
    if (sharing.length > 1) throw invalid('host', `nodes ${sharing.map((node) => node.id).join(', ')} share the address ${host}: name one by its id`);
    if (!sharing[0]) throw notFound(`There is no node ${host}`);
    return sharing[0];
  };

  app.get(`${STREAM_MANAGER}/admin/node/:host`, {
    config: smConfig, onRequest,
    schema: {
      tags: smTags, security, summary: 'A node, as the stream manager shows it', params: HostParams,
      querystring: Type.Object({ accessToken: Type.Optional(AccessToken) }),
      response: {
        200: Type.Object({
          identifier: Type.String({ description: 'The node id' }),
          role: Type.String({ description: 'Its roles, comma-separated as in ONAIR_NODE_ROLES: origin, edge or origin,edge' }),
          availabilityZone: Type.String({ description: 'Its region' }),
          address: Type.String(),
          state: State,
          capacity: Type.Integer(),
          group: Type.Union([Type.String(), Type.Null()], { description: 'Its geozone' }),
        }),
        ...streamManagerAnswers(unknown),
      },
    },
  }, async (request) => {
    const node = nodeOf(request.params.host);
    return {
      identifier: node.id, role: node.roles.join(','), availabilityZone: node.region, address: node.address, state: node.state, capacity: node.capacity, group: node.geozone,
    };
  });

  app.get(`${STREAM_MANAGER}/admin/node/:host/stats`, {
    config: smConfig, onRequest,
    schema: {
      tags: smTags, security, summary: 'A node\'s last report', params: HostParams,
      querystring: Type.Object({ accessToken: Type.Optional(AccessToken) }),
      response: { 200: Type.Object({ ...Load, streams: Type.Array(Stream), reportedAt: EpochMs('Reported') }), ...streamManagerAnswers(unknown) },
    },
  }, async (request) => {
    const node = nodeOf(request.params.host);
    return { ...node.report, reportedAt: node.reportedAt };
  });

  app.delete(`${STREAM_MANAGER}/admin/node/:host`, {
    config: smConfig, onRequest,
    schema: {
      tags: smTags, security, summary: 'Remove a node in FAULT or STOPPED (any node with force=true)', params: HostParams,
      querystring: Type.Object({ accessToken: Type.Optional(AccessToken), force: Type.Optional(Type.Boolean({ default: false })) }),
      response: {
        200: Type.Object({ identifier: Type.String(), timestamp: EpochMs('Removed') }),
        ...streamManagerAnswers({ ...unknown, 409: 'The node is in service: stop it, or force' }),
      },
    },
  }, async (request) => {
    const { id } = nodeOf(request.params.host);
    await registry.remove(id, request.query.force === true);
    return { identifier: id, timestamp: clock.now() };
  });
}

export function registerNodeRoutes(app: App, deps: { registry: NodeRegistry; clock: Clock; tokens: Array<string | undefined> }): void {
  registerDirectoryRoutes(app, deps.registry);
  registerAdminRoutes(app, deps.registry, deps.clock, deps.tokens);
}
