/**
 * Switchable faults of the TDengine REST **test** server.
 *
 * Each rule fires for requests whose SQL contains `match` (a case-sensitive substring;
 * any SQL when absent), either every time or a given number of `times`. Several rules of
 * one kind are tried in the order they were added; the first live matching rule fires.
 *
 * | kind           | effect                                                                       |
 * |----------------|------------------------------------------------------------------------------|
 * | rowLimit       | taosAdapter's `restfulRowLimit`: result silently cut at `limit` rows, code 0 |
 * | fetchError     | fetch fails after `afterRows` rows; the JSON still ends with code 0          |
 * | http503        | HTTP 503 with the JSON string body `"memory exceeds threshold"`              |
 * | dropConnection | socket destroyed after `afterRows` rows (or before executing)                |
 * | sqlTooLong     | the statement is rejected with 537 "SQL statement too long"                  |
 * | latency        | delay `ms` before executing, and `perChunkMs` between streamed chunks        |
 * | taosError      | the statement fails with a given TDengine `code` / `desc` (HTTP 200)         |
 */

export interface FaultParams {
  rowLimit: { readonly limit: number };
  fetchError: { readonly afterRows: number };
  http503: { readonly body: string };
  dropConnection: { readonly afterRows: number; readonly beforeExecute: boolean };
  sqlTooLong: Record<string, never>;
  latency: { readonly ms: number; readonly perChunkMs: number };
  taosError: { readonly code: number; readonly desc: string };
}

export type FaultKind = keyof FaultParams;

export const FAULT_KINDS: readonly FaultKind[] = [
  'rowLimit',
  'fetchError',
  'http503',
  'dropConnection',
  'sqlTooLong',
  'latency',
  'taosError',
];

export interface FaultTrigger {
  /** How many times the rule fires; absent = always. */
  readonly times?: number;
  /** Fires only for SQL containing this substring. */
  readonly match?: string;
}

export interface FaultRule<K extends FaultKind = FaultKind> {
  readonly id: number;
  readonly kind: K;
  readonly params: FaultParams[K];
  readonly match: string | undefined;
  /** Remaining firings; null = unlimited. */
  remaining: number | null;
  fired: number;
}

const DEFAULT_503_BODY = '"memory exceeds threshold"';

export class FaultSwitches {
  private rules: FaultRule[] = [];
  private nextId = 1;
  private readonly firedByKind = new Map<FaultKind, number>();

  add<K extends FaultKind>(kind: K, params: FaultParams[K], trigger: FaultTrigger = {}): FaultRule<K> {
    if (trigger.times !== undefined && (!Number.isInteger(trigger.times) || trigger.times < 1)) {
      throw new Error(`fault ${kind}: times must be a positive integer`);
    }
    const rule: FaultRule<K> = {
      id: this.nextId++,
      kind,
      params,
      match: trigger.match,
      remaining: trigger.times ?? null,
      fired: 0,
    };
    this.rules.push(rule as unknown as FaultRule);
    return rule;
  }

  /** taosAdapter's restfulRowLimit: results are cut at `limit` rows without any flag. */
  rowLimit(limit: number, trigger?: FaultTrigger): FaultRule<'rowLimit'> {
    return this.add('rowLimit', { limit: nonNegative('rowLimit', 'limit', limit) }, trigger);
  }

  /** A fetch error after `afterRows` rows: the response still ends `],"rows":n}` with code 0. */
  fetchError(afterRows = 0, trigger?: FaultTrigger): FaultRule<'fetchError'> {
    return this.add('fetchError', { afterRows: nonNegative('fetchError', 'afterRows', afterRows) }, trigger);
  }

  /** HTTP 503; `body` is sent as is (default the JSON string "memory exceeds threshold"). */
  http503(trigger?: FaultTrigger, body: string = DEFAULT_503_BODY): FaultRule<'http503'> {
    return this.add('http503', { body }, trigger);
  }

  /** Destroys the socket after `afterRows` rows were sent, or before executing the SQL. */
  dropConnection(opts: { afterRows?: number; beforeExecute?: boolean } = {}, trigger?: FaultTrigger): FaultRule<'dropConnection'> {
    return this.add(
      'dropConnection',
      { afterRows: nonNegative('dropConnection', 'afterRows', opts.afterRows ?? 0), beforeExecute: opts.beforeExecute ?? false },
      trigger,
    );
  }

  /** Rejects matching statements as if they were over 1 MiB (code 537). */
  sqlTooLong(trigger?: FaultTrigger): FaultRule<'sqlTooLong'> {
    return this.add('sqlTooLong', {}, trigger);
  }

  /** Artificial latency before execution, and optionally between streamed chunks. */
  latency(ms: number, trigger?: FaultTrigger, perChunkMs = 0): FaultRule<'latency'> {
    return this.add(
      'latency',
      { ms: nonNegative('latency', 'ms', ms), perChunkMs: nonNegative('latency', 'perChunkMs', perChunkMs) },
      trigger,
    );
  }

  /** Fails matching statements with a TDengine error (HTTP 200, `{"code","desc"}`). */
  taosError(code: number, desc: string, trigger?: FaultTrigger): FaultRule<'taosError'> {
    return this.add('taosError', { code: code & 0xffff, desc }, trigger);
  }

  /** True when no rule can fire any more. */
  isEmpty(): boolean {
    return !this.rules.some((r) => r.remaining !== 0);
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  clear(kind?: FaultKind): void {
    this.rules = kind === undefined ? [] : this.rules.filter((r) => r.kind !== kind);
  }

  /** Snapshot of all rules, exhausted ones included. */
  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** Firings per kind since the last reset. */
  firedCounts(): Record<FaultKind, number> {
    const out = {} as Record<FaultKind, number>;
    for (const k of FAULT_KINDS) out[k] = this.firedByKind.get(k) ?? 0;
    return out;
  }

  resetCounters(): void {
    this.firedByKind.clear();
  }

  /** Parameters of the rule of `kind` that would fire for `sql`, without consuming it. */
  peek<K extends FaultKind>(kind: K, sql: string): FaultParams[K] | undefined {
    return this.find(kind, sql)?.params as FaultParams[K] | undefined;
  }

  /** Fires (consumes) the first live rule of `kind` matching `sql`. */
  take<K extends FaultKind>(kind: K, sql: string): FaultParams[K] | undefined {
    const rule = this.find(kind, sql);
    if (!rule) return undefined;
    if (rule.remaining !== null) rule.remaining--;
    rule.fired++;
    this.firedByKind.set(kind, (this.firedByKind.get(kind) ?? 0) + 1);
    return rule.params as FaultParams[K];
  }

  private find(kind: FaultKind, sql: string): FaultRule | undefined {
    return this.rules.find((r) => r.kind === kind && r.remaining !== 0 && (r.match === undefined || sql.includes(r.match)));
  }
}

function nonNegative(kind: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new Error(`fault ${kind}: ${name} must be a non-negative integer`);
  return v;
}

/**
 * Adds a rule from a plain description, as received by the admin endpoint
 * (`{"kind":"rowLimit","limit":10,"times":1,"match":"meters"}`) or the CLI
 * (`rowLimit:limit=10,times=1,match=meters`).
 */
export function addFaultFromSpec(faults: FaultSwitches, spec: Readonly<Record<string, unknown>>): FaultRule {
  const kind = spec.kind;
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`unknown fault kind ${String(kind)}; expected one of ${FAULT_KINDS.join(', ')}`);
  }
  const num = (key: string, dflt?: number): number => {
    const v = spec[key];
    if (v === undefined) {
      if (dflt === undefined) throw new Error(`fault ${kind}: ${key} is required`);
      return dflt;
    }
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n)) throw new Error(`fault ${kind}: ${key} must be a number`);
    return n;
  };
  const known = new Set(['kind', 'times', 'match', 'limit', 'afterRows', 'body', 'beforeExecute', 'ms', 'perChunkMs', 'code', 'desc']);
  for (const k of Object.keys(spec)) if (!known.has(k)) throw new Error(`fault ${kind}: unknown field ${k}`);
  const trigger: FaultTrigger = {
    ...(spec.times !== undefined ? { times: num('times') } : {}),
    ...(spec.match !== undefined ? { match: String(spec.match) } : {}),
  };
  switch (kind as FaultKind) {
    case 'rowLimit':
      return faults.rowLimit(num('limit'), trigger);
    case 'fetchError':
      return faults.fetchError(num('afterRows', 0), trigger);
    case 'http503':
      return faults.http503(trigger, spec.body === undefined ? DEFAULT_503_BODY : String(spec.body));
    case 'dropConnection':
      return faults.dropConnection(
        { afterRows: num('afterRows', 0), beforeExecute: spec.beforeExecute === true || spec.beforeExecute === 'true' },
        trigger,
      );
    case 'sqlTooLong':
      return faults.sqlTooLong(trigger);
    case 'latency':
      return faults.latency(num('ms'), trigger, num('perChunkMs', 0));
    case 'taosError':
      return faults.taosError(num('code'), spec.desc === undefined ? 'injected error' : String(spec.desc), trigger);
  }
}

/** Parses the CLI form `kind[:key=value,...]`. */
export function parseFaultSpec(text: string): Record<string, string> {
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const out: Record<string, string> = { kind };
  if (colon >= 0) {
    for (const part of text.slice(colon + 1).split(',')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq < 0) throw new Error(`fault spec "${text}": expected key=value, got "${part}"`);
      out[part.slice(0, eq)] = part.slice(eq + 1);
    }
  }
  return out;
}
