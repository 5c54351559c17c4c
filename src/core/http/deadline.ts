import type { IncomingMessage } from 'node:http';
import { finished, PassThrough, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.ts';
import { TimedOut } from '../errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How long this route's requests may take to arrive whole, instead of ONAIR_HTTP_REQUEST_TIMEOUT. */
    requestTimeoutMs?: number;
  }
}

/** Whether part of the request's body has yet to arrive. */
function arriving(raw: IncomingMessage): boolean {
  const { headers } = raw;
  return !raw.complete && (headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0);
}

function spoken(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${ms / 1000} s`;
}

/**
 * A preParsing hook bounding how long a body may take to arrive, from its headers on (an idle timeout alone lets a
 * client trickle a byte now and then for ever). Whoever reads the body (the JSON parser, an upload) reads it through
 * a stream that fails with a 408 at the deadline; the socket itself is only paused, so that the 408 still reaches the
 * client, and it closes after the answer (see closeUnread).
 */
export function requestDeadline(clock: Clock, defaultMs: number) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: Readable): Promise<Readable> => {
    if (!arriving(request.raw)) return payload;
    const ms = request.routeOptions.config.requestTimeoutMs ?? defaultMs;
    const body = new PassThrough();
    // Its readers listen for its errors; a body no route reads must not bring the process down.
    body.on('error', () => {});
    const alarm = clock.at(clock.now() + ms, () => {
      payload.unpipe(body).pause();
      body.destroy(new TimedOut(`body: the request did not arrive whole within ${spoken(ms)}; it was given up`));
    });
    finished(payload, (error) => {
      alarm.cancel();
      if (error) body.destroy(error);
    });
    // Once answered, the rest of a body no longer matters (and a request cleared by its answer may never end).
    reply.raw.once('close', () => alarm.cancel());
    return payload.pipe(body);
  };
}

/** An onSend hook: an answer given before the whole body was read closes the connection instead of reading the rest. */
export async function closeUnread(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (arriving(request.raw)) reply.header('connection', 'close');
}
