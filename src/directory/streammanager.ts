/**
 * What every route of the stream manager's API (seed 003, under /streammanager/api/2.0) shares: its error bodies and
 * its accessToken.
 */

import { Type, type TSchema } from 'typebox';
import type { Clock } from '../core/clock.ts';
import { secretsEqual } from '../core/http/auth.ts';
import { HttpError, type ErrorForm } from '../core/http/problem.ts';

export const STREAM_MANAGER = '/streammanager/api/2.0';

/** `{errorMessage, timestamp}` (epoch ms), as the seed answers every failure. */
export function streamManagerErrors(clock: Clock): ErrorForm {
  return {
    body: (_status, detail) => ({ errorMessage: detail, timestamp: clock.now() }),
    schema: () => Type.Object({ errorMessage: Type.String({ description: 'What is wrong, naming the field' }), timestamp: Type.Integer({ description: 'Epoch ms' }) }),
  };
}

/** A route's own error answers in that form, each with what it means. */
export function errorAnswers(errors: ErrorForm, meanings: Record<number, string>): Record<number, TSchema> {
  return Object.fromEntries(Object.entries(meanings).map(([code, description]) => [code, { ...errors.schema(Number(code)), description }]));
}

export const AccessToken = Type.String({ maxLength: 256, description: 'ONAIR_DIRECTORY_ADMIN_TOKEN, or the API key' });

/** Refuses (401) unless `given` is the admin token or the API key, compared in constant time. */
export function checkAccessToken(given: string | undefined, tokens: { adminToken: string | undefined; apiKey: string | undefined }): void {
  const accepted = [tokens.adminToken, tokens.apiKey].filter((token) => token !== undefined);
  if (accepted.length === 0) throw new HttpError(401, 'accessToken: no ONAIR_DIRECTORY_ADMIN_TOKEN or ONAIR_API_KEY is set, so no token is accepted');
  // Every token is compared, so that the time taken does not tell which one matched.
  const matches = accepted.map((token) => given !== undefined && secretsEqual(given, token));
  if (!matches.includes(true)) throw new HttpError(401, given === undefined ? 'accessToken is required' : 'accessToken is not valid');
}
