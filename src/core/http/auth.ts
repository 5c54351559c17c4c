import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './problem.ts';

export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || ip.startsWith('127.');
}

/** Compares secrets in constant time; hashing first makes lengths equal without leaking them. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Operators only: the API key when one is set, this machine when none is. `what` says what they may do. */
export function operatorGuard(apiKey: string | undefined, what: string) {
  return async (request: FastifyRequest): Promise<void> => {
    if (apiKey === undefined) {
      if (!isLoopback(request.socket.remoteAddress)) {
        throw new HttpError(403, `${what} is accepted from this machine only unless ONAIR_API_KEY is set`);
      }
      return;
    }
    const given = request.headers['x-api-key'];
    if (typeof given !== 'string' || !secretsEqual(given, apiKey)) {
      throw new HttpError(401, `A valid X-API-KEY header is required: ${what} is for operators`);
    }
  };
}

/**
 * Requests that change state need the API key when one is set, and come from loopback when none is.
 * Reading is open: the programme, task lists and live status are meant to be seen.
 */
export function stateChangeGuard(apiKey: string | undefined) {
  const operator = operatorGuard(apiKey, 'A change');
  return async (request: FastifyRequest): Promise<void> => {
    if (!SAFE_METHODS.has(request.method)) await operator(request);
  };
}
