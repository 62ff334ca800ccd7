/**
 * taosAdapter's `CheckAuth` for the TDengine REST test server: Basic, Taosd <token> (from
 * GET /rest/login/{user}/{password}) and Bearer <token>, with the exact 401 bodies.
 * A wrong user/password is not detected here: like taosAdapter, it surfaces later as the
 * TDengine error 855 "Authentication failure" (HTTP 200 by default).
 */
import { randomBytes } from 'node:crypto';
import { AdapterCode, AdapterError } from './errors.ts';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** The token the contract documents for root/taosdata (taosAdapter DES-encrypts user:password). */
const DOCUMENTED_ROOT_TOKEN = '/KfeAzX/f9na8qdtNZmtONryp201ma04bEl8LcvLUd7a8qdtNZmtONryp201ma04';

/** Tokens issued by /rest/login; opaque to clients. */
export class TokenStore {
  private readonly byToken = new Map<string, Credentials>();

  issue(c: Credentials): string {
    for (const [t, v] of this.byToken) if (v.user === c.user && v.password === c.password) return t;
    const token = c.user === 'root' && c.password === 'taosdata' ? DOCUMENTED_ROOT_TOKEN : randomBytes(48).toString('base64');
    this.byToken.set(token, c);
    return token;
  }

  lookup(token: string): Credentials | undefined {
    return this.byToken.get(token);
  }
}

const unauthorized = (code: number, desc: string): AdapterError => new AdapterError(401, code, desc);

/** Credentials from the request, or an AdapterError with taosAdapter's 401 body. */
export function authenticate(header: string | undefined, tokenParam: string | null, tokens: TokenStore): Credentials {
  if (header === undefined || header === '') {
    if (tokenParam !== null) {
      const c = tokens.lookup(tokenParam);
      if (c) return c;
      throw unauthorized(AdapterCode.INVALID_TAOSD_AUTH, 'invalid taosd Authorization');
    }
    throw unauthorized(AdapterCode.NO_AUTH_INFO, 'no auth info input');
  }
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  switch (scheme) {
    case 'Basic': {
      const decoded = decodeBase64Strict(value);
      const colon = decoded === undefined ? -1 : decoded.indexOf(':');
      if (decoded === undefined || colon <= 0 || colon === decoded.length - 1) {
        throw unauthorized(AdapterCode.INVALID_BASIC_AUTH, 'invalid basic Authorization');
      }
      return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    case 'Taosd': {
      const c = tokens.lookup(value);
      if (!c) throw unauthorized(AdapterCode.INVALID_TAOSD_AUTH, 'invalid taosd Authorization');
      return c;
    }
    case 'Bearer': {
      if (tokenParam !== null) throw unauthorized(AdapterCode.INVALID_AUTH_TYPE, 'invalid type of Authorization');
      const c = tokens.lookup(value);
      if (!c) throw unauthorized(AdapterCode.INVALID_TAOSD_AUTH, 'invalid taosd Authorization');
      return c;
    }
    default:
      throw unauthorized(AdapterCode.INVALID_AUTH_TYPE, 'invalid type of Authorization');
  }
}

/** Go's base64.StdEncoding.DecodeString: padding required, no stray characters. */
function decodeBase64Strict(s: string): string | undefined {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  return Buffer.from(s, 'base64').toString('utf8');
}
