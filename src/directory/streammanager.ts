import type { FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import type { Clock } from '../core/clock.ts';
import { notLocal, secretsEqual } from '../core/http/auth.ts';
import { HttpError, type ErrorForm } from '../core/http/problem.ts';

/** Seed 003's API: every stream manager route is under this prefix. */
export const STREAM_MANAGER = '/streammanager/api/2.0';

const ErrorBody = Type.Object({
  errorMessage: Type.String({ description: 'What is wrong, naming the field' }),
  timestamp: Type.Integer({ description: 'When it was answered, epoch ms' }),
});

/** Seed 003's errors, on every stream manager route: `{errorMessage, timestamp}`. */
export function streamManagerErrors(clock: Clock): ErrorForm {
  return { body: (_status, detail) => ({ errorMessage: detail, timestamp: clock.now() }), schema: () => ErrorBody };
}

/** A route's own error answers in seed 003's form, each with what it means (a 400 is the core's to document). */
export function streamManagerAnswers(meanings: Record<number, string>): Record<number, TSchema> {
  return Object.fromEntries(Object.entries(meanings).filter(([code]) => code !== '400').map(([code, description]) => [code, { ...ErrorBody, description }]));
}

export const AccessToken = Type.String({ maxLength: 512, description: 'ONAIR_DIRECTORY_ADMIN_TOKEN or ONAIR_API_KEY' });

/** What an admin route answers besides its own: a token refused, or none configured and the request not from this machine. */
export const TOKEN_ANSWERS = {
  401: 'The accessToken is missing or wrong',
  403: 'Neither ONAIR_DIRECTORY_ADMIN_TOKEN nor ONAIR_API_KEY is set, and the request does not come from this machine or came through a proxy',
};

/**
 * The admin routes' own check, as an onRequest hook (their access is `token`): `?accessToken=` must be
 * ONAIR_DIRECTORY_ADMIN_TOKEN or ONAIR_API_KEY, compared in constant time. With neither set, the operators' rule of the
 * rest of onair applies: from this machine only, never through a proxy.
 */
export function requireAccessToken(tokens: Array<string | undefined>) {
  const accepted = tokens.filter((token): token is string => token !== undefined);
  return async (request: FastifyRequest): Promise<void> => {
    const what = `${request.method} ${request.routeOptions.url}`;
    const refused = accepted.length === 0
      ? notLocal(request, what, 'ONAIR_DIRECTORY_ADMIN_TOKEN or ONAIR_API_KEY is set')
      : tokenRefused(request, accepted, what);
    if (refused === undefined) return;
    request.log.info({ ip: request.ip, method: request.method, url: request.routeOptions.url, status: refused.status }, 'access refused');
    throw refused;
  };
}

function tokenRefused(request: FastifyRequest, accepted: string[], what: string): HttpError | undefined {
  const given = (request.query as Record<string, unknown>).accessToken;
  // Every token is compared, so that the time taken tells nothing of which one matched.
  const matches = typeof given === 'string' && accepted.map((token) => secretsEqual(given, token)).includes(true);
  return matches ? undefined : new HttpError(401, `A valid accessToken is required for ${what}`);
}
