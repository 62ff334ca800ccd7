import { BadRequestError, type Config, PermanentJobError, type SourceConfig, redactUrl } from '@bk/core';

export interface SourceRegistry {
  names(): string[];
  /** The source, or undefined. */
  find(name: string): SourceConfig | undefined;
  /** For request handling: an unknown name is the caller's mistake (4xx). */
  forRequest(name: string): SourceConfig;
  /** For jobs: an unknown name cannot be fixed by retrying. */
  forJob(name: string): SourceConfig;
  /** URL without the password, for logs and API responses. */
  describe(name: string): string;
}

export function createSourceRegistry(cfg: Pick<Config, 'sources'>): SourceRegistry {
  const find = (name: string) => (Object.hasOwn(cfg.sources, name) ? cfg.sources[name] : undefined);
  return {
    names: () => Object.keys(cfg.sources).sort(),
    find,
    forRequest(name) {
      const s = find(name);
      if (!s)
        throw new BadRequestError(
          `unknown source "${name}"; configured: ${Object.keys(cfg.sources).join(', ') || '(none)'}`,
          'unknown_source',
        );
      return s;
    },
    forJob(name) {
      const s = find(name);
      if (!s) throw new PermanentJobError(`source "${name}" is not configured on this worker`);
      return s;
    },
    describe(name) {
      const s = find(name);
      return s ? redactUrl(s.url) : '(unknown)';
    },
  };
}

/** The URL of another database on the same PostgreSQL server. */
export function pgUrlForDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** The database a PostgreSQL URL names (default: the user name, as libpq does). */
export function pgDatabaseOf(url: string): string {
  const u = new URL(url);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  return db || decodeURIComponent(u.username) || 'postgres';
}
