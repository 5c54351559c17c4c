import { createWriteStream } from 'node:fs';
import { copyFile, lstat, mkdir, open, readdir, rename, rm, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ArchiveKind } from './contract.ts';

export const KINDS: readonly ArchiveKind[] = ['recordings', 'prerecordings'];

/** A staged file untouched for this long is a leftover: the gate's ffmpeg writes its recording all along a session. */
export const STAGING_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** The upload sent nothing for longer than the idle timeout. */
export class UploadStalled extends Error {}


/**
 * The archive's directory tree under the data dir: one directory per kind holding the complete files, `tmp`
 * for uploads in progress (same file system, so that a rename publishes a file at once) and `staging` for
 * producers such as the gate.
 */
export class ArchiveFiles {
  readonly root: string;
  readonly tmp: string;
  readonly staging: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'archive');
    this.tmp = join(this.root, 'tmp');
    this.staging = join(this.root, 'staging');
  }

  path(kind: ArchiveKind, name: string): string {
    return join(this.root, kind, name);
  }

  /**
   * Creates the tree; removes what cut uploads and crashes left: every temporary file, every unreferenced file and
   * every staged file not written to since `staleBefore` (epoch ms; younger ones may be recordings under way).
   */
  async prepare(referenced: (kind: ArchiveKind) => Promise<Set<string>>, staleBefore: number): Promise<string[]> {
    const removed: string[] = [];
    await rm(this.tmp, { recursive: true, force: true });
    for (const dir of [this.tmp, this.staging, ...KINDS.map((k) => join(this.root, k))]) await mkdir(dir, { recursive: true });
    for (const kind of KINDS) {
      const keep = await referenced(kind);
      for (const name of await readdir(join(this.root, kind))) {
        if (keep.has(name)) continue;
        await rm(this.path(kind, name), { force: true, recursive: true });
        removed.push(join(kind, name));
      }
    }
    for (const name of await readdir(this.staging)) {
      const stats = await lstat(join(this.staging, name)).catch(() => undefined);
      if (!stats?.isFile() || stats.mtimeMs >= staleBefore) continue;
      await this.discard(join(this.staging, name));
      removed.push(join('staging', name));
    }
    return removed;
  }

  /** Free bytes on the archive's file system. */
  async free(): Promise<number> {
    const stats = await statfs(this.tmp);
    return stats.bavail * stats.bsize;
  }

  /**
   * Streams `body` into a new temporary file, flushed to disk; nothing is left behind if it fails. After `idleMs`
   * without a byte it gives up with UploadStalled, leaving `body` open (paused) so that the caller can still answer.
   */
  async receive(body: Readable, idleMs: number): Promise<{ temp: string; size: number }> {
    const temp = join(this.tmp, `${crypto.randomUUID()}.part`);
    // 1 MiB lets the stream write many socket chunks at once (writev) instead of one syscall per 64 KiB.
    const out = createWriteStream(temp, { flags: 'wx', flush: true, highWaterMark: 1024 * 1024 });
    const idle = setTimeout(() => {
      body.off('data', arrived).unpipe(out).pause();
      out.destroy(new UploadStalled(`nothing arrived for ${idleMs} ms`));
    }, idleMs);
    const arrived = () => idle.refresh();
    body.on('data', arrived).pipe(out);
    try {
      // A body cut short never ends: its error (or premature close) ends the file too.
      await Promise.all([finished(body).catch((error: unknown) => {
        out.destroy(error as Error);
        throw error;
      }), finished(out)]);
      return { temp, size: out.bytesWritten };
    } catch (error) {
      await this.discard(temp);
      throw error;
    } finally {
      clearTimeout(idle);
      body.off('data', arrived);
    }
  }

  /** A copy of `source` in the temporary directory, for files handed over from another file system. */
  async copyIn(source: string): Promise<string> {
    const temp = join(this.tmp, `${crypto.randomUUID()}.part`);
    try {
      await copyFile(source, temp);
      await sync(temp);
      return temp;
    } catch (error) {
      await this.discard(temp);
      throw error;
    }
  }

  /** Moves a complete file into the kind's directory under a fresh unique name, durably; answers the name. */
  async install(kind: ArchiveKind, file: string, extension: string): Promise<string> {
    const name = `${crypto.randomUUID()}.${extension}`;
    await rename(file, this.path(kind, name));
    await sync(join(this.root, kind));
    return name;
  }

  /** Bytes `start` to `end` (inclusive) of an open file, read 1 MiB at a time; closes the handle at the end. */
  read(handle: FileHandle, start: number, end: number): Readable {
    return handle.createReadStream({ start, end, highWaterMark: 1024 * 1024 });
  }

  async discard(file: string): Promise<void> {
    await unlink(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

async function sync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
