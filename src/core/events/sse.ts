import type { ServerResponse } from 'node:http';
import { Type } from 'typebox';
import type { App } from '../http/server.ts';
import type { BusEvent, EventBus } from './bus.ts';

const HEARTBEAT_MS = 15_000;

function frame(event: BusEvent): string {
  const data = JSON.stringify({ type: event.type, createdAt: event.createdAt, data: event.data });
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${data}\n\n`;
}

/**
 * Streams bus events as server-sent events. `types` filters by type; `Last-Event-ID` replays
 * what the client missed while it was away, as far back as the bus remembers.
 */
export function registerSse(app: App, bus: EventBus, path = '/sse', only?: (event: BusEvent) => boolean): void {
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });
  app.get(path, {
    schema: {
      tags: ['events'],
      summary: 'Server-sent events of the whole system',
      querystring: Type.Object({
        types: Type.Optional(Type.String({ description: 'Comma-separated event types to receive; all when absent' })),
      }),
      headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^\\d+$' })) }),
    },
  }, (request, reply) => {
    const types = request.query.types?.split(',').map((t) => t.trim()).filter(Boolean);
    const wanted = (event: BusEvent) =>
      (types === undefined || types.length === 0 || types.includes(event.type)) && (only?.(event) ?? true);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const lastId = request.headers['last-event-id'];
    if (lastId !== undefined) {
      for (const event of bus.since(Number(lastId))) if (wanted(event)) res.write(frame(event));
    }
    const unsubscribe = bus.subscribe((event) => {
      if (wanted(event)) res.write(frame(event));
    });
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    open.add(res);
    res.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(res);
    });
  });
}
