// STUB: replaced by the scheduler part.
import type { Database } from '../core/db/database.ts';

export class WorkflowStore {
  constructor(_database: Database) {}
}
