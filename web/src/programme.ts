/** The programme as the API answers it (GET /shows, /events, /schedule): the types every page shares. */

export type EventType = 'live' | 'prerecorded' | 'automated' | string;

export interface Show {
  id: string;
  title: string;
  description: string;
}

export interface Recurrence {
  rule: string;
  include: string[];
  exclude: string[];
}

export interface ProgrammeEvent {
  id: string;
  showId: string;
  type: EventType;
  /** Naive local date-time in `timezone`. */
  start: string;
  /** Seconds. */
  duration: number;
  timezone: string;
  recurrence: Recurrence | null;
  liveJob: string | null;
}

/** An instance: naive local times in its event's zone, and the instants (UTC) onair computed from them. */
export interface Instance {
  start: string;
  end: string;
  startsAt: string;
  endsAt: string;
}

export interface ScheduleAnswer {
  count: number;
  limit: number;
  offset: number;
  schedules: Array<{ event: ProgrammeEvent; instances: Instance[] }>;
}
