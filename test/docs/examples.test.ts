/**
 * STYLE.md: "Every export has TSDoc with at least one `@example`". Each export of both entry points
 * is resolved to its original declaration (through `export … from` chains, as the type checker
 * follows them), and the doc comment closest to that declaration must carry an `@example` tag.
 */

import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY_POINTS = ['src/index.ts', 'src/client/index.ts'] as const;

function compilerOptions(): ts.CompilerOptions {
  const configPath = `${root}tsconfig.json`;
  const { config, error } = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  if (error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configPath).options;
}

const program = ts.createProgram(
  ENTRY_POINTS.map((entry) => `${root}${entry}`),
  compilerOptions(),
);
const checker = program.getTypeChecker();

/**
 * The doc comment that documents `declaration`: the last one before it (a variable's sits on its
 * statement), and not a file's `@module` comment, which only happens to precede the first export.
 */
function docCommentOf(declaration: ts.Declaration): ts.JSDoc | undefined {
  const comments = ts.getJSDocCommentsAndTags(declaration).filter(ts.isJSDoc);
  const closest = comments[comments.length - 1];
  if (closest === undefined) return undefined;
  const isModuleComment = (closest.tags ?? []).some((tag) => tag.tagName.text === 'module');
  return isModuleComment ? undefined : closest;
}

function hasExample(symbol: ts.Symbol): boolean {
  return (symbol.declarations ?? []).some((declaration) =>
    (docCommentOf(declaration)?.tags ?? []).some((tag) => tag.tagName.text === 'example'),
  );
}

interface ResolvedExport {
  readonly name: string;
  readonly symbol: ts.Symbol;
}

/** Every export of an entry point, each resolved to the symbol of its original declaration. */
function exportsOf(entry: string): ResolvedExport[] {
  const sourceFile = program.getSourceFile(`${root}${entry}`);
  if (sourceFile === undefined) throw new Error(`${entry} is not part of the program`);
  const moduleSymbol = checker.getSymbolAtLocation(sourceFile);
  if (moduleSymbol === undefined) throw new Error(`${entry} is not a module`);
  return checker.getExportsOfModule(moduleSymbol).map((exported) => ({
    name: exported.name,
    symbol: exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported,
  }));
}

describe('every public export has TSDoc with an @example', () => {
  it('compiles the entry points without errors, so every export resolves', () => {
    const messages = ts
      .getPreEmitDiagnostics(program)
      .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    expect(messages).toEqual([]);
  });

  for (const entry of ENTRY_POINTS) {
    it(`${entry}: every export has an @example`, () => {
      const exports = exportsOf(entry);
      // Guards against a resolution that finds nothing (and so nothing to complain about).
      expect(exports.length).toBeGreaterThan(10);
      const unresolved = exports.filter(({ symbol }) => (symbol.declarations ?? []).length === 0).map(({ name }) => name);
      expect(unresolved, `exports of ${entry} without a declaration in the sources`).toEqual([]);

      const missing = exports
        .filter(({ symbol }) => !hasExample(symbol))
        .map(({ name }) => name)
        .sort();
      expect(missing, `exports of ${entry} without a TSDoc @example`).toEqual([]);
    });
  }
});
