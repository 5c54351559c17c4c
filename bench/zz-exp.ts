import { pino } from 'pino';
import { systemClock } from '../src/core/clock.ts';
import { loadConfig } from '../src/core/config.ts';
import { createHttpServer } from '../src/core/http/server.ts';
import { createMetrics } from '../src/core/metrics.ts';
import { Type } from 'typebox';
import { directoryNode } from '../test/directory/nodes.ts';
import { StandInSnapshot } from '../test/directory/snapshot.ts';
import { serveLookups } from '../test/directory/lookups.ts';

const config = loadConfig({});
const app = await createHttpServer({ clock: systemClock, logger: pino({ level: 'silent' }), metrics: createMetrics(), apiKey: undefined, http: config.http, version: 'x' });
app.get('/streammanager/api/2.0/event/:scope/:stream', { config: { access: 'public' }, schema: { querystring: Type.Object({ action: Type.String(), region: Type.Optional(Type.String()) }) } }, async () => ({ name: 'stream-1', scope: '/live', serverAddress: 'node-1.example', region: 'eu-west' }));
await app.ready();
const streams = Array.from({ length: 1000 }, (_, i) => ({ name: `stream-${i}`, scope: '/live', carriedAs: 'origin' as const, publishers: 1, subscribers: 1, startTime: 0, instance: null }));
const nodes = Array.from({ length: 100 }, (_, n) => directoryNode(`node-${n}`, { region: ['eu-central','us-east'][n%2]!, capacity: 10000, streams: streams.filter((_, i) => i % 100 === n) }));
import Fastify from 'fastify';
const plain = Fastify(); plain.get('/streammanager/api/2.0/event/:scope/:stream', async () => ({ name: 'stream-1', scope: '/live', serverAddress: 'node-1.example', region: 'eu-west' }));
const lookups = await serveLookups({ snapshot: new StandInSnapshot('node-0', nodes), gate: { channel: async (name: string) => ({ name, port: 1, configured: false, static: true, fallback: null as never, appKey: 'x' }) } });
const N = 20000;
for (const [name, inject] of [['lookup', lookups.app], ['lookup', lookups.app]] as const) {
  const t = performance.now();
  for (let i = 0; i < N; i++) await inject.inject({ method: 'GET', url: `/streammanager/api/2.0/event/live/stream-${i % 1000}?action=subscribe&region=eu-central` });
  console.log(name, (N / ((performance.now() - t) / 1000)).toFixed(0), '/s');
}
await lookups.close(); await app.close();
