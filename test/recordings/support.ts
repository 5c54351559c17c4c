import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { openAsBlob, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Clock } from '../../src/core/clock.ts';
import type { EventType } from '../../src/programme/contract.ts';
import type { Recordings } from '../../src/recordings/index.ts';
import type { TestDatabase } from '../support/databases.ts';
import { startOnair, type Answer, type Running } from '../support/onair.ts';

const run = promisify(execFile);

/** Makes a media file with real ffmpeg, e.g. media(dir, 'a.ogg', '-f', 'lavfi', '-i', 'sine=d=3', '-c:a', 'libopus'). */
export async function media(dir: string, name: string, ...args: string[]): Promise<string> {
  const file = join(dir, name);
  await run('ffmpeg', ['-v', 'error', '-y', ...args, file]);
  return file;
}

export interface ArchiveServer extends Running {
  dataDir: string;
  recordings: Recordings;
  /** Creates a show and an event of `type` in the programme (UTC unless told) and answers the key of its first instance. */
  event(type: EventType, start: string, extra?: Record<string, unknown>): Promise<{ event: string; start: string }>;
  /** Every file in the archive's tree, relative to it (the staging directory and the nodes' markers aside). */
  files(): string[];
}

/** A whole onair (real programme, real database) for archive tests; `dataDir` and `databaseUrl` to restart on the same state. */
export async function startArchive(database: TestDatabase, options: { dataDir?: string; databaseUrl?: string; env?: Record<string, string>; clock?: Clock } = {}): Promise<ArchiveServer> {
  const env = { ...options.env, ...(options.dataDir ? { ONAIR_DATA_DIR: options.dataDir } : {}) };
  const running = await startOnair({ database, databaseUrl: options.databaseUrl, env, clock: options.clock });
  const dataDir = running.config.dataDir;
  return {
    ...running, dataDir, recordings: running.onair.recordings,
    async event(type, start, extra = {}) {
      const show = await running.request('POST', '/shows', { title: `A ${type} show`, description: 'for the archive tests' });
      assert.equal(show.status, 201, JSON.stringify(show.body));
      const event = await running.request('POST', '/events', { showId: show.body.id, type, start, duration: 3600, timezone: 'UTC', ...extra });
      assert.equal(event.status, 201, JSON.stringify(event.body));
      return { event: event.body.id, start };
    },
    files: () => archiveFiles(dataDir),
  };
}
export function archiveFiles(dataDir: string): string[] {
  const root = join(dataDir, 'archive');
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !['staging', 'nodes'].some((dir) => entry.parentPath.startsWith(join(root, dir))))
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1)).sort();
}

/** Uploads a file with fetch, streaming it from disk. */
export async function upload(url: string, path: string, file: string, type = 'audio/ogg'): Promise<Answer> {
  const blob = await openAsBlob(file);
  const response = await fetch(`${url}${path}`, { method: 'PUT', body: blob, headers: { 'content-type': type } });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}
