import type { Scope } from './types.ts';

/** An error answer of the API (`{ error: { code, message } }`), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Api {
  get<T>(path: string): Promise<T>;
  send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** A binary answer (a backup's zip), read whole: the key goes in a header, never in a URL. */
  blob(path: string): Promise<{ blob: Blob; filename: string | null }>;
}

/**
 * The one way the console talks to the server: same origin, under `/v1` only, the key as
 * `Authorization: Bearer`, no cookies, no redirects followed. `onUnauthorized` runs on a 401
 * (a key revoked while signed in).
 */
export function createApi(key: string, onUnauthorized: () => void = () => {}): Api {
  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    if (!path.startsWith('/v1/')) throw new Error(`the console calls /v1 only, not ${path}`);
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
      });
    } catch (e) {
      throw new ApiError(0, 'network', `the API did not answer (${(e as Error).message})`);
    }
    if (res.ok) return res;
    let code = `http_${res.status}`;
    let message = `${method} ${path.split('?')[0]}: HTTP ${res.status}`;
    try {
      const parsed = (await res.json()) as { error?: { code?: string; message?: string } };
      if (parsed.error?.code) code = parsed.error.code;
      if (parsed.error?.message) message = parsed.error.message;
    } catch {
      // Not JSON: keep the generic message.
    }
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, code, message);
  };
  return {
    get: async <T>(path: string) => (await (await call('GET', path)).json()) as T,
    send: async <T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) =>
      (await (await call(method, path, body)).json()) as T,
    async blob(path) {
      const res = await call('GET', path);
      const disposition = res.headers.get('content-disposition') ?? '';
      return { blob: await res.blob(), filename: /filename="([^"]+)"/.exec(disposition)?.[1] ?? null };
    },
  };
}

/** The scopes of a key, as the API reports them (`GET /v1/whoami`). */
export async function discoverScopes(api: Api): Promise<Set<Scope>> {
  const me = await api.get<{ actor: string; scopes: Scope[] }>('/v1/whoami');
  return new Set<Scope>(['read', ...me.scopes]);
}

const KEY_ITEM = 'bk.console.apiKey';

/** The key lives in this tab's sessionStorage only: gone when the tab closes, never in a URL or localStorage. */
export const storedKey = {
  get: (): string | null => sessionStorage.getItem(KEY_ITEM),
  set: (key: string) => sessionStorage.setItem(KEY_ITEM, key),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};
