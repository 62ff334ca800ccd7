import type { PostgresService } from '@bk/local-services';
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
