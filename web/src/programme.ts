/** The programme as the API answers it (GET /shows, /events, /schedule): the types every page shares. */

import type { ProgrammeEvent } from '../../src/programme/contract.ts';

// An event is as the programme's contract says: the API answers it as it is.
export type { EventType, ProgrammeEvent } from '../../src/programme/contract.ts';

export interface Show {
  id: string;
  title: string;
  description: string;
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
