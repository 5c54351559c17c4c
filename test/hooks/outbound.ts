import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { systemClock } from '../../src/core/clock.ts';
import { loadConfig } from '../../src/core/config.ts';
import { migrate, openDatabase, type Database } from '../../src/core/db/database.ts';
import { createMetrics } from '../../src/core/metrics.ts';
import { createOutbound, outboundMigrations, type OutboundService } from '../../src/core/outbound/index.ts';
import { tempDir } from '../support/onair.ts';

const logger = pino({ level: 'silent' });

/** onair's own outbound client on the system clock (its timeouts run in real time), over `database` or a SQLite of its own. */
export async function realOutbound(database?: Database): Promise<{ outbound: OutboundService; close(): Promise<void> }> {
  const dataDir = tempDir('onair-hooks-');
  const own = database ?? await openDatabase({ url: undefined, dataDir, logger });
  if (!database) await migrate(own, outboundMigrations);
  const outbound = createOutbound({ config: loadConfig({ ONAIR_DATA_DIR: dataDir }), database: own, clock: systemClock, logger, metrics: createMetrics() });
  return {
    outbound,
    async close() {
      if (!database) await own.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
