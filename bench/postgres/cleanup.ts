/**
 * Things to undo when the benchmark ends, fails or is interrupted (Ctrl-C): run in reverse
 * order of registration, each at most once. The harness daemons are also killed by the
 * test-utils exit hook if we die without running these.
 */
type Undo = { label: string; fn: () => Promise<void> | void };

const stack: Undo[] = [];
let running: Promise<void> | undefined;

export function onCleanup(label: string, fn: () => Promise<void> | void): () => void {
  const entry = { label, fn };
  stack.push(entry);
  return () => {
    const i = stack.indexOf(entry);
    if (i >= 0) stack.splice(i, 1);
  };
}

export function cleanup(): Promise<void> {
  running ??= (async () => {
    while (stack.length) {
      const { label, fn } = stack.pop()!;
      try {
        await Promise.race([fn(), new Promise((r) => setTimeout(r, 30_000).unref())]);
      } catch (e) {
        console.error(`cleanup ${label}: ${(e as Error).message}`);
      }
    }
  })();
  return running;
}

let interrupted = false;
export function installSignalHandlers(): void {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (interrupted) {
        console.error(`\n${sig} again: exiting now`);
        process.exit(130);
      }
      interrupted = true;
      console.error(`\n${sig}: stopping workers and services...`);
      void cleanup().finally(() => process.exit(130));
    });
  }
}
