// STUB: replaced by the jobs part.
import type { Database } from '../core/db/database.ts';

export class JobStore {
  constructor(_database: Database) {}
}
