/**
 * `caa-auth/client` must run on any runtime: nothing reachable from `src/client/index.ts` may import
 * a Node built-in or use `Buffer`, and the built `dist/client/*` must hold no `node:` import and
 * work when loaded as an application loads it.
 */

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, inject, it } from 'vitest';
import { CAA_V2_VECTORS } from './caa-v2-vectors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(ROOT, 'src/client/index.ts');

/** Every module specifier of a file, as the TypeScript compiler sees it: imports and re-exports (type-only too), `import()`, `require()`. */
function specifiersOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
}

/** Identifiers of the code (not comments, not strings) that name a Node-only global. */
const NODE_GLOBALS = new Set(['Buffer', 'process', 'require', '__dirname', '__filename', 'global', 'setImmediate']);

function nodeGlobalsUsedIn(fileName: string, source: string): string[] {
  const sourceFile = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true);
  const used: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text)) {
      // `x.Buffer` or `{ Buffer: 1 }` name a property, not the global.
      const parent = node.parent;
      const isProperty =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isPropertyAssignment(parent) && parent.name === node) ||
        (ts.isPropertySignature(parent) && parent.name === node);
      if (!isProperty) used.push(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return used;
}

/** The files reachable from `entry` through relative imports, and every non-relative specifier met. */
function reachable(entry: string): { files: string[]; external: { file: string; specifier: string }[] } {
  const files: string[] = [];
  const external: { file: string; specifier: string }[] = [];
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop();
    if (file === undefined || files.includes(file)) continue;
    files.push(file);
    for (const specifier of specifiersOf(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) {
        external.push({ file: relative(ROOT, file), specifier });
        continue;
      }
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
      if (!existsSync(target)) throw new Error(`${relative(ROOT, file)}: cannot resolve ${specifier}`);
      pending.push(target);
    }
  }
  return { files: files.sort(), external };
}

describe('the client path is universal', () => {
  const { files, external } = reachable(ENTRY);

  it('the scan sees the client files and the pure protocol files they use, and nothing of the server side', () => {
    const names = files.map((file) => relative(ROOT, file));
    expect(names).toEqual(
      expect.arrayContaining(['src/client/index.ts', 'src/client/client.ts', 'src/client/sign.ts', 'src/client/http-signatures.ts', 'src/protocol/string-to-sign.ts']),
    );
    for (const serverOnly of ['src/protocol/header.ts', 'src/protocol/sign.ts', 'src/protocol/verify.ts', 'src/errors.ts', 'src/index.ts']) {
      expect(names).not.toContain(serverOnly);
    }
    // The server's caa-v2 parser and verifier: the client has its own small serializer.
    expect(names.filter((name) => name.startsWith('src/protocol/http-signatures'))).toEqual([]);
  });

  it('imports nothing but relative modules (no node:*, no bare built-ins, no packages)', () => {
    expect(external).toEqual([]);
  });

  it('uses no Node-only globals (Buffer, process, require, __dirname, …)', () => {
    const offenders = files.flatMap((file) =>
      nodeGlobalsUsedIn(file, readFileSync(file, 'utf8')).map((name) => `${relative(ROOT, file)}: ${name}`),
    );
    expect(offenders).toEqual([]);
  });

  it('the scanner itself catches what it must', () => {
    expect(
      specifiersOf(
        `/** import { no } from 'in-a-comment'; */\nimport { x } from 'node:crypto';\nimport type { Y } from "./y.js";\nexport { z } from './z.js';\nimport 'side';\nconst m = await import('node:fs');\nconst c = require('fs');`,
      ),
    ).toEqual(['node:crypto', './y.js', './z.js', 'side', 'node:fs', 'fs']);
    expect(nodeGlobalsUsedIn('a.ts', '// Buffer in a comment\nconst b = Buffer.from(x); const s = "process";')).toEqual(['Buffer']);
    expect(nodeGlobalsUsedIn('a.ts', '/** Buffer */ const o = { Buffer: 1 }; o.Buffer; type T = { process: 1 };')).toEqual([]);
  });
});

const distBuildError = inject('distBuildError');

function dist(file: string): string {
  if (distBuildError !== null) throw new Error(distBuildError);
  return join(ROOT, 'dist/client', file);
}

/** `import()` by Node's own ESM loader, not Vite's module runner. */
const nativeImport = createRequire(import.meta.url)('../support/native-import.cjs') as (specifier: string) => Promise<unknown>;

const EXPECTED_EXPORTS = [
  'CAA_ACTIONS',
  'CAA_PATHS',
  'CAA_V2_ALG',
  'CAA_V2_KEY_INFO',
  'CAA_V2_LABEL',
  'CAA_V2_NONCE_BYTES',
  'CAA_V2_TAG',
  'CLOCK_SKEW_TOLERANCE_MS',
  'CaaClientError',
  'CaaClock',
  'DATE_HEADER_RESOLUTION_MS',
  'DEFAULT_REFRESH_AHEAD_MS',
  'MAX_CLOCK_OFFSET_MS',
  'computeSignatureAsync',
  'createCaaClient',
  'isCaaClientError',
  'parseHttpDate',
  'signCaaHeaderAsync',
  'signCaaV2Async',
];

const V1 = {
  action: 'user:personal-profile',
  apiKey: 'SzggU8dj2xcegXfZVx1ucm/hKgre8DIckHPoxkkn+n0=',
  secretKey: 'fz/THFXY6gbW7eWh+qKtefvgY49IR2W4v6lpTNimsd0=',
  timestamp: 1494908261599,
  header:
    'Caa U3pnZ1U4ZGoyeGNlZ1hmWlZ4MXVjbS9oS2dyZThESWNrSFBveGtrbituMD06VkhUbllqc2NPTnJHWE11bWFHQ2h2VitRK1hvPSAxNDk0OTA4MjYxNTk5',
} as const;

type Built = {
  signCaaHeaderAsync: (input: Omit<typeof V1, 'header'>) => Promise<string>;
  signCaaV2Async: (input: { method: string; url: string; body: string | undefined; apiKey: string; secretKey: string; created: number; nonce: string }) => Promise<Record<string, string>>;
} & Record<string, unknown>;

/** Signs the caa-v2 vectors S1 and S2 with a build and expects the spec's headers byte for byte. */
async function expectCaaV2Vectors(built: Built): Promise<void> {
  for (const v of CAA_V2_VECTORS) {
    const { method, url, body, apiKey, secretKey, created, nonce } = v;
    const expected: Record<string, string> = { 'signature-input': v.signatureInput, signature: v.signature };
    if (v.contentDigest !== undefined) expected['content-digest'] = v.contentDigest;
    expect(await built.signCaaV2Async({ method, url, body, apiKey, secretKey, created, nonce }), v.name).toStrictEqual(expected);
  }
}

describe('the built client (dist/client)', () => {
  it('index.js and index.cjs hold no node: import, no require of a built-in, no Buffer', () => {
    for (const file of ['index.js', 'index.cjs']) {
      const code = readFileSync(dist(file), 'utf8');
      expect(code, file).not.toMatch(/['"]node:/);
      expect(code, file).not.toMatch(/\brequire\(\s*['"](?!\.)/);
      expect(code, file).not.toMatch(/\bBuffer\b/);
    }
  });

  it('index.js loads in Node’s own ESM loader and signs V1, and the caa-v2 vectors S1 and S2', async () => {
    const built = (await nativeImport(pathToFileURL(dist('index.js')).href)) as Built;
    expect(Object.keys(built).sort()).toEqual(EXPECTED_EXPORTS);
    await expect(built.signCaaHeaderAsync(V1)).resolves.toBe(V1.header);
    await expectCaaV2Vectors(built);
  });

  it('index.cjs loads with require and signs V1, and the caa-v2 vectors S1 and S2', async () => {
    const built = createRequire(import.meta.url)(dist('index.cjs')) as Built;
    expect(Object.keys(built).sort()).toEqual(EXPECTED_EXPORTS);
    await expect(built.signCaaHeaderAsync(V1)).resolves.toBe(V1.header);
    await expectCaaV2Vectors(built);
  });

  it('the declarations are emitted for both module systems', () => {
    for (const file of ['index.d.ts', 'index.d.cts']) {
      const declarations = readFileSync(dist(file), 'utf8');
      expect(declarations, file).toContain('createCaaClient');
      expect(declarations, file).not.toMatch(/['"]node:/);
    }
  });
});
