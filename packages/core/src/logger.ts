import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

/**
 * Structured JSON logs. Redaction is a second line of defence: secrets should never be
 * passed to a logger at all, but if an object carrying one slips in, these paths are
 * censored. URLs are logged only through `redactUrl`.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'url',
  '*.url',
  'secretAccessKey',
  '*.secretAccessKey',
  'apiKey',
  '*.apiKey',
  'authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'masterKey',
  '*.masterKey',
  'dataKey',
  '*.dataKey',
];

export function createLogger(opts: LoggerOptions & { name: string }, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...opts,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** `postgres://user:secret@host/db` -> `postgres://user:***@host/db`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}

export type { Logger };
