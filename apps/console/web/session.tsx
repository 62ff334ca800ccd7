import { type UseQueryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext } from 'react';
import { type Api, ApiError } from './api.ts';
import type { ScheduleKind, Scope } from './types.ts';

export interface Session {
  api: Api;
  scopes: ReadonlySet<Scope>;
  /** A 403 showed the key lacks `scope` after all: hide what needs it from now on. */
  lose(scope: Scope): void;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in console');
  return s;
}

/** Whether the signed-in key has `scope` (`admin` has every scope, every key can read). */
export function useCan(): (scope: Scope) => boolean {
  const { scopes } = useSession();
  return (scope) => scope === 'read' || scopes.has('admin') || scopes.has(scope);
}

/**
 * The scope each action needs, as ROUTE_SCOPES in apps/api/src/plugins/auth.ts says. The
 * console shows an action only to a key that has its scope.
 */
export const ACTION_SCOPES = {
  startBackup: 'backup',
  verifyBackup: 'backup',
  pinBackup: 'backup',
  cancelBackup: 'backup',
  deleteBackup: 'admin',
  downloadBackup: 'restore',
  restore: 'restore',
  cancelRestore: 'restore',
  toggleSchedule: 'admin',
  keys: 'admin',
  audit: 'admin',
} as const satisfies Record<string, Scope>;

/** Running a schedule needs the scope of what it runs (the API checks the same). */
export const RUN_SCHEDULE_SCOPES = {
  backup: 'backup',
  verify: 'backup',
  drill: 'restore',
  cleanup: 'admin',
} as const satisfies Record<ScheduleKind, Scope>;

/** GET `path` (a `/v1` path), cached under its path. */
export function useApi<T>(path: string | null, options: Omit<UseQueryOptions<T, Error>, 'queryKey' | 'queryFn'> = {}) {
  const { api } = useSession();
  return useQuery<T, Error>({
    queryKey: [path],
    queryFn: () => api.get<T>(path as string),
    enabled: path !== null && (options.enabled ?? true),
    ...options,
  });
}

/**
 * An action that needs `scope`. Afterwards the cached answers are refetched. A 403 (the
 * inferred scopes were wrong, or the key changed) hides every action of that scope.
 */
export function useAction<V, R = unknown>(scope: Scope, run: (api: Api, vars: V) => Promise<R>) {
  const session = useSession();
  const client = useQueryClient();
  return useMutation<R, Error, V>({
    mutationFn: (vars) => run(session.api, vars),
    onSettled: () => client.invalidateQueries(),
    onError: (e) => {
      if (e instanceof ApiError && e.status === 403) session.lose(scope);
    },
  });
}
