import { type FormEvent, useState } from 'react';
import { ApiError, createApi, discoverScopes } from '../api.ts';
import type { Scope } from '../types.ts';

/** Asks for an API key, checks it against `/v1`, and finds what it may do. */
export function SignIn({ notice, onSignedIn }: { notice?: string | undefined; onSignedIn(key: string, scopes: Set<Scope>): void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const api = createApi(key.trim());
    try {
      await api.get('/v1/backups?limit=1');
      onSignedIn(key.trim(), await discoverScopes(api));
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? `This key was refused: ${err.message}.`
          : `Could not sign in: ${(err as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form className="card" method="post" onSubmit={(e) => void submit(e)} aria-label="sign in">
        <h1>bk backups</h1>
        <p className="muted">Sign in with an API key. It is kept in this browser tab only, until you sign out or close the tab.</p>
        {notice ? <p className="notice">{notice}</p> : null}
        <label className="field">
          API key
          <input
            type="password"
            name="api-key"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            required
            autoFocus
          />
        </label>
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={busy || key.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
