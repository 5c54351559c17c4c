import type { App } from '../core/http/server.ts';
import type { ProgrammeReader } from '../programme/contract.ts';
import type { Archive } from './contract.ts';
import { ArchiveFiles, STAGING_MAX_AGE_MS } from './files.ts';
import { recordingMigrations } from './migrations.ts';
import { registerRecordingRoutes } from './routes.ts';
import { ArchiveService } from './service.ts';
import { ArchiveSharing } from './sharing.ts';
import { ArchiveStore } from './store.ts';
import type { Core } from '../core/area.ts';

export { recordingMigrations } from './migrations.ts';
export type { Archive, ArchiveKind, ArchivedFile } from './contract.ts';

export interface RecordingsDeps extends Core {
  programme: ProgrammeReader;
}

/** The recordings archive: recordings of live instances and prerecordings for prerecorded ones, files and metadata. */
export function createRecordings(deps: RecordingsDeps) {
  const logger = deps.logger.child({ area: 'recordings' });
  const store = new ArchiveStore(deps.database);
  const root = deps.config.recordings.archiveDir;
  const files = new ArchiveFiles(root, deps.node.id);
  const sharing = new ArchiveSharing({ root, node: deps.node.id, store, clock: deps.clock, logger });
  const service = new ArchiveService({
    store, files, sharing, programme: deps.programme, bus: deps.bus, clock: deps.clock, logger, uploadIdleTimeoutMs: deps.config.recordings.uploadIdleTimeoutMs,
  });
  return {
    archive: service as Archive,
    migrations: recordingMigrations,
    /** The archive's routes as a Fastify plugin, in a scope of their own. */
    routes: async (app: App) => registerRecordingRoutes(app, service, deps.config.recordings.uploadTimeoutMs),
    /** Prepares the directory tree and removes what a crash or cut upload left behind; run after migrating. */
    async start() {
      await sharing.start();
      const removed = await files.prepare((kind) => store.files(kind), deps.clock.now() - STAGING_MAX_AGE_MS);
      if (removed.length > 0) logger.warn({ removed }, 'removed leftover archive files: temporary, unreferenced or stale staged ones');
    },
    async stop() {
      sharing.stop();
    },
  };
}

export type Recordings = ReturnType<typeof createRecordings>;
