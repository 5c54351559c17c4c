/**
 * The recurrence rule builder's model: the RRULEs an operator builds from a frequency, an interval, weekdays and an
 * end, read back from an event's rule (any other rule stays as typed: `custom`), and said in words.
 */

export type Frequency = 'none' | 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'custom';
export type Ending = 'never' | 'count' | 'until';

export const WEEKDAYS = [
  { code: 'MO', name: 'Monday' }, { code: 'TU', name: 'Tuesday' }, { code: 'WE', name: 'Wednesday' }, { code: 'TH', name: 'Thursday' },
  { code: 'FR', name: 'Friday' }, { code: 'SA', name: 'Saturday' }, { code: 'SU', name: 'Sunday' },
] as const;

export interface RuleDraft {
  frequency: Frequency;
  interval: number;
  /** BYDAY of a weekly rule; none: the start's weekday. */
  weekdays: string[];
  ending: Ending;
  count: number;
  /** The last day (YYYY-MM-DD), in the event's zone. */
  until: string;
  /** The rule as typed, for `custom`. */
  custom: string;
}

export const NO_RULE: RuleDraft = { frequency: 'none', interval: 1, weekdays: [], ending: 'never', count: 10, until: '', custom: '' };

const BUILT = new Set(['FREQ', 'INTERVAL', 'BYDAY', 'COUNT', 'UNTIL']);

/** The builder's reading of a rule; a rule it cannot build (BYHOUR, ordinals, yearly...) is kept as `custom`. */
export function parseRule(rule: string | undefined): RuleDraft {
  if (rule === undefined) return NO_RULE;
  const parts = new Map(rule.replace(/^RRULE:/i, '').split(';').filter(Boolean).map((part) => {
    const [name = '', value = ''] = part.split('=');
    return [name.toUpperCase(), value.toUpperCase()] as const;
  }));
  const frequency = parts.get('FREQ');
  const weekdays = parts.get('BYDAY')?.split(',') ?? [];
  const until = parts.get('UNTIL')?.match(/^(\d{4})(\d{2})(\d{2})(T235959)?$/);
  const buildable = [...parts.keys()].every((name) => BUILT.has(name))
    && (frequency === 'DAILY' || frequency === 'WEEKLY' || frequency === 'MONTHLY')
    && (weekdays.length === 0 || (frequency === 'WEEKLY' && weekdays.every((day) => WEEKDAYS.some((w) => w.code === day))))
    && /^\d*$/.test(parts.get('INTERVAL') ?? '') && /^\d*$/.test(parts.get('COUNT') ?? '')
    && (!parts.has('UNTIL') || until !== null);
  if (!buildable) return { ...NO_RULE, frequency: 'custom', custom: rule };
  const count = parts.get('COUNT');
  return {
    frequency, interval: Number(parts.get('INTERVAL') ?? 1), weekdays,
    ending: count !== undefined ? 'count' : until ? 'until' : 'never',
    count: count === undefined ? NO_RULE.count : Number(count),
    until: until ? `${until[1]}-${until[2]}-${until[3]}` : '',
    custom: rule,
  };
}

/** The RRULE the draft stands for; undefined for a single broadcast. */
export function buildRule(draft: RuleDraft): string | undefined {
  if (draft.frequency === 'none') return undefined;
  if (draft.frequency === 'custom') return draft.custom.trim();
  const parts = [`FREQ=${draft.frequency}`];
  if (draft.interval !== 1) parts.push(`INTERVAL=${draft.interval}`);
  if (draft.frequency === 'WEEKLY' && draft.weekdays.length > 0) {
    parts.push(`BYDAY=${WEEKDAYS.filter((day) => draft.weekdays.includes(day.code)).map((day) => day.code).join(',')}`);
  }
  if (draft.ending === 'count') parts.push(`COUNT=${draft.count}`);
  // The whole last day: a local date-time at its end, so the instance on that day is kept.
  if (draft.ending === 'until' && draft.until !== '') parts.push(`UNTIL=${draft.until.replaceAll('-', '')}T235959`);
  return parts.join(';');
}

const UNITS: Record<string, [string, string]> = { DAILY: ['day', 'days'], WEEKLY: ['week', 'weeks'], MONTHLY: ['month', 'months'] };

/** A naive local date ("2027-03-14") in words, as "Sunday 14 March 2027": calendar arithmetic, no zone involved. */
function longDate(date: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' })
    .format(new Date(`${date}T00:00:00Z`));
}

function weekdayOf(date: string): (typeof WEEKDAYS)[number] {
  return WEEKDAYS[(new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7]!;
}

/** A weekly draft with no day chosen repeats on the start's weekday: that day ticked, so that the boxes say what it does. */
export function withStartDay(draft: RuleDraft, start: string): RuleDraft {
  const date = start.slice(0, 10);
  if (draft.frequency !== 'WEEKLY' || draft.weekdays.length > 0 || !/^\d{4}-\d{2}-\d{2}$/.test(date)) return draft;
  return { ...draft, weekdays: [weekdayOf(date).code] };
}

function list(words: string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

/** The draft in words, for a start (naive local "2027-03-14T02:30"): "Every week on Sunday at 02:30, 10 times". */
export function describeRule(draft: RuleDraft, start: string): string {
  const [date = '', time = ''] = start.split('T');
  const at = time.slice(0, 5);
  if (draft.frequency === 'custom') return 'A custom rule (RFC 5545 RRULE)';
  if (date === '' || at === '') return 'Give the start to see when it repeats';
  if (draft.frequency === 'none') return `Once, on ${longDate(date)} at ${at}`;
  const [one, many] = UNITS[draft.frequency]!;
  const every = draft.interval === 1 ? `Every ${one}` : `Every ${draft.interval} ${many}`;
  const days = draft.weekdays.length > 0 ? WEEKDAYS.filter((day) => draft.weekdays.includes(day.code)).map((day) => day.name) : [weekdayOf(date).name];
  const on = draft.frequency === 'WEEKLY' ? ` on ${list(days)}` : draft.frequency === 'MONTHLY' ? ` on day ${Number(date.slice(8))}` : '';
  const end = draft.ending === 'count' ? `, ${draft.count} ${draft.count === 1 ? 'time' : 'times'}`
    : draft.ending === 'until' && draft.until !== '' ? `, until ${longDate(draft.until)}` : '';
  return `${every}${on} at ${at}${end}`;
}
