/** What other areas (recordings, gate, automation) may ask of the programme. */

export type EventType = 'live' | 'replay' | 'prerecorded';

export interface ProgrammeEvent {
  id: string;
  showId: string;
  type: EventType;
  /** Local date-time of the first instance in `timezone`, naive ISO 8601 ("2026-12-04T20:00:00"). */
  start: string;
  /** Seconds. */
  duration: number;
  timezone: string;
  recurrence: { rule: string; include: string[]; exclude: string[] } | null;
  /** The live job (32 lowercase hex) a live event opens for each instance; null on others. Whether it exists is the automation's business. */
  liveJob: string | null;
}

/** One occurrence of an event. `start`/`end` are naive local times in the event's time zone; `startsAt`/`endsAt` epoch ms. */
export interface Instance {
  eventId: string;
  start: string;
  end: string;
  startsAt: number;
  endsAt: number;
}

export interface ScheduledInstance {
  event: ProgrammeEvent;
  instance: Instance;
}

export interface ProgrammeReader {
  getEvent(id: string): Promise<ProgrammeEvent | undefined>;
  /** The instance of `eventId` starting at the naive local `start`, if the event has one there. */
  getInstance(eventId: string, start: string): Promise<ScheduledInstance | undefined>;
  /** Instances overlapping [from, to) (epoch ms), optionally only of some event types; ordered by startsAt. */
  instancesBetween(from: number, to: number, types?: EventType[]): Promise<ScheduledInstance[]>;
  /** Instances of the live events that name a live job overlapping [from, to), ordered by startsAt. */
  liveJobInstancesBetween(from: number, to: number): Promise<ScheduledInstance[]>;
  /** Instances of all events of one show overlapping [from, to), ordered by startsAt. */
  showInstancesBetween(showId: string, from: number, to: number, types?: EventType[]): Promise<ScheduledInstance[]>;
}

/** Published on the bus whenever the programme changes, so that the automation can resync at once. */
export interface ProgrammeChanged {
  kind: 'show' | 'event';
  id: string;
  change: 'created' | 'updated' | 'deleted';
}
