import { Type, type Static } from 'typebox';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { HttpError } from '../core/http/problem.ts';
import type { App } from '../core/http/server.ts';
import { Text } from '../core/http/validation.ts';
import { ChannelName } from '../gate/contract.ts';
import { choose, Pending, type Action, type Choice, type Lookup, type Random } from './choice.ts';
import type { DirectoryNode, NodeSnapshot } from './contract.ts';
import { AccessToken, requireAccessToken, STREAM_MANAGER, streamManagerAnswers, streamManagerErrors, TOKEN_ANSWERS } from './streammanager.ts';
import type { StreamOnAir, StreamsOnAir } from './streams.ts';

export interface LookupDeps {
  snapshot: NodeSnapshot;
  streams: StreamsOnAir;
  clock: Clock;
  random: Random;
  directory: Config['directory'];
  apiKey: string | undefined;
}

const tags = ['stream manager'];
const REGION = '^[a-z0-9][a-z0-9-]{0,63}$';
const REGION_WORDS = 'lowercase letters, digits and - (such as eu-central)';
/** The SRT options of the gate's listeners, as its own ingest URLs carry them. */
const SRT_OPTIONS = 'pbkeylen=32&linger=3';

const Params = Type.Object({
  scope: Text('^[A-Za-z0-9_-]{1,64}$', '1 to 64 letters, digits, _ or -', { description: 'The scope, without its slash (live)' }),
  stream: { ...ChannelName, description: 'The stream: a gate channel\'s name' },
});
const Query = Type.Object({
  // A pattern rather than a union of literals: converting a union from the query string costs most of the validation.
  action: Text('^(broadcast|subscribe)$', 'broadcast or subscribe', { description: 'broadcast: where a source publishes; subscribe: where a listener plays from' }),
  region: Type.Optional(Text(REGION, REGION_WORDS, { description: 'This region first, then its geozone, then any other' })),
  geozone: Type.Optional(Text(REGION, REGION_WORDS, { description: 'This geozone first (not with region)' })),
  strict: Type.Optional(Type.Boolean({ description: 'true: nothing outside the region (or geozone): 404 rather than another' })),
  endpoints: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'More than 1: an array of up to that many, best first' })),
  transcode: Type.Optional(Type.Boolean({ description: 'Not supported: true is a 400' })),
  explain: Type.Optional(Type.Boolean({ description: 'true (with accessToken): 200 with every candidate, its tier and score, and the rule that left each other node out' })),
  accessToken: Type.Optional(AccessToken),
}, { additionalProperties: false });

const Endpoint = Type.Object({
  name: Type.String(), scope: Type.String({ description: 'With its leading slash' }),
  serverAddress: Type.String({ description: 'The node\'s address (ONAIR_NODE_ADDRESS)' }), region: Type.String(),
});
const Ingest = Type.Object({
  port: Type.Optional(Type.Integer({ description: 'broadcast: the channel\'s SRT port on that node' })),
  url: Type.Optional(Type.String({ description: 'broadcast: srt:// URL without the key: give the stream key or reservation token as passphrase' })),
});
const Answer = Type.Intersect([Endpoint, Ingest]);
const Explained = Type.Object({
  status: Type.Integer({ description: 'What the lookup answers without explain' }),
  errorMessage: Type.Optional(Type.String()),
  endpoints: Type.Array(Answer),
  candidates: Type.Array(Type.Object({
    node: Type.String(), region: Type.String(), tier: Type.String({ description: 'region, geozone, other, or any when none was asked' }),
    load: Type.Number(), carrying: Type.Boolean(), score: Type.Number({ description: 'Lowest first: the load, less 0.05 when carrying the stream' }),
  }), { description: 'In the order the lookup takes them (the best of a tier shuffled)' }),
  leftOut: Type.Array(Type.Object({ node: Type.String(), rule: Type.String() })),
});
const Stats = Type.Intersect([Endpoint, Type.Object({
  currentSubscribers: Type.Integer({ description: 'Listeners over every node' }), startTime: Type.Integer({ description: 'When the source went on air, epoch ms' }),
  peakSubscribers: Type.Integer({ description: 'The most at once, as this instance saw the reports' }), peakAt: Type.Integer({ description: 'Epoch ms' }),
})]);

type Query = Static<typeof Query>;

/** Refusals the seed does not know, and a region with a geozone. */
function refuseQuery(query: Query): void {
  if (query.transcode) throw new HttpError(400, 'querystring.transcode is not supported: onair passes streams on as they come', [{ field: 'querystring.transcode', message: 'is not supported' }]);
  if (query.region !== undefined && query.geozone !== undefined) {
    throw new HttpError(400, 'querystring.geozone cannot be asked together with region', [{ field: 'querystring.geozone', message: 'cannot be given with region' }]);
  }
}

/** A source can publish a channel only on a node that serves it (its configuration's channels, and those made at run time). */
function servingNodes(snapshot: NodeSnapshot, action: Action, channel: string): readonly DirectoryNode[] {
  const nodes = snapshot.nodes();
  if (action !== 'broadcast') return nodes;
  const serving = nodes.filter((node) => node.report.ports[channel] !== undefined);
  if (serving.length === 0) throw new HttpError(404, `No node has a channel ${channel}`);
  return serving;
}

export function registerLookupRoutes(app: App, deps: LookupDeps): void {
  const errors = streamManagerErrors(deps.clock);
  const config = { access: 'public' as const, errors };
  const pending = new Pending();
  const requireToken = requireAccessToken([deps.directory.adminToken, deps.apiKey]);
  const served = (scope: string, stream: string) => {
    if (scope !== deps.directory.scope) throw new HttpError(404, `Scope /${scope} has no streams: onair's are in /${deps.directory.scope}`);
    return `/${scope}/${stream}`;
  };
  const endpoint = (node: DirectoryNode, scope: string, name: string) => ({ name, scope, serverAddress: node.address, region: node.region });
  const origin = (stream: StreamOnAir) => deps.snapshot.node(stream.origin ?? [...stream.carriers.keys()][0] ?? '');
  const stats = (stream: StreamOnAir, node: DirectoryNode) => ({
    ...endpoint(node, stream.scope, stream.name), currentSubscribers: stream.currentSubscribers, startTime: stream.startTime,
    peakSubscribers: stream.peakSubscribers, peakAt: stream.peakAt,
  });
  const known = () => deps.streams.list().flatMap((stream) => {
    const node = origin(stream);
    return node ? [stats(stream, node)] : [];
  });

  // A source's ingest on each node: the port that node reports for the channel (configured channels may differ per node).
  const answers = (lookup: Lookup, choice: Choice & { nodes: DirectoryNode[] }, scope: string, name: string) => choice.nodes.map((node) => {
    const port = lookup.action === 'broadcast' ? node.report.ports[name] : undefined;
    return { ...endpoint(node, `/${scope}`, name), ...(port === undefined ? {} : { port, url: `srt://${node.address}:${port}?${SRT_OPTIONS}` }) };
  });

  app.get(`${STREAM_MANAGER}/event/:scope/:stream`, {
    config,
    schema: {
      // Open to anyone; explain alone takes the token.
      tags, security: [{}, { accessToken: [] }], summary: 'The node to publish to (broadcast) or play from (subscribe)',
      description: 'Nodes in service of the role, the region asked first (then its geozone, then the others unless strict), the least loaded, '
        + 'never one at capacity. broadcast adds the channel\'s SRT port and URL (never its key); endpoints > 1 answers an array, best first.',
      params: Params, querystring: Query,
      response: {
        200: Type.Union([Answer, Type.Array(Answer), Explained]),
        ...streamManagerAnswers({
          ...TOKEN_ANSWERS, 404: 'subscribe: the stream is not publishing; strict: no node in the region; no such scope or channel',
          503: 'Every node that could serve it is at capacity, or none is in service',
        }),
      },
    },
  }, async (request, reply) => {
    const { query, params } = request;
    refuseQuery(query);
    if (query.explain) await requireToken(request);
    const stream = served(params.scope, params.stream);
    const lookup: Lookup = { action: query.action as Action, stream, region: query.region, geozone: query.geozone, strict: query.strict, endpoints: query.endpoints, explain: query.explain };
    const choice = choose(lookup, servingNodes(deps.snapshot, lookup.action, params.stream), deps.streams.placement(`/${params.scope}`, params.stream), deps.random,
      (node) => pending.of(node));
    if (query.explain) {
      const chosen = 'nodes' in choice ? answers(lookup, choice, params.scope, params.stream) : [];
      const outcome = 'refusal' in choice ? { status: choice.refusal.status, errorMessage: choice.refusal.message } : { status: 200 };
      return reply.send({ ...outcome, endpoints: chosen, ...choice.explanation });
    }
    if ('refusal' in choice) throw new HttpError(choice.refusal.status, choice.refusal.message);
    pending.answered(choice.nodes[0]!);
    const chosen = answers(lookup, choice, params.scope, params.stream);
    return reply.send((query.endpoints ?? 1) > 1 ? chosen : chosen[0]);
  });

  app.get(`${STREAM_MANAGER}/event/:scope/:stream/stats`, {
    config,
    schema: {
      tags, summary: 'A stream on air with its listeners over every node', params: Params,
      response: { 200: Stats, ...streamManagerAnswers({ 404: 'The stream is not on air' }) },
    },
  }, async (request) => {
    const { scope, stream } = request.params;
    const found = deps.streams.get(`/${scope}`, stream);
    const node = found && origin(found);
    if (!found || !node) throw new HttpError(404, `Stream ${served(scope, stream)} is not on air`);
    return stats(found, node);
  });

  app.get(`${STREAM_MANAGER}/event/list`, {
    config, schema: { tags, summary: 'Every stream on air, on every node', response: { 200: Type.Array(Endpoint) } },
  }, async () => known().map(({ name, scope, serverAddress, region }) => ({ name, scope, serverAddress, region })));

  app.get(`${STREAM_MANAGER}/event/list/stats`, {
    config, schema: { tags, summary: 'Every stream on air with its listeners', response: { 200: Type.Array(Stats) } },
  }, async () => known());

  app.delete(`${STREAM_MANAGER}/admin/event`, {
    config: { access: 'token', errors }, onRequest: requireToken,
    schema: {
      tags, security: [{ accessToken: [] }], summary: 'Forget every stream entry, on every instance (streams stay on air; the nodes\' next reports bring them back)',
      querystring: Type.Object({ accessToken: Type.Optional(AccessToken) }, { additionalProperties: false }),
      response: { 200: Type.Object({ count: Type.Integer({ description: 'Entries this instance knew' }), timestamp: Type.Integer() }), ...streamManagerAnswers(TOKEN_ANSWERS) },
    },
  }, async () => ({ count: await deps.streams.clear(), timestamp: deps.clock.now() }));
}
