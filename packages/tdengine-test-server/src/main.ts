/**
 * CLI of the TDengine REST **test** server.
 *
 *   npm run tdengine:test-server -- --port 6041 [--host 127.0.0.1] [--user root] [--password taosdata]
 *     [--restful-row-limit N] [--http-code-server-error] [--no-error-timing] [--max-sql-bytes N]
 *     [--time-zone UTC] [--server-version 3.3.6.0] [--fault kind:key=value,...]...
 */
import { parseArgs } from 'node:util';
import { addFaultFromSpec, parseFaultSpec } from './faults.ts';
import { startTdengineTestServer } from './server.ts';

const USAGE = `TDengine REST TEST server (in-memory stand-in for taosAdapter; not a database)

Options:
  --port N                    listen port (default 6041; 0 = any free port)
  --host H                    listen address (default 127.0.0.1)
  --user U / --password P     accepted credentials (default root / taosdata)
  --restful-row-limit N       taosAdapter restfulRowLimit (default -1 = none)
  --http-code-server-error    map TDengine errors to HTTP 400/401/500 instead of 200
  --no-error-timing           error bodies without "timing" (taosAdapter < 3.3.3.0)
  --max-sql-bytes N           SQL length limit (default 1048576)
  --time-zone Z               server time zone for timestamp literals (default UTC)
  --server-version V          reported by SELECT SERVER_VERSION() (default 3.3.6.0)
  --fault SPEC                add a fault rule, repeatable. SPEC = kind[:key=value,...], e.g.
                                rowLimit:limit=1000
                                fetchError:afterRows=100,times=1,match=meters
                                http503:times=2
                                dropConnection:afterRows=50,times=1
                                sqlTooLong:match=INSERT
                                latency:ms=200,perChunkMs=10
                                taosError:code=11,desc=Unable to establish connection
  --quiet                     no log output
  --help
Faults can also be managed at runtime: GET/POST/DELETE /_test/faults, GET /_test/stats, POST /_test/reset.`;

function intOption(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n)) {
    process.stderr.write(`--${name}: expected an integer, got ${v}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  // a closed stdout (parent gone, `| head`) must not crash the server: EPIPE is ignored
  process.stdout.on('error', () => undefined);
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      'restful-row-limit': { type: 'string' },
      'http-code-server-error': { type: 'boolean' },
      'no-error-timing': { type: 'boolean' },
      'max-sql-bytes': { type: 'string' },
      'time-zone': { type: 'string' },
      'server-version': { type: 'string' },
      fault: { type: 'string', multiple: true },
      quiet: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const quiet = values.quiet === true;
  const server = await startTdengineTestServer({
    port: intOption('port', values.port, 6041),
    host: values.host ?? '127.0.0.1',
    ...(values.user !== undefined ? { user: values.user } : {}),
    ...(values.password !== undefined ? { password: values.password } : {}),
    restfulRowLimit: intOption('restful-row-limit', values['restful-row-limit'], -1),
    httpCodeServerError: values['http-code-server-error'] === true,
    errorTiming: values['no-error-timing'] !== true,
    maxSqlBytes: intOption('max-sql-bytes', values['max-sql-bytes'], 1024 * 1024),
    ...(values['time-zone'] !== undefined ? { timeZone: values['time-zone'] } : {}),
    ...(values['server-version'] !== undefined ? { serverVersion: values['server-version'] } : {}),
    log: quiet ? undefined : (line) => process.stdout.write(`${line}\n`),
  });
  for (const spec of values.fault ?? []) {
    const rule = addFaultFromSpec(server.faults, parseFaultSpec(spec));
    if (!quiet) process.stdout.write(`[tdengine-test-server] fault #${rule.id} ${rule.kind} ${JSON.stringify(rule.params)}\n`);
  }
  const stop = (signal: string): void => {
    if (!quiet) process.stdout.write(`[tdengine-test-server] ${signal}: stopping the TEST server\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`[tdengine-test-server] failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
