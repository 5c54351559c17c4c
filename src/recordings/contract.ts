/** What other areas (gate, automation) may ask of the recordings archive. */

export type ArchiveKind = 'recordings' | 'prerecordings';

export interface ArchivedFile {
  kind: ArchiveKind;
  event: string;
  /** Naive local start of the instance, as in the programme. */
  start: string;
  /** Its number among the files of the instance, from 1 in the order they were stored: each gate session adds one. */
  part: number;
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

/** The archive keeps, per instance, one file or several parts (a live show recorded over several sessions). */
export interface Archive {
  /** The parts of an instance's file, in order; empty when it has none. */
  find(kind: ArchiveKind, event: string, start: string): Promise<ArchivedFile[]>;
  /** The parts of the newest instance among `event` ids whose start (epoch ms) lies in [after, before); empty when none. */
  latest(kind: ArchiveKind, events: string[], after: number, before: number): Promise<ArchivedFile[]>;
  /**
   * Moves a finished file (best from `stagingDir`, on the archive's file system) into the archive atomically,
   * probing it first, as the next part of the instance: nothing stored before is replaced. Unavailable while the
   * archive is not the one the other nodes use (the file is then left where it is).
   */
  adopt(kind: ArchiveKind, event: string, start: string, file: string): Promise<ArchivedFile>;
  /** This node's directory in the archive where producers write files before `adopt`. */
  readonly stagingDir: string;
}
