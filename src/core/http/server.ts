import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type RawServerDefault } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { registerAjvFormats, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { describeIssue, refuseUnknownQuery, validatorCompiler, type ValidationIssue } from './validation.ts';
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import { serveEventStreams } from '../events/sse.ts';
import type { Metrics } from '../metrics.ts';
import { AccessRules, API_REFERENCE, readForwarded } from './auth.ts';
import { closeUnread, requestDeadline } from './deadline.ts';
import { refuseUnserved } from './listener.ts';
import { documentRoute } from './openapi.ts';
import { DomainError, type FieldError } from '../errors.ts';
import { clientError, domainProblem, HttpError, Problem, problem } from './problem.ts';

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface HttpOptions {
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  apiKey: string | undefined;
  http: Config['http'];
  version: string;
}

/**
 * One message per field. A choice between constants (a union of literals) reads "must be one of a, b, c"
 * rather than one "must be equal to constant" per choice. A field with an issue inside it says only that one: a
 * recurrence whose include list is wrong is not also told it "must be null", the other choice of its union.
 */
function fieldErrors(context: string, issues: ValidationIssue[]): FieldError[] {
  const byField = new Map<string, Array<ValidationIssue & { message: string }>>();
  for (const issue of issues) {
    const described = describeIssue(issue);
    if (!described) continue;
    const field = [context, ...described.path].join('.');
    byField.set(field, [...(byField.get(field) ?? []), { ...issue, message: described.message }]);
  }
  const fields = [...byField.keys()];
  const inner = (field: string) => fields.some((other) => other.startsWith(`${field}.`));
  return [...byField].filter(([field]) => !inner(field)).map(([field, found]) => {
    const allowed = found.map((i) => i.params?.allowedValue).filter((v) => v !== undefined);
    if (allowed.length > 0) return { field, message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}` };
    const [first] = found.filter((i) => i.keyword !== 'anyOf').concat(found);
    return { field, message: first!.message };
  });
}

function toProblem(error: FastifyError, contentType: string | undefined): Problem {
  if (error instanceof HttpError) return error.toProblem();
  if (error instanceof DomainError) return domainProblem(error);
  if (error.validation) {
    const errors = fieldErrors(error.validationContext ?? 'request', error.validation as ValidationIssue[]);
    return problem(400, errors.map((e) => `${e.field} ${e.message}`).join('; '), errors);
  }
  if (error instanceof SyntaxError) {
    return problem(400, `The body is not valid JSON: ${error.message}`, [{ field: 'body', message: 'is not valid JSON' }]);
  }
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    const what = error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'is empty' : 'is not valid JSON';
    return problem(400, `The body ${what}: send a JSON object`, [{ field: 'body', message: what }]);
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const given = contentType === undefined ? 'no Content-Type' : `Content-Type ${JSON.stringify(contentType)}`;
    return problem(415, `${given} is not accepted here: send JSON with Content-Type: application/json`);
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return problem(status, error.message);
  return problem(500, 'An unexpected error occurred; it has been logged');
}

/** The one HTTP server every area registers its routes on, with errors, auth, metrics and OpenAPI set up. */
export async function createHttpServer(options: HttpOptions): Promise<App> {
  registerAjvFormats();
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.http.bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    clientErrorHandler: clientError,
    routerOptions: { maxParamLength: 500 },
    // A path Fastify cannot decode (a bad %-escape) fails before any route: a problem document like every other error.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const body = error.code === 'FST_ERR_BAD_URL'
        ? problem(400, `The path is not valid: ${error.message}`, [{ field: 'url', message: 'has a malformed %-escape' }])
        : problem(400, `The request is not valid: ${error.message}`);
      request.log.debug({ err: error }, 'request refused before routing');
      void reply.code(400).type('application/problem+json').send(body);
    },
    // request.ip is the client a trusted proxy names, for logs and the areas (the gate's sessions).
    trustProxy: options.http.trustProxy.length > 0 ? options.http.trustProxy : false,
    // A factory rather than setValidatorCompiler: an area's plugin that adds its own schemas builds its validator
    // from the factory, which would otherwise be Fastify's default (Ajv, dropping unknown properties).
    schemaController: { compilersFactory: { buildValidator: (() => validatorCompiler) as never } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const access = new AccessRules(options.apiKey, options.http.publicRoutes);
  app.addHook('onRoute', refuseUnknownQuery);
  app.decorate('access', access);
  app.addHook('onRoute', access.name);
  app.addHook('onReady', access.settle);
  // Every body but the archive's uploads is JSON: a text/plain one is a 415 like any other, not a string to refuse.
  app.removeContentTypeParser('text/plain');
  app.addSchema(Problem);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const body = toProblem(error, request.headers['content-type']);
    if (body.status >= 500) request.log.error({ err: error }, 'request failed');
    const form = request.routeOptions.config.errors;
    if (form) return reply.code(body.status).type('application/json').send(form.body(body.status, body.detail));
    return reply.code(body.status).type('application/problem+json').send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).type('application/problem+json').send(problem(404, `No route ${request.method} ${request.url.split('?')[0]}`)));

  serveEventStreams(app, { maxClients: options.http.sseMaxClients, metrics: options.metrics });
  app.addHook('onRequest', refuseUnserved);
  app.addHook('onRequest', readForwarded);
  app.addHook('onRequest', access.check);
  app.addHook('preParsing', requestDeadline(options.clock, options.http.requestTimeoutMs));
  app.addHook('onSend', closeUnread);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    options.metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    request.log.debug({ ip: request.ip, method: request.method, url: route, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'onair',
        version: options.version,
        description: 'Control plane for live broadcasting: tasks, programme, recordings, gate and more.',
      },
      components: {
        securitySchemes: {
          apiKey: {
            type: 'apiKey', name: 'X-API-KEY', in: 'header',
            description: 'Needed, when ONAIR_API_KEY is set, by every request but those to the public routes (ONAIR_PUBLIC_ROUTES); '
              + 'without it, changes and the reads for operators only are accepted from this machine only, never through a proxy',
          },
          accessToken: {
            type: 'apiKey', name: 'accessToken', in: 'query',
            description: "The stream manager's (seed 003) admin token: ONAIR_DIRECTORY_ADMIN_TOKEN or ONAIR_API_KEY; with neither set, "
              + 'its admin routes are accepted from this machine only, never through a proxy',
          },
        },
      },
    },
    transform: documentRoute(access),
    // Shared schemas keep their names (Problem, Task, ...) in components.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: API_REFERENCE });

  app.get('/openapi.json', { schema: { hide: true }, config: { access: 'public' } }, async () => app.swagger({}));
  app.route({
    method: ['GET', 'HEAD'],
    url: '/ping',
    config: { access: 'public' },
    schema: { tags: ['service'], summary: 'Liveness check', response: { 204: { type: 'null', description: 'Alive' } } },
    handler: async (_request, reply) => reply.code(204).header('Cache-Control', 'no-store').send(null),
  });
  app.get('/metrics', {
    schema: { tags: ['service'], summary: 'Prometheus metrics', produces: ['text/plain'], response: { 200: { type: 'string', description: 'Prometheus text format' } } },
  }, async (_request, reply) =>
    reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics()));
  return app;
}
