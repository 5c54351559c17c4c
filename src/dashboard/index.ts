import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { Type } from 'typebox';
import type { Config } from '../core/config.ts';
import { HttpError, problems } from '../core/http/problem.ts';
import type { App } from '../core/http/server.ts';
import type { NodeIdentity } from '../core/node.ts';
import { VERSION } from '../core/version.ts';

/** Where `npm install` (the `prepare` script: `vite build web`) puts the built web app. */
export const BUILT = fileURLToPath(new URL('../../web/dist/', import.meta.url));
export const PREFIX = '/ui/';

const Station = Type.Object({
  timezone: Type.String({ description: 'The station\'s time zone (ONAIR_TIMEZONE): the dashboard shows the programme in it' }),
  version: Type.String({ description: 'The version of onair' }),
  node: Type.Object({ id: Type.String(), region: Type.String() }, { description: 'The instance that answered' }),
  access: Type.Object({
    keyRequired: Type.Boolean({ description: 'ONAIR_API_KEY is set: every request but the public reads needs it' }),
    publicRoutes: Type.Array(Type.String(), { description: 'The routes anyone may read, as URL patterns (/shows/:id)' }),
  }, { description: 'How access goes, so that a client asks for the key before a request that needs it' }),
}, { $id: 'Station' });

/** Without a synchronous look at the disk on a request's way. */
const isFile = async (path: string) => (await stat(path).catch(() => undefined))?.isFile() === true;

/**
 * The dashboard: the web app in web/ (built into web/dist at install) served under /ui/, `/` sending browsers there,
 * and GET /station, what the app needs to know of this instance. The app uses the public API only, like any client.
 */
export function createDashboard(deps: { config: Config; node: NodeIdentity }) {
  const root = BUILT;
  return {
    routes: async (app: App) => {
      await app.register(fastifyStatic, { root, serve: false });
      app.get('/station', {
        config: { access: 'open' },
        schema: { tags: ['service'], summary: 'This station: its time zone, the version of onair, the instance, and how access goes', response: { 200: Station } },
      }, async () => ({
        timezone: deps.config.timezone, version: VERSION, node: { id: deps.node.id, region: deps.node.region },
        access: { keyRequired: app.access.keyRequired, publicRoutes: app.access.publicRoutes() },
      }));
      for (const path of ['/', PREFIX.slice(0, -1)]) {
        app.get(path, { schema: { hide: true }, config: { access: 'open' } }, async (_request, reply) => reply.redirect(PREFIX, 302));
      }
      app.get(`${PREFIX}*`, {
        schema: { hide: true, response: problems(404, 503) },
        config: { access: 'open' },
      }, async (request, reply) => {
        if (!(await isFile(join(root, 'index.html')))) {
          throw new HttpError(503, 'The dashboard is not built: run npm install in onair\'s folder (its prepare script builds web/)');
        }
        const path = (request.params as { '*': string })['*'];
        // Built assets have content hashes in their names: cached for good. Every other path is a page of the app.
        if (path.startsWith('assets/')) {
          if (path.split('/').includes('..') || !(await isFile(join(root, path)))) throw new HttpError(404, `No such file of the dashboard: ${path}`);
          return reply.header('cache-control', 'public, max-age=31536000, immutable').sendFile(path, root, { cacheControl: false });
        }
        return reply.header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false });
      });
    },
  };
}
