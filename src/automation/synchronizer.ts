import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Alarm, Clock } from '../core/clock.ts';
import type { EventBus } from '../core/events/bus.ts';
import type { ProgrammeReader } from '../programme/contract.ts';
import { UNFINISHED, type Status, type TaskService } from '../tasks/contract.ts';
import { BroadcastKeys, type Broadcast, type BroadcastKey, type BroadcastStore } from './store.ts';
import type { LiveWindows, WindowReport } from './windows.ts';

export const AUTOMATED_TYPES = ['replay', 'prerecorded'] as const;
export const STREAM = 'stream';
// A claim whose task never appeared after this long belongs to a synchronizer that died midway.
const STALE_CLAIM_MS = 60_000;

export interface SynchronizerOptions {
  store: BroadcastStore;
  /** The live instances' windows, kept in the same passes. */
  windows: LiveWindows;
  tasks: TaskService;
  programme: ProgrammeReader;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  leadMs: number;
  windowMs: number;
  intervalMs: number;
}

export interface SyncReport {
  expected: number;
  created: number;
  cancelled: number;
  windows: WindowReport;
}

const NOTHING: SyncReport = { expected: 0, created: 0, cancelled: 0, windows: { expected: 0, created: 0, moved: 0, retired: 0 } };

/**
 * Keeps one `stream` task per instance of a replay or prerecorded event starting within the window, and one live
 * window per live instance naming a job: every interval (aligned to it) and at once when the programme changes.
 */
export class Synchronizer {
  readonly #o: SynchronizerOptions;
  #alarm: Alarm | undefined;
  #unsubscribe: (() => void) | undefined;
  #running: Promise<SyncReport> | undefined;
  #again = false;

  constructor(options: SynchronizerOptions) {
    this.#o = options;
  }

  start(): void {
    this.#unsubscribe = this.#o.bus.subscribe((event) => {
      // A removed stream task frees its instance: it is scheduled again at once.
      if (event.type === 'programme-changed' || event.type === 'tasks-cleaned') void this.request();
    });
    this.#arm();
    void this.request();
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#alarm?.cancel();
    this.#alarm = undefined;
    await this.#running?.catch(() => {});
  }

  /** Runs a sync now, or once more after the one under way (requests meanwhile coalesce). */
  request(): Promise<SyncReport> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      let report: SyncReport;
      do {
        this.#again = false;
        report = await this.sync().catch((err: unknown) => {
          this.#o.logger.error({ err }, 'automation sync failed; retrying at the next interval');
          return NOTHING;
        });
      } while (this.#again);
      return report;
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #arm(): void {
    const { clock, intervalMs } = this.#o;
    const next = (Math.floor(clock.now() / intervalMs) + 1) * intervalMs;
    this.#alarm = clock.at(next, () => {
      this.#arm();
      void this.request();
    });
  }

  /** One pass over the stream tasks, then the live windows; idempotent. */
  async sync(): Promise<SyncReport> {
    const broadcasts = await this.#broadcasts();
    return { ...broadcasts, windows: await this.#o.windows.sync() };
  }

  /** One comparison of the tasks that should exist with those that do. */
  async #broadcasts(): Promise<Omit<SyncReport, 'windows'>> {
    const { store, programme, clock, windowMs } = this.#o;
    const now = clock.now();
    // The programme expands its rules on this thread while the database reads the broadcasts held and their tasks.
    const [listed, { held, statuses }] = await Promise.all([programme.instancesBetween(now, now + windowMs, [...AUTOMATED_TYPES]), this.#held()]);
    const scheduled = listed.filter((s) => s.instance.startsAt > now && s.instance.startsAt < now + windowMs);
    const expected = new BroadcastKeys();
    for (const { event, instance } of scheduled) expected.add({ event: event.id, start: instance.start, startsAt: instance.startsAt });
    const gone: Broadcast[] = [];
    const seen: string[] = [];
    for (const broadcast of held) {
      const status = statuses.get(broadcast.task);
      const wanted = expected.delete(broadcast);
      if (status === undefined) {
        // No task: removed (it had been seen), or its synchronizer is creating it or died first (free once stale).
        if (!broadcast.taskCreated && broadcast.claimedAt >= now - STALE_CLAIM_MS) continue;
        gone.push(broadcast);
        if (wanted) expected.add(broadcast);
        continue;
      }
      if (!broadcast.taskCreated) seen.push(broadcast.task);
      if (!wanted && !(await this.#stillScheduled(broadcast, status, now))) gone.push(broadcast);
    }
    await store.markCreated(seen);
    const cancelled = await this.#cancel(gone, statuses);
    await store.remove(gone);
    const created = await this.#create(expected.values(), now);
    if (created > 0 || cancelled > 0) this.#o.logger.info({ expected: scheduled.length, created, cancelled }, 'automated broadcasts synchronized');
    return { expected: scheduled.length, created, cancelled };
  }

  async #held(): Promise<{ held: Broadcast[]; statuses: Map<string, Status> }> {
    const held = await this.#o.store.held();
    return { held, statuses: await this.#o.tasks.statuses(held.map((b) => b.task)) };
  }

  /**
   * A broadcast outside the expected set is kept when its instance still exists at the same moment and
   * has started or lies beyond the window: an unfinished one may be on air, and a finished one stays listed
   * until its instance ends. Then it is let go.
   */
  async #stillScheduled(broadcast: Broadcast, status: Status, now: number): Promise<boolean> {
    const inWindow = broadcast.startsAt > now && broadcast.startsAt < now + this.#o.windowMs;
    if (inWindow) return false;
    const found = await this.#o.programme.getInstance(broadcast.event, broadcast.start);
    const same = found?.instance.startsAt === broadcast.startsAt && (AUTOMATED_TYPES as readonly string[]).includes(found.event.type);
    return same && (UNFINISHED.includes(status) || found.instance.endsAt > now);
  }

  async #cancel(gone: Broadcast[], statuses: Map<string, Status>): Promise<number> {
    let cancelled = 0;
    for (const { task } of gone) {
      const status = statuses.get(task);
      if (!status || !UNFINISHED.includes(status)) continue;
      try {
        await this.#o.tasks.cancel(task);
        cancelled++;
      } catch (err) {
        // Finished or cancelled meanwhile, perhaps by another instance.
        this.#o.logger.debug({ err, task }, 'stream task not cancelled');
      }
    }
    return cancelled;
  }

  /** Claims the instances with task ids chosen beforehand, then creates the tasks of the claims it won. */
  async #create(keys: BroadcastKey[], now: number): Promise<number> {
    const { tasks, store, leadMs } = this.#o;
    const claimed = await store.claim(keys.map((key) => ({ key, task: randomUUID() })), now);
    await Promise.all(claimed.map(({ key, task }) => {
      const due = key.startsAt - leadMs;
      return tasks.submit({
        operation: { type: STREAM, parameters: { event: key.event, start: key.start } },
        condition: due > now ? { type: 'at', parameters: { datetime: new Date(due).toISOString() } } : { type: 'now', parameters: {} },
      }, task);
    }));
    await store.markCreated(claimed.map((c) => c.task));
    return claimed.length;
  }
}
