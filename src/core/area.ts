import type { Logger } from 'pino';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import type { EventBus } from './events/bus.ts';
import type { Metrics } from './metrics.ts';
import type { NodeIdentity } from './node.ts';
import type { Outbound } from './outbound/contract.ts';

/** What the core hands every area: each area's own dependencies add the interfaces of the areas it uses. */
export interface Core {
  config: Config;
  database: Database;
  bus: EventBus;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  node: NodeIdentity;
  /** Every call onair makes to an address it was given. */
  outbound: Outbound;
}
