-- Up Migration

-- API keys created through the API. Only a SHA-256 of each key is stored; the key itself
-- is shown once, at creation. (Bootstrap keys from configuration are not stored here.)
CREATE TABLE api_keys (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  scopes        text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'backup', 'restore', 'admin'] AND cardinality(scopes) > 0),
  key_hash      text NOT NULL UNIQUE,
  -- The first characters of the key, to recognise it in listings.
  key_prefix    text NOT NULL,
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz,
  last_used_at  timestamptz
);

-- Down Migration
DROP TABLE api_keys;
