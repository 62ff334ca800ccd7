/**
 * Source URLs (`http://user:pass@host:6041`). A URL carries a password, so it is parsed here
 * once; only `describe` (`user@host:port`) ever reaches a message or a log.
 */

import { TdInvalidUrlError } from './errors.ts';

/** A parsed TDengine REST URL. `password` never leaves the client's request code. */
export interface TdTarget {
  readonly protocol: 'http:' | 'https:';
  /** Host name as the URL gives it (IPv6 in brackets). */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Path prefix in front of `/rest/sql` (a reverse proxy's mount point), no trailing slash; usually ''. */
  readonly basePath: string;
  /** `user@host:port` */
  readonly describe: string;
}

/**
 * Parses `http[s]://user:password@host[:port][/prefix]`. The port defaults to taosAdapter's
 * 6041 for http (so `:80` must not be relied on) and 443 for https; user and password are required (taosAdapter refuses requests without them) and
 * percent-decoded. Throws {@link TdInvalidUrlError}, whose message never contains the URL.
 */
export function parseTdUrl(url: string): TdTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TdInvalidUrlError('it is not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new TdInvalidUrlError(`the scheme must be http:// or https://, not ${u.protocol}//`);
  }
  if (u.search !== '' || u.hash !== '') throw new TdInvalidUrlError('it must not have a query string or fragment');
  const decode = (s: string, what: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new TdInvalidUrlError(`its ${what} is not valid percent-encoding`);
    }
  };
  const user = decode(u.username, 'user name');
  const password = decode(u.password, 'password');
  if (user === '' || password === '')
    throw new TdInvalidUrlError('it must carry a user name and a password (http://user:password@host:6041)');
  // WHATWG URLs drop a scheme's default port: http://h and http://h:80 both mean taosAdapter's 6041
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 6041;
  const basePath = u.pathname.replace(/\/+$/, '');
  return {
    protocol: u.protocol,
    host: u.hostname,
    port,
    user,
    password,
    basePath,
    describe: `${user}@${u.hostname}:${port}`,
  };
}

/** `user@host:port` of a URL, or a placeholder when it does not parse. */
export function describeTdUrl(url: string): string {
  try {
    return parseTdUrl(url).describe;
  } catch {
    return '<invalid TDengine URL>';
  }
}
