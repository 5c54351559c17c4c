import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Alarm, Clock } from '../core/clock.ts';
import { Unavailable } from '../core/errors.ts';
import type { ArchiveStore } from './store.ts';

const CHECK_EVERY_MS = 60_000;
/** A node that has not checked for this long is gone: its marker no longer counts. */
const ALIVE_MS = 10 * CHECK_EVERY_MS;

/**
 * Whether every node on this database sees the same archive. Each node draws a token at start and writes it both into
 * the archive (`nodes/<node>`) and into the database; a node that cannot read another live node's token from its own
 * archive is on another file system, and refuses archive writes (rather than silently splitting the archive) until
 * the check, repeated every minute, passes again.
 */
export interface SharingOptions {
  root: string;
  node: string;
  store: ArchiveStore;
  clock: Clock;
  logger: Logger;
}

export class ArchiveSharing {
  readonly #o: SharingOptions;
  readonly #token = randomBytes(16).toString('hex');
  #split: string | undefined;
  #alarm: Alarm | undefined;

  constructor(options: SharingOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const dir = join(this.#o.root, 'nodes');
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `.${this.#o.node}.${this.#token}`);
    await writeFile(temp, this.#token, { flush: true });
    await rename(temp, join(dir, this.#o.node));
    await this.#check();
  }

  stop(): void {
    this.#alarm?.cancel();
  }

  /** Throws Unavailable while the archive is split between nodes. */
  assertWritable(): void {
    if (this.#split) throw new Unavailable(this.#split);
  }

  async #check(): Promise<void> {
    const { store, node, clock, logger } = this.#o;
    try {
      await store.markNode(node, this.#token, clock.now());
      // Read twice: a node restarting between our reads of its row and of its file shows a new token in one only.
      let unseen = await this.#unseen();
      if (unseen.length > 0) unseen = await this.#unseen();
      this.#judge(unseen);
    } catch (err) {
      logger.warn({ err }, 'could not check that the archive is shared; the next check is in a minute');
    }
    this.#alarm = clock.at(clock.now() + CHECK_EVERY_MS, () => void this.#check());
  }

  /** The live nodes whose marker this node's archive does not hold. */
  async #unseen(): Promise<string[]> {
    const { store, node, clock, root } = this.#o;
    const unseen: string[] = [];
    for (const other of await store.otherNodes(node, clock.now() - ALIVE_MS)) {
      const seen = await readFile(join(root, 'nodes', other.node), 'utf8').catch(() => undefined);
      if (seen !== other.token) unseen.push(other.node);
    }
    return unseen;
  }

  #judge(unseen: string[]): void {
    const { logger, root } = this.#o;
    const was = this.#split;
    this.#split = unseen.length === 0 ? undefined
      : `The archive ${root} is not the one node${unseen.length > 1 ? 's' : ''} ${unseen.join(', ')} of this database use: `
        + 'archive writes are refused until every node mounts the same ONAIR_ARCHIVE_DIR';
    if (this.#split && this.#split !== was) logger.error({ archive: root, unseen }, this.#split);
    if (!this.#split && was) logger.info({ archive: root }, 'the archive is shared with every node again; writes are accepted');
  }
}
