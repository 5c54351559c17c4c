import { Type } from 'typebox';
import { invalid } from '../core/errors.ts';
import type { App } from '../core/http/server.ts';
import { parseDateTime } from '../core/time.ts';
import type { Audience } from './audience.ts';

const Instant = (description: string) => Type.String({
  maxLength: 40, description: `${description}: ISO 8601, such as 2026-12-04T20:00:00Z (without an offset: UTC)`, examples: ['2026-12-04T20:00:00Z'],
});
const Query = Type.Object({
  event: Type.Optional(Type.String({ format: 'uuid', description: 'Only the instances of this event' })),
  start: Type.Optional(Instant('Only the minutes heard from this instant')),
  end: Type.Optional(Instant('Only the minutes heard before this instant')),
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
const problems = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, Type.Ref('Problem')]));

function instant(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const at = parseDateTime(value);
  if (at === undefined) throw invalid(field, `"${value}" is not a real ISO 8601 date-time such as 2026-12-04T20:00:00Z`);
  return at;
}

/** The audience of programme instances over every node, for operators (what was heard, where). */
export function registerAudienceRoutes(app: App, audience: Audience): void {
  app.get('/directory/audience', {
    config: { access: 'private' },
    schema: {
      tags: ['directory'], summary: 'The audience of programme instances over every node',
      description: 'Counted from every node\'s reports (each ONAIR_NODE_REPORT_INTERVAL), per minute, and kept after the stream ends. '
        + 'With start or end, only the minutes heard within count: an instance heard across a bound shows the part within.',
      querystring: Query,
      response: { 200: Type.Object({ audiences: Type.Array(InstanceAudience) }), ...problems(400, 401, 403) },
    },
  }, async (request) => {
    const start = instant('querystring.start', request.query.start);
    const end = instant('querystring.end', request.query.end);
    if (start !== undefined && end !== undefined && end <= start) throw invalid('querystring.end', 'must be after start');
    return { audiences: await audience.between({ event: request.query.event, start, end }) };
  });
}
