/**
 * The types of the typed API (RpcProxy, RpcImplementation) refuse what they
 * should: test/typed-types.fixture.ts is compiled with the project's own
 * settings (tsconfig.json: strict and the rest, as `typecheck` compiles it)
 * through the TypeScript compiler API, and
 *
 * - it compiles with no error at all, so every `@ts-expect-error` in it still
 *   meets an error (TypeScript reports one that does not: a type that became
 *   too loose fails here);
 * - with the `@ts-expect-error` comments taken out, the errors are on exactly
 *   the lines that followed them, so each comment is what hides an error and
 *   the lines without one compile.
 */
import * as path from 'node:path';
import * as ts from 'typescript';

const packageRoot = path.join(__dirname, '..');
const fixture = path.join(__dirname, 'typed-types.fixture.ts');
const DIRECTIVE = /^(\s*)\/\/ @ts-expect-error\b/;

/** The project's compiler options, and the files its tsconfig.json covers. */
function projectConfig(): ts.ParsedCommandLine {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(packageRoot, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (parsed === undefined) throw new Error('tsconfig.json could not be read');
  return parsed;
}

/** Each diagnostic of the fixture as `line: message` (lines from 1). */
function fixtureErrors(program: ts.Program): Array<{ line: number; message: string }> {
  const sf = program.getSourceFile(fixture);
  if (sf === undefined) throw new Error('the fixture is not in the program');
  return ts.getPreEmitDiagnostics(program, sf).map((d) => ({
    line: d.file !== undefined && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0,
    message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  }));
}

let config: ts.ParsedCommandLine;
let program: ts.Program;

beforeAll(() => {
  config = projectConfig();
  program = ts.createProgram({ rootNames: [fixture], options: config.options });
}, 60_000);

test('the fixture is in the project, so `typecheck` and ESLint check it too', () => {
  expect(config.errors).toEqual([]);
  expect(config.options.strict).toBe(true);
  expect(config.fileNames.map((f) => path.resolve(f))).toContain(fixture);
});

test('the fixture compiles with no error: every @ts-expect-error meets one', () => {
  expect(fixtureErrors(program)).toEqual([]);
}, 60_000);

test('without the @ts-expect-error comments, the errors are on exactly the lines after them', () => {
  const text = ts.sys.readFile(fixture)!;
  const expected: number[] = [];
  const stripped = text
    .split('\n')
    .map((line, i) => {
      if (!DIRECTIVE.test(line)) return line;
      expected.push(i + 2); // the next line, counted from 1
      return line.replace(DIRECTIVE, '$1// (expected error)');
    })
    .join('\n');
  expect(expected.length).toBeGreaterThanOrEqual(15);

  const host = ts.createCompilerHost(config.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, ...rest) =>
    path.resolve(fileName) === fixture
      ? ts.createSourceFile(fileName, stripped, languageVersion, true)
      : getSourceFile(fileName, languageVersion, ...rest);
  const strippedProgram = ts.createProgram({
    rootNames: [fixture],
    options: config.options,
    host,
    oldProgram: program,
  });

  const errors = fixtureErrors(strippedProgram);
  const lines = [...new Set(errors.map((e) => e.line))].sort((a, b) => a - b);
  // Each expected line has an error, and no other line does (the messages show which, if not).
  expect({ lines, errors: errors.filter((e) => !expected.includes(e.line)) }).toEqual({ lines: expected, errors: [] });
}, 60_000);
