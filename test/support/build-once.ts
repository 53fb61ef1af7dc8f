/**
 * Vitest global setup: builds `dist/` with tsup once per test run when it is missing or older than
 * its sources, so that the tests of the built files test the package users would install.
 *
 * A failed build does not abort the whole run (other suites do not need `dist/`): the error is
 * handed to the tests through `inject('distBuildError')`, and the tests of `dist/` fail with it.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Output of the failed `npx tsup`, or `null` when `dist/` is up to date. */
    distBuildError: string | null;
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Files the build writes; `dist/` is stale when one is missing. */
const OUTPUTS = [
  'dist/index.js',
  'dist/index.cjs',
  'dist/index.d.ts',
  'dist/index.d.cts',
  'dist/client/index.js',
  'dist/client/index.cjs',
  ...['express', 'fastify', 'hono'].flatMap((name) => [`dist/integrations/${name}.js`, `dist/integrations/${name}.cjs`]),
];

/** Inputs of the build besides everything under `src/`. */
const CONFIG_INPUTS = ['tsup.config.ts', 'tsconfig.json', 'package.json'];

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted file shows only as a newer directory
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function isDistStale(): boolean {
  const outputs = OUTPUTS.map((file) => join(ROOT, file));
  if (!outputs.every((file) => existsSync(file))) return true;
  const oldestOutput = Math.min(...outputs.map((file) => statSync(file).mtimeMs));
  const inputs = [join(ROOT, 'src'), ...CONFIG_INPUTS.map((file) => join(ROOT, file))].filter((file) => existsSync(file));
  const newestInput = Math.max(...inputs.map(newestMtime));
  return oldestOutput < newestInput;
}

function describeFailure(err: unknown): string {
  if (err instanceof Error) {
    const { stdout, stderr } = err as Error & { stdout?: unknown; stderr?: unknown };
    return [err.message, String(stdout ?? ''), String(stderr ?? '')].filter((part) => part !== '').join('\n');
  }
  return String(err);
}

export default function buildOnce(project: TestProject): void {
  let distBuildError: string | null = null;
  if (process.env.CAA_FORCE_BUILD === '1' || isDistStale()) {
    try {
      execFileSync('npx', ['tsup'], {
        cwd: ROOT,
        stdio: 'pipe',
        encoding: 'utf8',
        shell: process.platform === 'win32',
      });
    } catch (err) {
      distBuildError = `npx tsup failed:\n${describeFailure(err)}`;
    }
  }
  project.provide('distBuildError', distBuildError);
}
