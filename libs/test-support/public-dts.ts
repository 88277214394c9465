/**
 * Checks of a package's published declarations (`dist/*.d.ts`, built with
 * `stripInternal`), for each package's `public-dts.test.ts`:
 *
 * - {@link publicDtsProblems}: no exported name and no public or protected
 *   class/interface member starts with `_` (private members, `private x;` in a
 *   .d.ts, are fine); every declaration and every public member has a TSDoc
 *   comment; and every module's exports are the package's API, reachable from
 *   `dist/index.d.ts` (anything else is internal and must be tagged `@internal`).
 * - {@link declarationErrors}: the declarations compile on their own, as a
 *   consumer with `skipLibCheck: false` compiles them (a stripped member that a
 *   kept declaration still names shows up here).
 *
 * Both read the built files: `npm test` builds first (Nx: test depends on
 * build); run alone, {@link buildIfMissing} builds what is missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const REPO = path.resolve(__dirname, '..', '..');

/**
 * Builds (`tsc -p tsconfig.lib.json`) each package whose `dist/index.d.ts` is
 * missing, in the order given: list a package's workspace dependencies first.
 */
export function buildIfMissing(...packageRoots: string[]): void {
  for (const root of packageRoots) {
    if (existsSync(path.join(root, 'dist', 'index.d.ts'))) continue;
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.lib.json')],
      {
        cwd: REPO,
        stdio: 'pipe',
        timeout: 120_000,
      },
    );
  }
}

/** The `.d.ts` files under `dir`, recursively. */
function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return declarationFiles(p);
    return e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The node's own TSDoc (`/** ... *\/` right before it) holds some text or a tag. */
function hasTsDoc(node: ts.Node, text: string): boolean {
  const ranges = ts.getLeadingCommentRanges(text, node.pos) ?? [];
  return ranges.some((r) => {
    const c = text.slice(r.pos, r.end);
    return c.startsWith('/**') && !c.startsWith('/**/') && /[^\s*/]/.test(c.slice(3, -2));
  });
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

/** A member's or declaration's name as written (`[Symbol.asyncDispose]` for a computed one), or undefined. */
function nameOf(node: ts.Node, sf: ts.SourceFile): string | undefined {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const name = (node as { name?: ts.Node }).name;
  if (name === undefined) return undefined;
  if (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  return name.getText(sf);
}

/**
 * Runs of consecutive nodes with the same name (overloads; a get/set pair):
 * one TSDoc anywhere in a run documents it.
 */
function runs<T extends ts.Node>(nodes: readonly T[], sf: ts.SourceFile): T[][] {
  const out: T[][] = [];
  let last: string | undefined;
  for (const n of nodes) {
    const name = nameOf(n, sf);
    if (out.length > 0 && name !== undefined && name === last) out[out.length - 1].push(n);
    else out.push([n]);
    last = name;
  }
  return out;
}

function checkMembers(
  owner: string,
  members: readonly (ts.ClassElement | ts.TypeElement)[],
  sf: ts.SourceFile,
  report: (node: ts.Node, problem: string) => void,
): void {
  for (const run of runs(members, sf)) {
    const first = run[0];
    const name = nameOf(first, sf);
    if (name === undefined) continue; // index, call and construct signatures
    if (hasModifier(first, ts.SyntaxKind.PrivateKeyword) || name.startsWith('#')) continue;
    const isProtected = hasModifier(first, ts.SyntaxKind.ProtectedKeyword);
    const what = `${isProtected ? 'protected' : 'public'} member ${owner}.${name}`;
    if (name.startsWith('_')) report(first, `${what} starts with _ (tag it @internal, or make it private)`);
    else if (!isProtected && !run.some((m) => hasTsDoc(m, sf.text))) report(first, `${what} has no TSDoc`);
  }
}

/**
 * What is wrong with the package's `dist/*.d.ts` (empty when nothing is): one
 * line per problem, `file:line: problem`.
 */
export function publicDtsProblems(packageRoot: string): string[] {
  const dist = path.join(packageRoot, 'dist');
  const files = declarationFiles(dist).sort();
  const program = ts.createProgram({ rootNames: files, options: { noEmit: true, types: [] } });
  const checker = program.getTypeChecker();
  const problems: string[] = [];

  // What the package's entry exports, followed to the declarations.
  const entry = program.getSourceFile(path.join(dist, 'index.d.ts'));
  const entrySymbol = entry && checker.getSymbolAtLocation(entry);
  if (entry === undefined || entrySymbol === undefined) return [`${dist}/index.d.ts is missing or is not a module`];
  const api = new Set<ts.Declaration>();
  for (const s of checker.getExportsOfModule(entrySymbol)) {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    for (const d of target.declarations ?? []) api.add(d);
  }

  for (const file of files) {
    const sf = program.getSourceFile(file)!;
    const report = (node: ts.Node, problem: string): void => {
      const { line } = sf.getLineAndCharacterOfPosition(node.getStart(sf));
      problems.push(`${path.relative(packageRoot, file)}:${line + 1}: ${problem}`);
    };
    const declarations: ts.Statement[] = [];
    for (const st of sf.statements) {
      if (ts.isExportDeclaration(st)) {
        if (st.exportClause && ts.isNamedExports(st.exportClause)) {
          for (const e of st.exportClause.elements) {
            if (e.name.text.startsWith('_')) report(e, `export ${e.name.text} starts with _`);
          }
        }
        continue;
      }
      if (ts.isImportDeclaration(st) || ts.isImportEqualsDeclaration(st) || ts.isExportAssignment(st)) continue;
      declarations.push(st);
    }
    for (const run of runs(declarations, sf)) {
      const st = run[0];
      const exported = hasModifier(st, ts.SyntaxKind.ExportKeyword);
      const names = ts.isVariableStatement(st)
        ? st.declarationList.declarations.map((d) => d.name.getText(sf))
        : [nameOf(st, sf) ?? '(unnamed)'];
      const label = names.join(', ');
      if (exported && names.some((n) => n.startsWith('_'))) report(st, `export ${label} starts with _`);
      if (!run.some((d) => hasTsDoc(d, sf.text)))
        report(st, `${exported ? 'export' : 'declaration'} ${label} has no TSDoc`);
      if (exported && path.basename(file) !== 'index.d.ts') {
        const nodes = ts.isVariableStatement(st) ? st.declarationList.declarations : [st];
        if (!nodes.some((n) => api.has(n as ts.Declaration))) {
          report(st, `export ${label} is not part of the package's API (not exported by index.d.ts): tag it @internal`);
        }
      }
      if (ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st)) checkMembers(label, st.members, sf, report);
    }
  }
  return problems;
}

/**
 * Errors of compiling the package's `dist/index.d.ts` (and what it imports) on
 * its own, strict and with `skipLibCheck: false`, as a consumer does: one line
 * per error in the workspace's own declarations (`file:line: message`).
 */
export function declarationErrors(packageRoot: string): string[] {
  const options: ts.CompilerOptions = {
    noEmit: true,
    strict: true,
    skipLibCheck: false,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    typeRoots: [path.join(REPO, 'node_modules', '@types')],
  };
  const dist = path.join(packageRoot, 'dist');
  const program = ts.createProgram({ rootNames: [path.join(dist, 'index.d.ts')], options });
  // This package's own files (those of the packages it imports are their own tests' concern).
  const ours = (f: ts.SourceFile | undefined): boolean =>
    f === undefined || !path.relative(dist, f.fileName).startsWith('..');
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => ours(d.file))
    .map((d) => {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (d.file === undefined || d.start === undefined) return message;
      const { line } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${path.relative(REPO, d.file.fileName)}:${line + 1}: ${message}`;
    });
}
