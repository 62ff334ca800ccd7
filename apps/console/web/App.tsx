import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { ApiError, createApi, discoverScopes, storedKey } from './api.ts';
import { Loading } from './components.tsx';
import { Audit } from './pages/Audit.tsx';
import { BackupDetail } from './pages/BackupDetail.tsx';
import { Backups } from './pages/Backups.tsx';
import { Keys } from './pages/Keys.tsx';
import { Overview } from './pages/Overview.tsx';
import { RestoreWizard } from './pages/RestoreWizard.tsx';
import { RestoreDetailPage, Restores } from './pages/Restores.tsx';
import { Schedules } from './pages/Schedules.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { href, useRoute } from './router.ts';
import { ACTION_SCOPES, type Session, SessionContext, useCan, useSession } from './session.tsx';
import { SCOPES, type Scope } from './types.ts';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      // 4xx answers are final; a network error or 5xx is tried twice more.
      retry: (n, e) => !(e instanceof ApiError && e.status >= 400 && e.status < 500) && n < 2,
    },
  },
});

const PAGES = [
  { path: '', label: 'Overview' },
  { path: 'backups', label: 'Backups' },
  { path: 'restore', label: 'Restore', scope: ACTION_SCOPES.restore },
  { path: 'restores', label: 'Restores' },
  { path: 'schedules', label: 'Schedules' },
  { path: 'audit', label: 'Audit log', scope: ACTION_SCOPES.audit },
  { path: 'keys', label: 'API keys', scope: ACTION_SCOPES.keys },
] as const satisfies readonly { path: string; label: string; scope?: Scope }[];

function Page() {
  const { path } = useRoute();
  const can = useCan();
  const [first = '', id] = path;
  const page = PAGES.find((p) => p.path === first);
  if (!page)
    return (
      <p>
        No such page. <a href={href([])}>Overview</a>
      </p>
    );
  if ('scope' in page && !can(page.scope)) return <p className="notice">This key lacks the “{page.scope}” scope this page needs.</p>;
  switch (page.path) {
    case '':
      return <Overview />;
    case 'backups':
      return id ? <BackupDetail key={id} id={id} /> : <Backups />;
    case 'restore':
      return <RestoreWizard />;
    case 'restores':
      return id ? <RestoreDetailPage key={id} id={id} /> : <Restores />;
    case 'schedules':
      return <Schedules />;
    case 'audit':
      return <Audit />;
    case 'keys':
      return <Keys />;
  }
}

function Shell({ lost }: { lost: Scope[] }) {
  const { path } = useRoute();
  const session = useSession();
  const can = useCan();
  const scopes = SCOPES.filter((s) => can(s));
  return (
    <>
      <header className="top">
        <strong className="brand">bk backups</strong>
        <nav>
          {PAGES.filter((p) => !('scope' in p) || can(p.scope)).map((p) => (
            <a key={p.path} href={href(p.path ? [p.path] : [])} className={(path[0] ?? '') === p.path ? 'current' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <span className="who" title="what this key may do">
          key scopes: {scopes.join(', ')}
        </span>
        <button type="button" onClick={session.signOut}>
          Sign out
        </button>
      </header>
      {lost.length ? (
        <p className="notice banner">
          The API refused an action: this key lacks the {lost.map((s) => `“${s}”`).join(', ')} scope. Actions that need it are hidden now.
        </p>
      ) : null}
      <main>
        <Page />
      </main>
    </>
  );
}

interface SignedIn {
  key: string;
  scopes: Set<Scope>;
}

export function App() {
  const [signedIn, setSignedIn] = useState<SignedIn | null>(null);
  const [restoring, setRestoring] = useState(() => storedKey.get() !== null);
  const [notice, setNotice] = useState<string>();
  const [lost, setLost] = useState<Scope[]>([]);

  const signOut = (why?: string) => {
    storedKey.clear();
    queryClient.clear();
    setSignedIn(null);
    setLost([]);
    setNotice(why);
  };

  // A reload keeps the tab's key: find its scopes again.
  useEffect(() => {
    const key = storedKey.get();
    if (!key) return;
    discoverScopes(createApi(key))
      .then((scopes) => setSignedIn({ key, scopes }))
      .catch(() => signOut('Your key was refused; sign in again.'))
      .finally(() => setRestoring(false));
  }, []);

  const session = useMemo<Session | null>(() => {
    if (!signedIn) return null;
    return {
      api: createApi(signedIn.key, () => signOut('The API no longer accepts this key (revoked?); sign in again.')),
      scopes: new Set([...signedIn.scopes].filter((s) => !lost.includes(s))),
      lose: (scope) => setLost((l) => (l.includes(scope) ? l : [...l, scope])),
      signOut: () => signOut(),
    };
  }, [signedIn, lost]);

  if (restoring) return <Loading />;
  if (!session)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(key, scopes) => {
          storedKey.set(key);
          setNotice(undefined);
          setSignedIn({ key, scopes });
        }}
      />
    );
  return (
    <QueryClientProvider client={queryClient}>
      <SessionContext.Provider value={session}>
        <Shell lost={lost} />
      </SessionContext.Provider>
    </QueryClientProvider>
  );
}
