/**
 * The README is the package page: its TypeScript blocks must compile as written against the
 * package users install, and its links must work where npm shows it.
 *
 * Every ```ts block is written as a module of its own into a temporary project whose
 * `node_modules/caa-auth` is a symlink to this repository, so `caa-auth` and its subpaths resolve
 * through package.json `exports` to the built `dist/` (the global setup builds it), never to `src/`.
 * The other packages (express, fastify, hono, ioredis, @types/node…) are symlinked from the
 * repository's node_modules. The compiler options are the repository's (strict,
 * exactOptionalPropertyTypes, noUncheckedIndexedAccess, verbatimModuleSyntax) without its `paths`
 * and without the unused-name checks (a snippet may show a value it does not use). A block whose
 * first line is `// fragment` is not compiled; none may be in a quick start.
 */

import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, inject, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const FRAGMENT_MARKER = '// fragment';
const REPOSITORY_URL = 'https://github.com/caa-auth/caa-auth';

interface CodeBlock {
  /** The fence's info string: `ts`, `sh`, … (empty for a bare fence). */
  readonly lang: string;
  /** 1-based line of the markdown file where the block's first code line is. */
  readonly line: number;
  readonly code: string;
  /** The `##` heading the block is under. */
  readonly section: string;
  /** Its first line is the fragment marker: documentation, not compiled. */
  readonly fragment: boolean;
}

/** The fenced code blocks of a markdown text, with where they are. */
function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';
    const heading = /^## +(.*)$/.exec(text);
    if (heading !== null) section = heading[1] ?? '';
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(text);
    if (open === null) continue;
    const fence = open[1] ?? '```';
    const closing = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    const start = i + 1;
    let end = start;
    while (end < lines.length && !closing.test(lines[end] ?? '')) end++;
    const code = lines.slice(start, end).join('\n');
    blocks.push({
      lang: (open[2] ?? '').toLowerCase(),
      line: start + 1,
      code,
      section,
      fragment: (lines[start] ?? '').trim().startsWith(FRAGMENT_MARKER),
    });
    i = end;
  }
  return blocks;
}

const isTypeScript = (block: CodeBlock): boolean => block.lang === 'ts' || block.lang === 'typescript';

/** The repository's compiler options, for code outside the repository. */
function blockCompilerOptions(): ts.CompilerOptions {
  const configPath = join(ROOT, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  if (error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, configPath);
  // `paths` map caa-auth to src/: a user's project resolves it through node_modules and exports.
  const { paths: _paths, baseUrl: _baseUrl, pathsBasePath: _pathsBasePath, configFilePath: _configFilePath, ...rest } = options;
  return { ...rest, noEmit: true, noUnusedLocals: false, noUnusedParameters: false };
}

/**
 * A project outside the repository that has caa-auth installed: `node_modules/caa-auth` links to
 * the repository root, every other package to the repository's own copy.
 */
function makeProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'caa-readme-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme-blocks', private: true, type: 'module' }));
  mkdirSync(join(dir, 'node_modules'));
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry.startsWith('.') || entry === 'caa-auth') continue;
    symlinkSync(join(ROOT, 'node_modules', entry), join(dir, 'node_modules', entry), 'junction');
  }
  symlinkSync(ROOT, join(dir, 'node_modules', 'caa-auth'), 'junction');
  return dir;
}

/**
 * Type-checks the TypeScript blocks (but fragments) of a markdown file in `project`; returns one
 * message per diagnostic, `<file>:<line>: TS<code> <message>` with the line in the markdown file.
 */
function checkBlocks(project: string, markdownName: string, blocks: readonly CodeBlock[]): string[] {
  const files = new Map<string, CodeBlock>();
  for (const block of blocks) {
    if (!isTypeScript(block) || block.fragment) continue;
    const file = join(project, `block-${block.line}.ts`);
    // `export {}` keeps a block without imports a module: top-level names stay its own, top-level await works.
    writeFileSync(file, `${block.code}\nexport {};\n`);
    files.set(file, block);
  }
  const program = ts.createProgram([...files.keys()], blockCompilerOptions());
  const located = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = `TS${diagnostic.code} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    const { file, start } = diagnostic;
    if (file === undefined || start === undefined) return { where: '', line: 0, message };
    const { line } = file.getLineAndCharacterOfPosition(start);
    const block = files.get(file.fileName);
    if (block === undefined) return { where: file.fileName, line: line + 1, message };
    return { where: markdownName, line: block.line + line, message };
  });
  return located
    .sort((a, b) => a.where.localeCompare(b.where) || a.line - b.line)
    .map(({ where, line, message }) => (where === '' ? message : `${where}:${line}: ${message}`));
}

/** The GitHub anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = codeBlocks(readme);
const distBuildError = inject('distBuildError');
const projects: string[] = [];

function project(): string {
  const dir = makeProject();
  projects.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of projects) rmSync(dir, { recursive: true, force: true });
});

describe('the README code test', () => {
  it('reports a wrong block with its line in the markdown file, and skips a fragment', () => {
    if (distBuildError !== null) throw new Error(distBuildError);
    const markdown = readFileSync(join(FIXTURES, 'broken.md'), 'utf8');
    const fixtureBlocks = codeBlocks(markdown);
    expect(fixtureBlocks.map(({ lang, line, fragment }) => ({ lang, line, fragment }))).toStrictEqual([
      { lang: 'ts', line: 6, fragment: false },
      { lang: 'sh', line: 14, fragment: false },
      { lang: 'ts', line: 20, fragment: true },
      { lang: 'ts', line: 26, fragment: false },
    ]);
    expect(checkBlocks(project(), 'broken.md', fixtureBlocks)).toStrictEqual([
      "broken.md:9: TS2304 Cannot find name 'demoUser'.",
      "broken.md:27: TS2307 Cannot find module 'caa-auth/koa' or its corresponding type declarations.",
    ]);
  });
});

describe('README.md', () => {
  const typescript = blocks.filter(isTypeScript);

  it('every TypeScript block compiles against the built package', () => {
    if (distBuildError !== null) throw new Error(distBuildError);
    expect(typescript.length).toBeGreaterThan(10);
    expect(checkBlocks(project(), 'README.md', typescript)).toStrictEqual([]);
  });

  it('has a quick start per framework, none of them a fragment, each defining its verifyLogin', () => {
    const quickStarts = typescript.filter((block) => /quick start/i.test(block.section));
    for (const subpath of ['caa-auth/express', 'caa-auth/fastify', 'caa-auth/hono']) {
      const block = quickStarts.find((candidate) => candidate.code.includes(`from '${subpath}'`));
      expect(block, `a quick start importing ${subpath}`).toBeDefined();
      expect(block?.code).toMatch(/function verifyLogin|const verifyLogin/);
    }
    expect(quickStarts.filter((block) => block.fragment).map((block) => block.line)).toStrictEqual([]);
  });

  it('keeps fragments few', () => {
    expect(typescript.filter((block) => block.fragment).length).toBeLessThanOrEqual(3);
  });

  it('keeps the development set-up: its own section with the two commands', () => {
    const development = blocks.filter((block) => block.section === 'Development' && block.lang === 'sh');
    const commands = development.flatMap((block) => block.code.split('\n')).map((line) => line.replace(/#.*/, '').trim());
    expect(commands).toContain('npm install && npm run demo');
    expect(commands).toContain('npm test');
  });

  it('links only to absolute URLs or to headings of its own (the npm page resolves nothing else)', () => {
    const prose = readme.replace(/^ {0,3}(`{3,}|~{3,})[\s\S]*?^ {0,3}\1\s*$/gm, '').replace(/`[^`\n]*`/g, '');
    const targets = [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1] ?? '');
    expect(targets.length).toBeGreaterThan(3);
    const anchors = new Set(readme.split('\n').flatMap((line) => /^#{1,6} +(.*)$/.exec(line)?.slice(1, 2) ?? []).map(slug));
    const broken = targets.filter((target) => (target.startsWith('#') ? !anchors.has(target.slice(1)) : !/^https:\/\//.test(target)));
    expect(broken).toStrictEqual([]);
    const repositoryLinks = targets.filter((target) => target.startsWith('https://github.com/'));
    expect(repositoryLinks.filter((target) => !target.startsWith(`${REPOSITORY_URL}/`) && target !== REPOSITORY_URL)).toStrictEqual([]);
  });

  it('links to repository files that exist', () => {
    const prefix = `${REPOSITORY_URL}/blob/main/`;
    const treePrefix = `${REPOSITORY_URL}/tree/main/`;
    const paths = [...readme.matchAll(/\]\((https:\/\/github\.com\/[^)\s#]+)/g)]
      .map((match) => match[1] ?? '')
      .flatMap((url) => (url.startsWith(prefix) ? [url.slice(prefix.length)] : url.startsWith(treePrefix) ? [url.slice(treePrefix.length)] : []));
    const missing = paths.filter((path) => {
      try {
        readdirSync(join(ROOT, path));
        return false;
      } catch {
        try {
          readFileSync(join(ROOT, path));
          return false;
        } catch {
          return true;
        }
      }
    });
    expect(missing).toStrictEqual([]);
  });
});

describe('package.json', () => {
  it('names the repository, its home page and where to report bugs', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect({ repository: pkg.repository, homepage: pkg.homepage, bugs: pkg.bugs }).toStrictEqual({
      repository: { type: 'git', url: `git+${REPOSITORY_URL}.git` },
      homepage: `${REPOSITORY_URL}#readme`,
      bugs: `${REPOSITORY_URL}/issues`,
    });
  });
});
