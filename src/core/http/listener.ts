import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { App } from './server.ts';
import { clientError, HttpError } from './problem.ts';

const ONLY = Symbol('only');

interface Only {
  serves(url: string): boolean;
  what: string;
}

export interface ListenerOptions extends Only {
  host: string;
  port: number;
}

export interface Listener {
  readonly port: number;
  /** Stops accepting; answers once the connections still open have ended (call it after the app's close). */
  close(): Promise<void>;
}

/**
 * An onRequest hook of the app: a request that came in through a listener of some routes only is a 404 for the
 * others. Registered before the auth hooks, so that what a port does not serve is never a question of rights there.
 */
export async function refuseUnserved(request: FastifyRequest): Promise<void> {
  const only = (request.raw as IncomingMessage & { [ONLY]?: Only })[ONLY];
  if (only && !only.serves(request.routeOptions.url ?? '')) {
    throw new HttpError(404, `No route ${request.method} ${request.url.split('?')[0]} on this port: it serves ${only.what}`);
  }
}

/**
 * One more port of the app: its requests go through the same router, hooks and validation, so each route keeps one
 * definition and the OpenAPI document one entry. A second Fastify instance would register every route twice.
 */
export async function listenAlso(app: App, { host, port, ...only }: ListenerOptions): Promise<Listener> {
  let closing = false;
  const server = createServer((request, response) => {
    (request as IncomingMessage & { [ONLY]?: Only })[ONLY] = only;
    // server.close() ends the idle connections of that moment only: one answered later would stay open, kept alive.
    response.once('finish', () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    app.routing(request, response);
  });
  server.keepAliveTimeout = app.server.keepAliveTimeout;
  server.requestTimeout = app.server.requestTimeout;
  server.on('clientError', clientError);
  server.listen({ host, port });
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    async close() {
      closing = true;
      const closed = once(server, 'close');
      server.close();
      await closed;
    },
  };
}
