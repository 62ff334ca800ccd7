/** Counters of the TDengine REST test server, for tests and benchmarks. */
import type { EngineStats } from './engine/engine.ts';
import type { FaultKind } from './faults.ts';

export interface TdengineTestServerStats {
  /** HTTP requests on any route */
  readonly requests: number;
  /** SQL statements received on /rest/sql (including failed ones) */
  readonly statements: number;
  /** SELECT / SHOW / DESCRIBE statements that produced a row result */
  readonly queries: number;
  readonly inserts: number;
  /** rows written by INSERT (overwrites included) */
  readonly rowsInserted: number;
  /** rows sent in query responses */
  readonly rowsReturned: number;
  /** responses carrying a non-zero code (any HTTP status) */
  readonly errors: number;
  /** responses currently being streamed */
  readonly activeResponses: number;
  readonly faultsFired: Readonly<Record<FaultKind, number>>;
  /** the most recent statements (up to 50, each cut at 500 characters), oldest first */
  readonly recentSql: readonly string[];
  readonly storage: EngineStats;
}

const HISTORY = 50;

export class StatsCollector {
  requests = 0;
  statements = 0;
  queries = 0;
  inserts = 0;
  rowsInserted = 0;
  rowsReturned = 0;
  errors = 0;
  activeResponses = 0;
  private readonly history: string[] = [];

  recordSql(sql: Buffer): void {
    this.statements++;
    // decoded from the bytes: a slice of a 1 MiB string would keep all of it alive
    this.history.push(sql.length > 500 ? `${sql.toString('utf8', 0, 500)}...` : sql.toString('utf8'));
    if (this.history.length > HISTORY) this.history.shift();
  }

  snapshot(storage: EngineStats, faultsFired: Record<FaultKind, number>): TdengineTestServerStats {
    return {
      requests: this.requests,
      statements: this.statements,
      queries: this.queries,
      inserts: this.inserts,
      rowsInserted: this.rowsInserted,
      rowsReturned: this.rowsReturned,
      errors: this.errors,
      activeResponses: this.activeResponses,
      faultsFired,
      recentSql: [...this.history],
      storage,
    };
  }

  reset(): void {
    this.requests = 0;
    this.statements = 0;
    this.queries = 0;
    this.inserts = 0;
    this.rowsInserted = 0;
    this.rowsReturned = 0;
    this.errors = 0;
    this.history.length = 0;
  }
}
