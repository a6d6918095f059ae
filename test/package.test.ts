import test from 'ava';
import { readFileSync } from 'node:fs';
import semver from 'semver';

const root = new URL('../../', import.meta.url); // dist/test → repository root
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string }; scripts: Record<string, string> };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };

test('npm ci builds once (prepare); npm start only starts; tests still build first', (t) => {
  t.regex(String(pkg.scripts.prepare), /npm run build/);
  t.false('prestart' in pkg.scripts, 'no rebuild on every start');
  t.notRegex(String(pkg.scripts.start), /tsc|build/);
  t.regex(String(pkg.scripts.pretest), /npm run build/, 'tests run the compiled JS');
});

test('every locked package supports the Node versions the README promises (npm ci warns no EBADENGINE)', (t) => {
  const oldest = semver.minVersion(pkg.engines.node)!.version;
  const bad: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
    if (path === '' || range === undefined) continue;
    // the oldest supported release, and the one running the tests
    for (const v of [oldest, process.version]) if (!semver.satisfies(v, range)) bad.push(`${path} needs node ${range}, not ${v}`);
  }
  t.deepEqual(bad, []);
});
