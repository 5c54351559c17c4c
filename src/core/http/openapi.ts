import type { FastifySchema } from 'fastify';
import { SAFE_METHODS, type AccessRules } from './auth.ts';
import { titleOf, type ErrorForm } from './problem.ts';

/**
 * What the OpenAPI document says of every route, beside the route's own schema: the answers the core gives on any
 * route (problem documents, served as application/problem+json), the API key on routes that change state, a success
 * answer for a route that names only what it produces, and the key pattern of records.
 */

interface RouteSchema {
  hide?: boolean;
  consumes?: readonly string[];
  produces?: readonly string[];
  body?: unknown;
  response?: Record<string, unknown>;
  [key: string]: unknown;
}

const ANY_ROUTE: Record<string, string> = {
  400: 'The request is not valid (a parameter, an unknown query parameter, the HTTP itself): the problem names what is wrong',
  431: 'The request headers are too large',
  503: 'onair is stopping',
};
const KEYED_ROUTE: Record<string, string> = {
  401: 'ONAIR_API_KEY is set and the request has no valid X-API-KEY header',
};
const OPERATORS_ROUTE: Record<string, string> = {
  403: 'ONAIR_API_KEY is not set and the request does not come from this machine, or came through a proxy',
};
const CHANGING_ROUTE: Record<string, string> = {
  408: 'The body did not arrive whole in time (ONAIR_HTTP_REQUEST_TIMEOUT)',
  413: 'The body is larger than accepted (ONAIR_HTTP_BODY_LIMIT)',
  415: 'The body is not JSON',
};

/** Answered by Node's HTTP parser before any route is known: always a problem document. */
const BEFORE_ROUTING = new Set(['431']);
const PROBLEM = { 'application/problem+json': { schema: { $ref: 'Problem' } } };

/**
 * An error answer: a problem document, or the route's own form of errors. A 400 may be a problem document on any
 * route: a path whose %-escapes do not decode is refused before the route is known.
 */
function problemAnswer(description: string, code: string, form: ErrorForm | undefined) {
  if (!form || BEFORE_ROUTING.has(code)) return { description, content: PROBLEM };
  const own = { 'application/json': { schema: form.schema(Number(code)) } };
  return { description, content: code === '400' ? { ...own, ...PROBLEM } : own };
}

const isProblem = (answer: unknown) => (answer as { $ref?: unknown } | undefined)?.$ref === 'Problem';

/** @fastify/swagger turns patternProperties into additionalProperties, dropping the key pattern: propertyNames keeps it. */
function withKeyPatterns(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withKeyPatterns);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, withKeyPatterns(value)]));
  const patterns = Object.keys((copy.patternProperties ?? {}) as object);
  return patterns.length === 1 ? { ...copy, propertyNames: { pattern: patterns[0] } } : copy;
}

interface Needs {
  changes: boolean;
  key: boolean;
  operator: boolean;
}

/** The answers a route documents: its own (problems as application/problem+json) and those of the core. */
function answers(schema: RouteSchema, needs: Needs, form: ErrorForm | undefined): Record<string, unknown> {
  const own = Object.entries(schema.response ?? {}).map(([code, answer]) =>
    [code, isProblem(answer) ? problemAnswer(titleOf(Number(code)), code, form) : answer]);
  const shared = {
    ...ANY_ROUTE, ...(needs.key ? KEYED_ROUTE : {}), ...(needs.operator ? OPERATORS_ROUTE : {}), ...(needs.changes ? CHANGING_ROUTE : {}),
  };
  // A route that takes any body (an upload naming the media types it consumes) never answers 415.
  const core = Object.entries(shared)
    .filter(([code]) => !(code === '415' && schema.consumes !== undefined))
    .map(([code, description]) => [code, problemAnswer(description, code, form)]);
  const documented = Object.fromEntries([...core, ...own]);
  const succeeds = Object.keys(documented).some((code) => code.startsWith('2'));
  return succeeds || schema.produces === undefined ? documented : { 200: { description: 'OK', type: 'string' }, ...documented };
}

interface Documented {
  schema: FastifySchema;
  url: string;
  route: { method: string | string[]; config?: { route?: string; access?: string; errors?: ErrorForm } };
}

/** The `transform` of @fastify/swagger: documents what every route shares; the route's validation is untouched. */
export function documentRoute(access: AccessRules) {
  return ({ schema: given, url, route }: Documented) => {
    const schema = given as RouteSchema | undefined;
    if (schema === undefined || schema.hide) return { schema: given, url };
    const changes = [route.method].flat().some((method) => !SAFE_METHODS.has(method));
    // A route with a token of its own documents its own refusals and security.
    const own = route.config?.access === 'token';
    const key = !own && (changes || !access.isPublic(route.config ?? {}));
    const needs = { changes, key, operator: !own && (changes || route.config?.access === 'private') };
    return {
      url,
      schema: {
        ...schema,
        response: answers(schema, needs, route.config?.errors),
        ...(schema.body === undefined ? {} : { body: withKeyPatterns(schema.body) }),
        ...(key ? { security: [{ apiKey: [] }] } : {}),
      },
    };
  };
}
