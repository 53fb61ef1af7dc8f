/**
 * Vitest global setup, run before every other one: makes sure `redis-server` and `redis-cli` (or
 * `REDIS_SERVER_BIN` / `REDIS_CLI_BIN`) can be run, because the Redis suites start their own servers
 * and must never be skipped.
 *
 * When one is missing and the run is root on a system with `apt-get`, it installs the Debian
 * packages `redis-server` and `redis-tools`, printing one line. Otherwise (not root, no `apt-get`,
 * the install failed, or `CAA_TEST_REDIS_INSTALL=never`) it writes one message naming what to
 * install and ends the run before any test file starts, so that no suite fails on a missing binary.
 *
 * `CAA_TEST_REDIS_INSTALL`: `auto` (default) installs when it can; `never` (or `0`, `no`, `false`,
 * `off`) never installs.
 */

import { spawnSync } from 'node:child_process';

const SERVER_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const CLI_BIN = process.env.REDIS_CLI_BIN ?? 'redis-cli';
const PACKAGES = ['redis-server', 'redis-tools'];
const APT_TIMEOUT_MS = 10 * 60_000;
/** Waits for another apt/dpkg run (another test run installing the same packages) instead of failing. */
const APT_LOCK_WAIT = ['-o', 'DPkg::Lock::Timeout=300'];

function runs(bin: string, args: string[]): boolean {
  const probe = spawnSync(bin, args, { stdio: 'ignore', timeout: 10_000 });
  return probe.error === undefined && probe.status === 0;
}

/** The binaries that cannot be run, e.g. `['redis-server']`. */
function missingBinaries(): string[] {
  return [SERVER_BIN, CLI_BIN].filter((bin) => !runs(bin, ['--version']));
}

function installForbidden(): boolean {
  const mode = (process.env.CAA_TEST_REDIS_INSTALL ?? 'auto').trim().toLowerCase();
  return ['never', '0', 'no', 'false', 'off'].includes(mode);
}

/** Why the binaries cannot be installed here, or `undefined` when they can. */
function whyNoInstall(missing: string[]): string | undefined {
  if (installForbidden()) return `CAA_TEST_REDIS_INSTALL=${process.env.CAA_TEST_REDIS_INSTALL ?? ''} forbids installing`;
  const custom = missing.filter((bin) => bin !== 'redis-server' && bin !== 'redis-cli');
  if (custom.length > 0) return `${custom.join(' and ')} (from REDIS_SERVER_BIN / REDIS_CLI_BIN) is not what apt-get installs`;
  if (process.getuid?.() !== 0) return 'not running as root, so apt-get cannot install';
  if (!runs('apt-get', ['--version'])) return 'no apt-get on this system';
  return undefined;
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).map((line) => `    ${line}`).join('\n');
}

/** Runs apt-get; returns a description of the failure, or `undefined`. */
function aptGet(args: string[]): string | undefined {
  const result = spawnSync('apt-get', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: APT_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.error === undefined && result.status === 0) return undefined;
  const how = result.error !== undefined ? result.error.message : `exit code ${String(result.status)}`;
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  return `apt-get ${args[0] ?? ''} failed (${how})` + (output.trim() === '' ? '' : `; its last lines:\n${lastLines(output, 8)}`);
}

function install(): string | undefined {
  const missing = missingBinaries();
  process.stdout.write(
    `caa-auth tests: ${missing.join(' and ')} not found; ` +
      `installing ${missing.length === 1 ? 'it' : 'them'} with apt-get (Debian packages ${PACKAGES.join(', ')})…\n`,
  );
  const updateFailure = aptGet(['update', '-qq', ...APT_LOCK_WAIT]);
  const installFailure = aptGet(['install', '-y', '-qq', ...APT_LOCK_WAIT, ...PACKAGES]);
  // The package may try to start a system redis on 6379 and fail to (no init system in a
  // container): that makes apt-get exit non-zero although the binaries are there, which is enough.
  if (missingBinaries().length === 0) return undefined;
  return installFailure ?? updateFailure ?? `apt-get installed ${PACKAGES.join(', ')}, but the binaries still cannot be run`;
}

function explain(missing: string[], reason: string): string {
  return [
    '',
    `caa-auth tests: cannot run, ${missing.join(' and ')} not found (the Redis tests start their own servers).`,
    '  Install redis-server and redis-cli, then run the tests again:',
    '    Debian/Ubuntu:  apt-get install -y redis-server redis-tools',
    '    macOS:          brew install redis',
    '  or point REDIS_SERVER_BIN and REDIS_CLI_BIN at them.',
    `  Not installed automatically: ${reason}${reason.includes('\n') ? '' : '.'}`,
    '',
    '',
  ].join('\n');
}

export default function redisInstall(): void {
  const missing = missingBinaries();
  if (missing.length === 0) return;
  const reason = whyNoInstall(missing) ?? install();
  if (reason === undefined) return;
  process.stderr.write(explain(missingBinaries(), reason));
  // Throwing would make vitest 4 add an "Unhandled Error" banner and a misleading "No test files
  // found"; ending here stops the run before any test file starts, with the message above as the
  // only output besides vitest's RUN line, and exit code 1.
  process.exit(1);
}
