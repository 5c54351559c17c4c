import type { FileHandle } from 'node:fs/promises';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { EventBus } from '../core/events/bus.ts';
import { DomainError, invalid, notFound, TimedOut, TooLarge, Unavailable } from '../core/errors.ts';
import type { Instance, ProgrammeReader } from '../programme/contract.ts';
import type { Archive, ArchiveKind, ArchivedFile } from './contract.ts';
import { UploadStalled, type ArchiveFiles } from './files.ts';
import type { ArchiveRow } from './migrations.ts';
import { contentTypeOf, extensionOf, NotMedia, probe, type Probed } from './probe.ts';
import type { ArchiveStore, StartBounds } from './store.ts';

declare module '../core/events/bus.ts' {
  interface EventMap {
    'archive-file-stored': { kind: ArchiveKind; event: string; start: string; part: number; size: number; duration: number; replaced: boolean };
    /** `part` absent: every part of the instance was deleted. */
    'archive-file-deleted': { kind: ArchiveKind; event: string; start: string; part?: number };
  }
}

/** A strong entity tag: every stored version of a key has its own file name. */
export const etagOf = (file: ArchivedFile): string => `"${basename(file.path).split('.')[0]}"`;

/** Which event type each kind belongs to: recordings are made of live instances, prerecordings played out at prerecorded ones. */
export const EVENT_TYPE_OF = { recordings: 'live', prerecordings: 'prerecorded' } as const;

/** An archived file as the archive itself knows it, the instance's start always set. */
export type Entry = ArchivedFile & { startsAt: number };

export interface Stored {
  file: Entry;
  created: boolean;
}

export interface Opened {
  file: Entry;
  etag: string;
  handle: FileHandle;
}

export interface ArchiveServiceOptions {
  store: ArchiveStore;
  files: ArchiveFiles;
  /** Refuses writes while the archive is not the one the other nodes use. */
  sharing: { assertWritable(): void };
  programme: ProgrammeReader;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  /** An upload that sends nothing for this long is given up. */
  uploadIdleTimeoutMs: number;
}

/** The archive: files on disk, their metadata in the database, and the checks that keep the two in step. */
export class ArchiveService implements Archive {
  readonly #o: ArchiveServiceOptions;
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(options: ArchiveServiceOptions) {
    this.#o = options;
  }

  get stagingDir(): string {
    return this.#o.files.staging;
  }

  /** The programme instance a file is for; 404 when it has none there, 400 when the event is of the wrong type. */
  async instanceFor(kind: ArchiveKind, event: string, start: string): Promise<Instance> {
    const scheduled = await this.#o.programme.getInstance(event, start);
    if (!scheduled) throw notFound(`Event ${event} has no instance starting at ${start}`);
    const wanted = EVENT_TYPE_OF[kind];
    if (scheduled.event.type !== wanted) {
      throw invalid('event', `is a ${scheduled.event.type} event; ${kind} are kept for ${wanted} events only`);
    }
    return scheduled.instance;
  }

  /** Checks the key first, then streams the body to disk, probes it and publishes it. */
  async upload(kind: ArchiveKind, event: string, start: string, body: Readable, declared: { type?: string; length?: number }): Promise<Stored> {
    this.#o.sharing.assertWritable();
    const instance = await this.instanceFor(kind, event, start);
    if (declared.length !== undefined && declared.length > await this.#o.files.free()) {
      throw new TooLarge(`body: ${declared.length} bytes do not fit in the space left on the archive's disk`);
    }
    let received: { temp: string; size: number };
    try {
      received = await this.#o.files.receive(body, this.#o.uploadIdleTimeoutMs);
    } catch (error) {
      this.#o.logger.info({ kind, event, start, err: error }, 'upload cut or stalled before its end; nothing kept');
      if (error instanceof UploadStalled) throw new TimedOut(`body: ${error.message}; the upload was given up and nothing was stored`);
      if (error instanceof DomainError) throw error;
      throw invalid('body', 'the upload ended before all of it arrived; nothing was stored');
    }
    if (received.size === 0) {
      await this.#o.files.discard(received.temp);
      throw invalid('body', 'is empty; send the audio or video file');
    }
    return this.#publish(kind, event, start, instance, received.temp, { declared: declared.type, replace: true });
  }

  async adopt(kind: ArchiveKind, event: string, start: string, file: string): Promise<ArchivedFile> {
    try {
      this.#o.sharing.assertWritable();
    } catch (error) {
      // Nothing recorded is lost: the file waits, out of the staging sweep's way, for the operator to upload it.
      const kept = await this.#o.files.setAside(file);
      throw new Unavailable(`${(error as Error).message}; the file was kept as ${kept}`);
    }
    const instance = await this.instanceFor(kind, event, start);
    const { file: archived } = await this.#publish(kind, event, start, instance, file, { declared: undefined, replace: false });
    return archived;
  }

  /**
   * Probes `source`, moves it into the archive and records it: as the only file of its key (an upload: the last one to
   * get here wins), or as its next part (a file adopted from a producer).
   */
  async #publish(kind: ArchiveKind, event: string, start: string, instance: Instance, source: string,
    how: { declared: string | undefined; replace: boolean }): Promise<Stored> {
    const own = source.startsWith(this.#o.files.tmp);
    let probed: Probed;
    try {
      probed = await probe(source);
    } catch (error) {
      if (own) await this.#o.files.discard(source);
      if (error instanceof NotMedia) throw invalid(own ? 'body' : 'file', `is not an audio or video file (ffprobe: ${error.message})`);
      throw error;
    }
    const { size } = await stat(source);
    const name = await this.#install(kind, source, own, probed.format);
    const row: ArchiveRow = {
      kind, event, start, part: 1, starts_at: instance.startsAt, file: name, size,
      content_type: contentTypeOf(probed, how.declared), format: probed.format, duration: probed.duration, created_at: 0,
    };
    const stored = (trx: Transaction<any>, part: number, replaced: boolean) =>
      this.#o.bus.record(trx, 'archive-file-stored', [{ kind, event, start, part, size, duration: probed.duration, replaced }]);
    try {
      const replaced = await this.#serialized(kind, event, start, async () => {
        row.created_at = this.#o.clock.now();
        if (!how.replace) {
          row.part = await this.#o.store.add(row, (trx, part) => stored(trx, part, false));
          return false;
        }
        const previous = await this.#o.store.put(row, (trx, files) => stored(trx, 1, files.length > 0));
        for (const file of previous) await this.#o.files.discard(this.#o.files.path(kind, file));
        return previous.length > 0;
      });
      const { part } = row;
      this.#o.logger.info({ kind, event, start, part, size, format: probed.format, duration: probed.duration, replaced }, 'archive file stored');
      return { file: this.#toFile(row), created: !replaced };
    } catch (error) {
      await this.#o.files.discard(this.#o.files.path(kind, name));
      throw error;
    }
  }

  async #install(kind: ArchiveKind, source: string, own: boolean, format: string): Promise<string> {
    try {
      return await this.#o.files.install(kind, source, extensionOf(format));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      const temp = await this.#o.files.copyIn(source);
      const name = await this.#o.files.install(kind, temp, extensionOf(format));
      if (!own) await this.#o.files.discard(source);
      return name;
    }
  }

  /** Runs `work` after every earlier piece of work on the same key. */
  async #serialized<T>(kind: ArchiveKind, event: string, start: string, work: () => Promise<T>): Promise<T> {
    const key = JSON.stringify([kind, event, start]);
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    const settled = current.catch(() => {});
    this.#locks.set(key, settled);
    void settled.then(() => {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    });
    return current;
  }

  async find(kind: ArchiveKind, event: string, start: string): Promise<ArchivedFile[]> {
    return (await this.#o.store.parts(kind, event, start)).map((row) => this.#toFile(row));
  }

  async latest(kind: ArchiveKind, events: string[], after: number, before: number): Promise<ArchivedFile[]> {
    return (await this.#o.store.latest(kind, events, after, before)).map((row) => this.#toFile(row));
  }

  async list(kind: ArchiveKind, event: string, bounds: StartBounds, limit: number, offset: number) {
    const { count, rows } = await this.#o.store.list(kind, event, bounds, limit, offset);
    const unknown = count === 0 && !(await this.#o.programme.getEvent(event)) && !(await this.#o.store.holds(kind, event));
    if (unknown) throw notFound(`No event ${event} in the programme or the archive`);
    return { count, files: rows.map((row) => this.#toFile(row)) };
  }

  /**
   * Opens part `part` of a key (its first part by default); a file replaced between reading its row and opening it
   * is looked up again.
   */
  async open(kind: ArchiveKind, event: string, start: string, part?: number): Promise<Opened> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await this.#o.store.get(kind, event, start, part);
      if (!row) break;
      try {
        const handle = await open(this.#o.files.path(kind, row.file), 'r');
        const file = this.#toFile(row);
        return { file, etag: etagOf(file), handle };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    throw this.#missing(kind, event, start, part);
  }

  /** Streams bytes `start` to `end` (inclusive) of an opened file, closing it at the end. */
  read(opened: Opened, start: number, end: number): Readable {
    return this.#o.files.read(opened.handle, start, end);
  }

  /** Removes part `part` of a key, or every part. */
  async remove(kind: ArchiveKind, event: string, start: string, part?: number): Promise<void> {
    this.#o.sharing.assertWritable();
    await this.#serialized(kind, event, start, async () => {
      const files = await this.#o.store.delete(kind, event, start, part, (trx) =>
        this.#o.bus.record(trx, 'archive-file-deleted', [{ kind, event, start, ...(part === undefined ? {} : { part }) }]));
      if (files.length === 0) throw this.#missing(kind, event, start, part);
      for (const file of files) await this.#o.files.discard(this.#o.files.path(kind, file));
    });
  }

  #missing(kind: ArchiveKind, event: string, start: string, part: number | undefined): DomainError {
    return notFound(`No ${kind.slice(0, -1)}${part === undefined ? '' : ` part ${part}`} for event ${event} at ${start}`);
  }

  #toFile(row: ArchiveRow): Entry {
    return {
      kind: row.kind as ArchiveKind, event: row.event, start: row.start, part: row.part, path: this.#o.files.path(row.kind as ArchiveKind, row.file),
      size: row.size, contentType: row.content_type, format: row.format, duration: row.duration, createdAt: row.created_at,
      startsAt: row.starts_at,
    };
  }
}
