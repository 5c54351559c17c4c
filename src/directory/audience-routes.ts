import { Type } from 'typebox';
import { invalid } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import { problems } from '../core/http/problem.ts';
import type { App } from '../core/http/server.ts';
import { DAY, parseDateTime } from '../core/time.ts';
import type { Audience, AudienceQuery } from './audience.ts';

// Without an event, at most a week of minutes at once: a year of them held SQLite's event loop for seconds.
const MOST_DAYS = 7;

const Instant = (description: string) => Type.String({
  maxLength: 40, description: `${description}: ISO 8601, such as 2026-12-04T20:00:00Z (without an offset: UTC)`, examples: ['2026-12-04T20:00:00Z'],
});
const Query = Type.Object({
  event: Type.Optional(Type.String({ format: 'uuid', description: 'Only the instances of this event' })),
  start: Type.Optional(Instant('Only the minutes heard from this instant (by default a day before end)')),
  end: Type.Optional(Instant('Only the minutes heard before this instant (by default a day after start, or now)')),
}, { additionalProperties: false });
const InstanceAudience = Type.Object({
  event: Type.String(),
  start: Type.String({ description: 'Naive local start of the instance, as in the programme' }),
  peakListeners: Type.Integer({ description: 'The most listeners at once over every node (each node\'s most in a minute, added up)' }),
  peakAt: Type.Integer({ description: 'The start of the minute it was first reached, epoch ms' }),
  averageListeners: Type.Number({ description: 'listenerMinutes divided by the minutes anyone listened' }),
  listenerMinutes: Type.Number({ description: 'Minutes listened, added up over listeners and nodes (one decimal)' }),
  regions: Type.Record(Type.String(), Type.Number(), { description: 'Listener-minutes per region of the nodes listened on' }),
  firstHeardAt: Type.Integer({ description: 'The start of the first minute anyone listened, epoch ms' }),
  lastHeardAt: Type.Integer({ description: 'The start of the last minute anyone listened, epoch ms' }),
});

function instant(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const at = parseDateTime(value);
  if (at === undefined) throw invalid(field, `"${value}" is not a real ISO 8601 date-time such as 2026-12-04T20:00:00Z`);
  return at;
}

/** The instances of the event, or the minutes of a window of at most MOST_DAYS (the day before now by default). */
function queryOf(given: { event?: string; start?: string; end?: string }, now: number): AudienceQuery {
  const start = instant('querystring.start', given.start);
  const end = instant('querystring.end', given.end);
  if (start !== undefined && end !== undefined && end <= start) throw invalid('querystring.end', 'must be after start');
  if (given.event !== undefined) return { event: given.event, start, end };
  const to = end ?? (start === undefined ? now : start + DAY);
  const from = start ?? to - DAY;
  if (to - from > MOST_DAYS * DAY) throw invalid('querystring.end', `must be at most ${MOST_DAYS} days after start unless an event is named`);
  return { start: from, end: to };
}

/** The audience of programme instances over every node, for operators (what was heard, where). */
export function registerAudienceRoutes(app: App, audience: Audience, clock: Clock): void {
  app.get('/directory/audience', {
    config: { access: 'private' },
    schema: {
      tags: ['directory'], summary: 'The audience of programme instances over every node',
      description: 'Counted from every node\'s reports (each ONAIR_NODE_REPORT_INTERVAL), per minute, and kept after the stream ends. '
        + 'Only the minutes heard between start and end count: an instance heard across a bound shows the part within. Without an event, '
        + `the window is the day before now unless given, and at most ${MOST_DAYS} days long; with one, every instance of the event unless bounded.`,
      querystring: Query,
      response: { 200: Type.Object({ audiences: Type.Array(InstanceAudience) }), ...problems(400, 401, 403) },
    },
  }, async (request) => ({ audiences: await audience.between(queryOf(request.query, clock.now())) }));
}
