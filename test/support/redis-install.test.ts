/**
 * The global setup test/support/redis-install.ts, when redis-server or redis-cli is missing and
 * installing is forbidden: one message naming what to install, no test run, no follow-on errors,
 * a non-zero exit. Runs a second vitest on one small test file with the binary pointed nowhere.
 */

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
/** A file without Redis: were the run not stopped, it would pass. */
const INNER_TEST_FILE = 'test/protocol/header.test.ts';
const INNER_TIMEOUT_MS = 20_000;

interface InnerRun {
  code: number | null;
  output: string;
}

/** Variables of this run the inner one must not see: vitest's own, and the Redis binaries chosen here. */
const DROPPED = /^(VITEST|REDIS_SERVER_BIN$|REDIS_CLI_BIN$|CAA_TEST_REDIS_INSTALL$)/;

/** `vitest run INNER_TEST_FILE` with `env` on top of this environment minus {@link DROPPED}. */
function runInnerVitest(env: Record<string, string>): Promise<InnerRun> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !DROPPED.test(key)));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VITEST, 'run', INNER_TEST_FILE], {
      cwd: ROOT,
      env: { ...base, NO_COLOR: '1', FORCE_COLOR: '0', CI: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: INNER_TIMEOUT_MS,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

function expectStoppedWithOneMessage(run: InnerRun, missing: string): void {
  expect(run.code, run.output).not.toBe(0);
  expect(run.code, run.output).not.toBeNull(); // not killed by the timeout
  expect(occurrences(run.output, 'caa-auth tests: cannot run'), run.output).toBe(1);
  expect(run.output).toContain(`${missing} not found`);
  expect(run.output).toContain('apt-get install -y redis-server redis-tools');
  expect(run.output).toContain('brew install redis');
  expect(run.output).toContain('CAA_TEST_REDIS_INSTALL=never');
  // Nothing ran, nothing else failed, no stack trace.
  expect(run.output).not.toMatch(/TypeError|Unhandled|Error:|\n\s+at |Test Files|Tests\s+\d|✓|×|FAIL/);
  expect(run.output).not.toContain(INNER_TEST_FILE);
}

describe('redis-install global setup, with installing forbidden', () => {
  it('stops the run before any test with one message when neither binary is on PATH', async () => {
    const run = await runInnerVitest({ CAA_TEST_REDIS_INSTALL: 'never', PATH: '/nonexistent-caa-path' });
    expectStoppedWithOneMessage(run, 'redis-server and redis-cli');
  }, INNER_TIMEOUT_MS + 5_000);

  it('does the same when REDIS_SERVER_BIN points nowhere', async () => {
    const run = await runInnerVitest({
      CAA_TEST_REDIS_INSTALL: 'never',
      REDIS_SERVER_BIN: '/nonexistent/redis-server',
    });
    expectStoppedWithOneMessage(run, '/nonexistent/redis-server');
  }, INNER_TIMEOUT_MS + 5_000);

  it('does the same when only redis-cli is missing', async () => {
    const run = await runInnerVitest({
      CAA_TEST_REDIS_INSTALL: 'never',
      REDIS_CLI_BIN: '/nonexistent/redis-cli',
    });
    expectStoppedWithOneMessage(run, '/nonexistent/redis-cli');
  }, INNER_TIMEOUT_MS + 5_000);
});
