import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { Choice } from './http/validation.ts';
import { NaiveLocal, normalLocal } from './time.ts';

/**
 * What a channel's HTTP listeners hear between its sessions, so that they stay connected: nothing (they are let go),
 * silence, or a file of the archive played in a loop (an instance's recording or prerecording).
 */
export type Fallback =
  | { type: 'none' }
  | { type: 'silence' }
  | { type: 'archive'; kind: 'recordings' | 'prerecordings'; event: string; start: string };

// The archive's key of an instance: its naive local start.
const ArchiveRef = Type.Object({
  event: Type.String({ format: 'uuid', description: 'Event id' }),
  start: NaiveLocal('Naive local start of the instance in the event\'s time zone'),
}, { additionalProperties: false });

/**
 * The one definition of a fallback as people write it: in ONAIR_CHANNELS, in the channels API, in the gate_channels
 * table (JSON), and as answers and events show it.
 */
export const FALLBACK_EXAMPLE = '"silence", "none", {"recording": {"event": "<uuid>", "start": "2026-12-04T20:00:00"}} or the same with "prerecording"';

export const FallbackForm = Choice(Type.Union([
  Type.Literal('silence'),
  Type.Literal('none'),
  Type.Object({ recording: ArchiveRef }, { additionalProperties: false }),
  Type.Object({ prerecording: ArchiveRef }, { additionalProperties: false }),
], {
  description: 'What listeners hear between shows: "silence", "none" (they are let go), or an instance\'s file of the archive in a loop, '
    + '{"recording": {event, start}} or {"prerecording": {event, start}} (silence while the archive has no such file)',
}), FALLBACK_EXAMPLE);
export type FallbackForm = Static<typeof FallbackForm>;

const check = Compile(FallbackForm);

/** A fallback as written; undefined when it is not one. */
export function fallbackOf(value: unknown): Fallback | undefined {
  if (!check.Check(value)) return undefined;
  const form = value as FallbackForm;
  if (form === 'silence' || form === 'none') return { type: form };
  const [kind, ref] = 'recording' in form ? ['recordings', form.recording] as const : ['prerecordings', form.prerecording] as const;
  // In the archive's spelling (seconds written), and a real calendar time.
  const start = normalLocal(ref.start);
  return start === undefined ? undefined : { type: 'archive', kind, event: ref.event, start };
}

/** A fallback as people write it. */
export function fallbackForm(fallback: Fallback): FallbackForm {
  if (fallback.type !== 'archive') return fallback.type;
  const ref = { event: fallback.event, start: fallback.start };
  return fallback.kind === 'recordings' ? { recording: ref } : { prerecording: ref };
}
