import type { ServerResponse } from 'node:http';
import { Counter, Gauge } from 'prom-client';
import { Type, type TObject } from 'typebox';
import { Text } from '../http/validation.ts';
import { cooperate } from '../cooperate.ts';
import { HttpError } from '../http/problem.ts';
import type { App } from '../http/server.ts';
import type { Metrics } from '../metrics.ts';
import type { BusEvent, EventBus } from './bus.ts';

const HEARTBEAT_MS = 15_000;
/** A client with this much written to it and not yet taken is dropped, as /listen does; it resumes with Last-Event-ID. */
const MAX_BEHIND = 256 * 1024;
/** Events replayed in one write; a replay shares the event loop with everything else (cooperate.ts) between writes. */
const REPLAY_CHUNK = 100;
/** A replay waits for its client to take half of MAX_BEHIND before it writes more; a client that takes nothing this long is dropped. */
const REPLAY_STALL_MS = 2000;
const RETRY_AFTER_S = 10;

declare module 'fastify' {
  interface FastifyInstance {
    eventStreams: EventStreams;
  }
}

const frames = new WeakMap<BusEvent, string>();

/** Dropped, gone, or ended by a stop: nothing more may be written. */
const ended = (res: ServerResponse) => res.destroyed || res.writableEnded;

/** The frame of an event, made once however many clients receive it; a lossy event has no id, so it never moves a client's Last-Event-ID. */
function frame(event: BusEvent): string {
  let text = frames.get(event);
  if (text === undefined) {
    const data = JSON.stringify({ type: event.type, createdAt: event.createdAt, origin: event.origin, data: event.data });
    text = `${event.id === undefined ? '' : `id: ${event.id}\n`}event: ${event.type}\ndata: ${data}\n\n`;
    frames.set(event, text);
  }
  return text;
}

/** Every open event stream of the server: at most `maxClients` at once, counted, dropped and closed together. */
export class EventStreams {
  readonly #open = new Set<ServerResponse>();
  readonly maxClients: number;
  readonly #dropped: Counter;
  readonly #refused: Counter;

  constructor(options: { maxClients: number; metrics: Metrics }) {
    this.maxClients = options.maxClients;
    const registers = [options.metrics.registry];
    const open = this.#open;
    new Gauge({ name: 'onair_sse_clients', help: 'Open server-sent event streams', registers, collect() { this.set(open.size); } });
    this.#dropped = new Counter({ name: 'onair_sse_clients_dropped_total', help: 'Event streams dropped because their client fell too far behind', registers });
    this.#refused = new Counter({ name: 'onair_sse_clients_refused_total', help: 'Event streams refused because ONAIR_SSE_MAX_CLIENTS were open', registers });
  }

  /** Takes a new stream in; answers false (and counts the refusal) when `maxClients` are open. */
  admit(res: ServerResponse): boolean {
    if (this.#open.size >= this.maxClients) {
      this.#refused.inc();
      return false;
    }
    this.#open.add(res);
    res.on('close', () => this.#open.delete(res));
    return true;
  }

  /** Writes to a stream, unless its client is too far behind: then the stream is dropped. Answers whether it was written. */
  write(res: ServerResponse, text: string): boolean {
    if (ended(res)) return false;
    if (res.writableLength > MAX_BEHIND) {
      this.#drop(res);
      return false;
    }
    res.write(text);
    return true;
  }

  /**
   * Resolves once a replay may write on: at once while its client has less than half of MAX_BEHIND to take, otherwise
   * when it has taken what was written. Answers false, the stream dropped, if the client takes nothing for REPLAY_STALL_MS.
   */
  async room(res: ServerResponse): Promise<boolean> {
    if (res.writableLength <= MAX_BEHIND / 2) return !ended(res);
    const drained = await new Promise<boolean>((resolve) => {
      const done = (taken: boolean) => {
        clearTimeout(timer);
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(taken);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => done(false), REPLAY_STALL_MS);
      res.on('drain', onDrain);
      res.on('close', onClose);
    });
    if (!drained && !ended(res)) this.#drop(res);
    return drained;
  }

  #drop(res: ServerResponse): void {
    this.#dropped.inc();
    res.destroy();
  }

  closeAll(): void {
    for (const res of this.#open) res.end();
  }
}

/** Serves event streams on `app`: every registerSse path shares these limits. */
export function serveEventStreams(app: App, options: { maxClients: number; metrics: Metrics }): void {
  const streams = new EventStreams(options);
  app.decorate('eventStreams', streams);
  app.addHook('preClose', async () => streams.closeAll());
}

/**
 * One client's stream. Live events are written as they come; a replay after `Last-Event-ID` reads the outbox a chunk
 * at a time, taking turns on the event loop and at the pace its client reads, up to what the bus has delivered, and
 * live events wait in the outbox until the replay reaches them. Events the client has (it may resume here ahead of
 * this instance) are not sent again.
 */
async function stream(streams: EventStreams, res: ServerResponse, bus: EventBus, wanted: (event: BusEvent) => boolean, lastId: number | undefined): Promise<void> {
  let replaying = lastId !== undefined;
  let after = lastId ?? 0;
  const unsubscribe = bus.subscribe((event) => {
    if (replaying || !wanted(event) || (event.id !== undefined && event.id <= after)) return;
    streams.write(res, frame(event));
  });
  const heartbeat = setInterval(() => streams.write(res, ': heartbeat\n\n'), HEARTBEAT_MS);
  res.on('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
  });
  streams.write(res, 'retry: 2000\n\n');
  if (lastId !== undefined) await tellMissed(streams, res, bus, lastId);
  const turn = cooperate();
  while (replaying && !ended(res)) {
    await turn();
    const { events, through } = await bus.since(after, REPLAY_CHUNK);
    const text = events.filter(wanted).map(frame).join('');
    if (text !== '' && !(streams.write(res, text) && (await streams.room(res)))) return;
    after = Math.max(after, through);
    if (after >= bus.delivered) replaying = false;
  }
}

/** A client resuming from before what the outbox keeps is told first, with no id: it should read the state afresh. */
async function tellMissed(streams: EventStreams, res: ServerResponse, bus: EventBus, lastId: number): Promise<void> {
  const through = await bus.cleanedThrough();
  if (lastId >= through) return;
  const data = { after: lastId, through, message: `Events up to ${through} are past ONAIR_EVENTS_RETENTION and were removed: some after ${lastId} are lost` };
  streams.write(res, `event: events-missed\ndata: ${JSON.stringify({ type: 'events-missed', createdAt: new Date().toISOString(), origin: bus.origin, data })}\n\n`);
}

/** A parametric stream (`/channels/:channel/sse`): what its parameters select, and the answers that may refuse them. */
export interface SseScope {
  summary: string;
  params: TObject;
  /** The events a stream of these parameters carries; throws when they name nothing. */
  select(params: Record<string, string>): Promise<(event: BusEvent) => boolean>;
  responses: Record<number, unknown>;
}

/**
 * Streams bus events as server-sent events. `types` filters by type; `Last-Event-ID` replays the durable events the
 * client missed while it was away, from any instance, as far back as the outbox keeps them (ONAIR_EVENTS_RETENTION).
 */
export function registerSse(app: App, bus: EventBus, path = '/sse', scope?: SseScope): void {
  app.get(path, {
    schema: {
      ...(scope ? { params: scope.params } : {}),
      tags: ['events'],
      summary: scope?.summary ?? 'Server-sent events of the whole system',
      description: 'Events that record a change carry an id, global and increasing, the same on every instance: with '
        + 'Last-Event-ID a client first gets every such event after that id (as far back as ONAIR_EVENTS_RETENTION keeps them), '
        + 'then live ones. Lossy events (task-progress) come without an id. A client that falls too far behind is dropped '
        + '(it resumes with Last-Event-ID); past ONAIR_SSE_MAX_CLIENTS open streams, new ones are refused with 503.',
      produces: ['text/event-stream'],
      response: { 200: { type: 'string', description: 'The events, as they happen' }, ...scope?.responses },
      querystring: Type.Object({
        types: Type.Optional(Type.String({ description: 'Comma-separated event types to receive; all when absent' })),
      }),
      headers: Type.Object({
        'last-event-id': Type.Optional(Text('^\\d{1,18}$', 'the id of an event (a whole number)', { description: 'The id of the last event received' })),
      }),
    },
  }, async (request, reply) => {
    const only = await scope?.select(request.params as Record<string, string>);
    const types = request.query.types?.split(',').map((t) => t.trim()).filter(Boolean);
    const wanted = (event: BusEvent) =>
      (types === undefined || types.length === 0 || types.includes(event.type)) && (only?.(event) ?? true);
    const res = reply.raw;
    if (!app.eventStreams.admit(res)) {
      reply.header('retry-after', String(RETRY_AFTER_S));
      throw new HttpError(503, `${app.eventStreams.maxClients} event streams are open, the most ONAIR_SSE_MAX_CLIENTS allows; try again later`);
    }
    reply.hijack();
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    const lastId = request.headers['last-event-id'];
    stream(app.eventStreams, res, bus, wanted, lastId === undefined ? undefined : Number(lastId)).catch((err: unknown) => {
      request.log.warn({ err }, 'event stream replay failed; the client resumes with Last-Event-ID');
      res.destroy();
    });
  });
}
