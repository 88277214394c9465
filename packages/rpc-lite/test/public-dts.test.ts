/**
 * The published declarations hold the documented public API and nothing else:
 * dist/*.d.ts (built with stripInternal) has no exported name and no public or
 * protected member that starts with `_`, a TSDoc comment on every declaration
 * and public member, no module export the package entry does not export, and it
 * compiles on its own as a consumer compiles it (strict, skipLibCheck off).
 * See libs/test-support/public-dts.ts.
 *
 * `npm test` builds first (Nx: test depends on build); run alone, this test
 * builds dist/ itself when it is missing (and those of @proj/tcp and @proj/pool, which it imports).
 */
import * as path from 'node:path';
import { buildIfMissing, declarationErrors, publicDtsProblems } from '../../../libs/test-support/public-dts';

const packageRoot = path.join(__dirname, '..');
const tcpRoot = path.join(packageRoot, '..', 'tcp');
const poolRoot = path.join(packageRoot, '..', 'pool');

beforeAll(() => buildIfMissing(tcpRoot, poolRoot, packageRoot), 180_000);

test('dist/*.d.ts: no _names in the API, TSDoc on every declaration and public member, only what index.d.ts exports', () => {
  expect(publicDtsProblems(packageRoot)).toEqual([]);
});

test('dist/index.d.ts compiles on its own (strict, skipLibCheck off)', () => {
  expect(declarationErrors(packageRoot)).toEqual([]);
}, 60_000);
