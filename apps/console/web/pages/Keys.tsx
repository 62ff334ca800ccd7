import { useState } from 'react';
import { ConfirmDialog, ErrorBox, Loading, Section } from '../components.tsx';
import { when } from '../format.ts';
import { ACTION_SCOPES, useAction, useApi } from '../session.tsx';
import { type ApiKey, SCOPES, type Scope } from '../types.ts';

/** API keys (admin): list, create (the key is shown once), revoke. */
export function Keys() {
  const list = useApi<{ items: ApiKey[] }>('/v1/keys');
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['read']);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const create = useAction(ACTION_SCOPES.keys, (api, body: { name: string; scopes: Scope[] }) =>
    api.send<ApiKey & { key: string }>('POST', '/v1/keys', body),
  );
  const revoke = useAction(ACTION_SCOPES.keys, (api, id: string) => api.send('DELETE', `/v1/keys/${encodeURIComponent(id)}`));

  return (
    <>
      <Section title="API keys">
        <ErrorBox error={list.error ?? revoke.error} />
        {!list.data ? (
          <Loading />
        ) : (
          <table className="compact">
            <thead>
              <tr>
                <th>Name</th>
                <th>Key starts</th>
                <th>Scopes</th>
                <th>Created</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>{k.prefix}…</code>
                  </td>
                  <td>{k.scopes.join(', ')}</td>
                  <td>
                    {when(k.createdAt)} <span className="muted">by {k.createdBy}</span>
                  </td>
                  <td>{when(k.lastUsedAt)}</td>
                  <td>
                    {k.revokedAt ? (
                      <span className="muted">revoked {when(k.revokedAt)}</span>
                    ) : (
                      <button type="button" className="danger" onClick={() => setRevoking(k)}>
                        Revoke…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p className="muted">Keys given in API_KEYS (configuration) are not listed: they have every scope.</p>
      </Section>
      <Section title="New key">
        <form
          aria-label="new key"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate({ name: name.trim(), scopes }, { onSuccess: () => setName('') });
          }}
        >
          <div className="row">
            <label className="field">
              Name
              <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} />
            </label>
            {SCOPES.map((s) => (
              <label key={s} className="check">
                <input
                  type="checkbox"
                  checked={scopes.includes(s)}
                  onChange={() => setScopes(scopes.includes(s) ? scopes.filter((x) => x !== s) : [...scopes, s])}
                />{' '}
                {s}
              </label>
            ))}
            <button type="submit" className="primary" disabled={!name.trim() || scopes.length === 0 || create.isPending}>
              Create key
            </button>
          </div>
        </form>
        <ErrorBox error={create.error} />
        {create.data ? (
          <p className="notice">
            Key for <strong>{create.data.name}</strong>, shown this once: <code className="secret">{create.data.key}</code>
          </p>
        ) : null}
      </Section>
      {revoking ? (
        <ConfirmDialog
          title="Revoke this key?"
          confirmLabel="Revoke key"
          danger
          onCancel={() => setRevoking(null)}
          onConfirm={() => {
            revoke.mutate(revoking.id);
            setRevoking(null);
          }}
        >
          <p>
            Key <strong>{revoking.name}</strong> ({revoking.prefix}…, scopes {revoking.scopes.join(', ')}) stops working at once, everywhere
            it is used.
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
