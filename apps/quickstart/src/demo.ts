import type { PostgresService } from '@bk/local-services';
import { TdClient } from '@bk/tdengine';
import { startTdengineTestServer } from '@bk/tdengine-test-server';
import pg from 'pg';

/** Sample tables for the `demo` source, created once, so a first backup has something to copy. */
export async function ensureDemoDatabase(server: Pick<PostgresService, 'url' | 'urlFor' | 'createDatabase'>): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  let exists: boolean;
  try {
    exists = (await admin.query("SELECT 1 FROM pg_database WHERE datname = 'demo'")).rowCount === 1;
  } finally {
    await admin.end();
  }
  const url = exists ? server.urlFor('demo') : await server.createDatabase('demo');
  if (exists) return url;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`
      CREATE TABLE customers (id bigserial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers(id), amount numeric(12,2) NOT NULL, placed_at timestamptz NOT NULL);
      CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, payload jsonb NOT NULL);
      CREATE INDEX orders_customer ON orders (customer_id);
      INSERT INTO customers (name, email) SELECT 'Customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 1000) g;
      INSERT INTO orders (customer_id, amount, placed_at)
        SELECT 1 + g % 1000, round((random() * 500)::numeric, 2), timestamptz '2026-01-01' + g * interval '1 minute' FROM generate_series(1, 50000) g;
      INSERT INTO events (kind, payload) SELECT 'page_view', jsonb_build_object('path', '/p/' || g, 'ms', g % 900) FROM generate_series(1, 20000) g;
    `);
  } finally {
    await c.end();
  }
  return url;
}

/**
 * The `td-demo` source: the project's TDengine REST *test server* (TDengine itself is not
 * installed here), in memory, seeded with a small meters database on every start.
 */
export async function startTdDemo(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = await startTdengineTestServer({ port: 0 });
  const client = new TdClient({ url: server.url });
  try {
    await client.exec("CREATE DATABASE power PRECISION 'ms'");
    await client.exec(
      'CREATE STABLE power.meters (ts TIMESTAMP, current FLOAT, voltage INT, phase FLOAT) TAGS (location VARCHAR(64), groupid INT)',
    );
    const start = Date.now() - 86_400_000;
    for (let d = 0; d < 10; d++) {
      const rows = Array.from(
        { length: 1000 },
        (_, i) => `(${start + i * 60_000}, ${(10 + ((i * 7 + d) % 50) / 10).toFixed(1)}, ${215 + (i % 10)}, 0.${(i % 9) + 1})`,
      );
      await client.exec(
        `INSERT INTO power.d${1001 + d} USING power.meters TAGS ('California.Site${d}', ${d % 3}) VALUES ${rows.join(' ')}`,
      );
    }
  } finally {
    client.close();
  }
  return { url: server.url, stop: () => server.close() };
}
