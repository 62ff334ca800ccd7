import type { Readable } from 'node:stream';

/**
 * Watches an upload body for both drivers: the body may fail at any moment, even before a
 * driver reads it, so its first error is kept (an abort destroys it with the abort reason)
 * for the driver to rethrow instead of its own follow-on error.
 */
export function guardBody(body: Readable, signal: AbortSignal | undefined) {
  let failed = false;
  let error: unknown;
  body.on('error', (e: unknown) => {
    if (!failed) {
      failed = true;
      error = e;
    }
  });
  const onAbort = (): void => {
    body.destroy(signal?.reason as Error);
  };
  return {
    /** The body's own error if it failed, else `fallback`. */
    errorOr: (fallback: unknown): unknown => (failed ? error : fallback),
    get failed() {
      return failed;
    },
    onAbort,
  };
}
