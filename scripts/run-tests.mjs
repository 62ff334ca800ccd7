#!/usr/bin/env node
// `npm test`: runs every Vitest project, then prints one summary line
// `tests: N passed, N failed, N skipped` and exits with Vitest's code, or with 1 if no test
// ran at all. Extra arguments go to Vitest (e.g. `npm test -- --project unit`).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const reportDir = mkdtempSync(join(tmpdir(), 'bk-vitest-report-'));
const reportFile = join(reportDir, 'report.json');

const child = spawn(
  process.execPath,
  [
    join(root, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile=${reportFile}`,
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: 'inherit' },
);

// Ctrl-C already reaches Vitest through the terminal's process group (passing it on would
// make a second, forced interrupt that skips the global teardown); other signals are passed on.
process.on('SIGINT', () => {});
for (const signal of ['SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}

const exitCode = await new Promise((resolve) => {
  child.on('error', (error) => {
    console.error(`cannot run vitest: ${error.message}`);
    resolve(1);
  });
  child.on('exit', (code, signal) => resolve(code ?? 128 + (constants.signals[signal] ?? 0)));
});

let counts = { passed: 0, failed: 0, skipped: 0 };
try {
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  counts = {
    passed: report.numPassedTests,
    failed: report.numFailedTests,
    skipped: report.numPendingTests + report.numTodoTests,
  };
} catch (error) {
  console.error(`no test report from vitest (${error.message})`);
} finally {
  rmSync(reportDir, { recursive: true, force: true });
}

console.log(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
const ran = counts.passed + counts.failed;
process.exit(exitCode !== 0 ? exitCode : ran === 0 || counts.failed > 0 ? 1 : 0);
