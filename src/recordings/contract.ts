/** What other areas (gate, automation) may ask of the recordings archive. */

export type ArchiveKind = 'recordings' | 'prerecordings';

export interface ArchivedFile {
  kind: ArchiveKind;
  event: string;
  /** Naive local start of the instance, as in the programme. */
  start: string;
  path: string;
  size: number;
  contentType: string;
  format: string;
  /** Seconds, from ffprobe. */
  duration: number;
  createdAt: number;
  /** The instance's start, epoch ms (the programme's `startsAt` when the file was stored); always set by the archive. */
  startsAt?: number;
}

export interface Archive {
  find(kind: ArchiveKind, event: string, start: string): Promise<ArchivedFile | undefined>;
  /** Newest first; `event` ids to search in, `after`/`before` bound the instance start (epoch ms). */
  latest(kind: ArchiveKind, events: string[], after: number, before: number): Promise<ArchivedFile | undefined>;
  /**
   * Moves a finished file (on the same file system, e.g. under the data dir) into the archive atomically,
   * probing it first. Replaces an existing file for the same key.
   */
  adopt(kind: ArchiveKind, event: string, start: string, file: string): Promise<ArchivedFile>;
  /** A directory under the data dir where producers write files before `adopt`. */
  readonly stagingDir: string;
}
