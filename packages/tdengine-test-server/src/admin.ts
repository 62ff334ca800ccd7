/**
 * Test-only admin endpoints of the TDengine REST test server, under `/_test/` (no auth;
 * a real taosAdapter has nothing there):
 *
 *   GET    /_test/faults          list fault rules
 *   POST   /_test/faults          add one: {"kind":"rowLimit","limit":10,"times":1,"match":"meters"}
 *   DELETE /_test/faults[?kind=k] remove all rules (of one kind)
 *   DELETE /_test/faults/{id}     remove one rule
 *   GET    /_test/stats           counters and storage sizes
 *   POST   /_test/reset           drop all data, faults and counters
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { addFaultFromSpec, FAULT_KINDS, type FaultKind, type FaultSwitches } from './faults.ts';
import type { TdengineTestServerStats } from './stats.ts';

export interface AdminDeps {
  readonly faults: FaultSwitches;
  readonly stats: () => TdengineTestServerStats;
  readonly reset: () => void;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  return text === '' ? {} : JSON.parse(text);
}

export async function handleAdmin(req: IncomingMessage, res: ServerResponse, url: URL, deps: AdminDeps): Promise<void> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  try {
    if (path === '/_test/faults') {
      if (method === 'GET') return json(res, 200, deps.faults.list());
      if (method === 'POST') {
        const spec = await readJson(req);
        if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error('expected a JSON object');
        return json(res, 201, addFaultFromSpec(deps.faults, spec as Record<string, unknown>));
      }
      if (method === 'DELETE') {
        const kind = url.searchParams.get('kind');
        if (kind !== null && !(FAULT_KINDS as readonly string[]).includes(kind)) throw new Error(`unknown fault kind ${kind}`);
        deps.faults.clear((kind ?? undefined) as FaultKind | undefined);
        return json(res, 200, { ok: true });
      }
    }
    const one = /^\/_test\/faults\/(\d+)$/.exec(path);
    if (one && method === 'DELETE') {
      const removed = deps.faults.remove(Number(one[1]));
      return json(res, removed ? 200 : 404, { ok: removed });
    }
    if (path === '/_test/stats' && method === 'GET') return json(res, 200, deps.stats());
    if (path === '/_test/reset' && method === 'POST') {
      deps.reset();
      return json(res, 200, { ok: true });
    }
    return json(res, 404, { error: `no test endpoint ${method} ${path}` });
  } catch (err) {
    return json(res, 400, { error: (err as Error).message });
  }
}
