import { createWriteStream } from 'node:fs';
import { copyFile, lstat, mkdir, open, readdir, rename, rm, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ArchiveKind } from './contract.ts';

export const KINDS: readonly ArchiveKind[] = ['recordings', 'prerecordings'];

/** A staged file untouched for this long is a leftover: the gate's ffmpeg writes its recording all along a session. */
export const STAGING_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** The upload sent nothing for longer than the idle timeout. */
export class UploadStalled extends Error {}


/**
 * The archive's directory tree, which several nodes may share (one file system mounted on each): one directory per
 * kind holding the complete files, each node's in a directory of its own (`<kind>/<node>/`); `tmp/<node>` for this
 * node's uploads in progress (same file system, so that a rename publishes a file at once) and `staging/<node>` for
 * its producers such as the gate. A node clears only what is its own, so that no start removes a file another node is
 * writing or about to record.
 */
export class ArchiveFiles {
  readonly root: string;
  readonly tmp: string;
  readonly staging: string;
  readonly #node: string;

  constructor(root: string, node: string) {
    this.root = root;
    this.#node = node;
    this.tmp = join(root, 'tmp', node);
    this.staging = join(root, 'staging', node);
  }

  /** The path of a stored file, from the name its row keeps (`<node>/<uuid>.<ext>`, or `<uuid>.<ext>` from before). */
  path(kind: ArchiveKind, name: string): string {
    return join(this.root, kind, name);
  }

  /**
   * Creates this node's part of the tree; removes what its cut uploads and crashes left: its temporary files, its
   * unreferenced files and its staged files not written to since `staleBefore` (epoch ms; younger ones may be
   * recordings under way). Files of the single-node layout (directly under tmp, a kind or staging) are swept too:
   * no node writes there any more.
   */
  async prepare(referenced: (kind: ArchiveKind) => Promise<Set<string>>, staleBefore: number): Promise<string[]> {
    const removed: string[] = [];
    await rm(this.tmp, { recursive: true, force: true });
    for (const name of await filesIn(join(this.root, 'tmp'))) await this.discard(join(this.root, 'tmp', name));
    for (const dir of [this.tmp, this.staging, ...KINDS.map((k) => join(this.root, k, this.#node))]) await mkdir(dir, { recursive: true });
    for (const kind of KINDS) {
      const keep = await referenced(kind);
      const names = [...await filesIn(join(this.root, kind)), ...(await filesIn(join(this.root, kind, this.#node))).map((n) => `${this.#node}/${n}`)];
      for (const name of names.filter((n) => !keep.has(n))) {
        await this.discard(this.path(kind, name));
        removed.push(join(kind, name));
      }
    }
    const staged = [...(await filesIn(this.staging)).map((n) => join(this.staging, n)), ...(await filesIn(join(this.root, 'staging'))).map((n) => join(this.root, 'staging', n))];
    for (const file of staged) {
      const stats = await lstat(file).catch(() => undefined);
      if (!stats || stats.mtimeMs >= staleBefore) continue;
      await this.discard(file);
      removed.push(file.slice(this.root.length + 1));
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

  /** Moves a complete file into this node's directory of the kind under a fresh unique name, durably; answers the name. */
  async install(kind: ArchiveKind, file: string, extension: string): Promise<string> {
    const name = `${this.#node}/${crypto.randomUUID()}.${extension}`;
    await rename(file, this.path(kind, name));
    await sync(join(this.root, kind, this.#node));
    return name;
  }

  /** Bytes `start` to `end` (inclusive) of an open file, read 1 MiB at a time; closes the handle at the end. */
  read(handle: FileHandle, start: number, end: number): Readable {
    return handle.createReadStream({ start, end, highWaterMark: 1024 * 1024 });
  }

  /** Moves a file a producer staged into `staging/<node>/refused/`, which no sweep touches; answers its new path. */
  async setAside(file: string): Promise<string> {
    const dir = join(this.staging, 'refused');
    await mkdir(dir, { recursive: true });
    const kept = join(dir, basename(file));
    await rename(file, kept);
    return kept;
  }

  async discard(file: string): Promise<void> {
    await unlink(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

/** The names of the plain files directly in `dir` (none if it does not exist). */
async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

async function sync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
