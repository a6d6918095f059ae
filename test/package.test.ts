import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import ts from 'typescript';

const root = new URL('../../', import.meta.url); // dist/test → repository root
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string }; scripts: Record<string, string>; main: string; bin: Record<string, string>; files: string[] };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };

/** The .ts files a tsconfig compiles, relative to the repository root. */
function sources(config: string): string[] {
  const dir = fileURLToPath(root);
  const parsed = ts.getParsedCommandLineOfConfigFile(`${dir}${config}`, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (parsed === undefined || parsed.errors.length > 0) throw new Error(`${config} does not parse`);
  return parsed.fileNames.map((f) => f.slice(dir.length));
}

test('npm ci builds once (prepare); npm start only starts; tests still build first', (t) => {
  t.regex(String(pkg.scripts.prepare), /^tsc -p tsconfig\.src\.json$/, 'the install builds the package only, with no nested npm');
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

test('the install build (tsconfig.src.json) compiles what the package ships and runs, and leaves tests and benchmarks to npm run build', (t) => {
  const shipped = sources('tsconfig.src.json');
  const js = (file: string): string => file.replace(/^(\.\/)?dist\//, '').replace(/\.js$/, '.ts');
  // entry points, and the files loaded by URL rather than imported (worker threads, piscina tasks)
  for (const entry of [js(pkg.main), ...Object.values(pkg.bin).map(js), 'workers/actor.ts', 'workers/merkle.ts', 'tools/stress/loadgen.ts']) {
    t.true(shipped.includes(entry), `${entry} is built at install`);
  }
  const dirs = pkg.files.filter((f) => f.startsWith('dist/')).map((f) => `${f.slice('dist/'.length)}/`);
  t.deepEqual(shipped.filter((f) => !dirs.some((d) => f.startsWith(d))), [], 'only what package.json "files" ships');
  const all = sources('tsconfig.json');
  t.deepEqual(shipped.filter((f) => !all.includes(f)), [], 'npm run build builds everything the install builds');
  t.true(all.some((f) => f.startsWith('test/')) && all.some((f) => /^tools\/bench/.test(f)), 'npm run build also builds tests and benchmarks');
});

test('npm ci takes locked packages already in the npm cache without asking the registry again (.npmrc prefer-offline)', (t) => {
  const npmrc = readFileSync(new URL('.npmrc', root), 'utf8');
  t.regex(npmrc, /^prefer-offline=true$/m);
});

test('every dependency that runs an install script is reviewed in allowScripts (npm 11 warns on each other one; npm 12 will block it)', (t) => {
  const allow = (JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};
  const packages = (JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> }).packages;
  const withScripts = Object.entries(packages)
    .filter(([path, p]) => path !== '' && p.hasInstallScript === true)
    .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
  t.true(withScripts.length > 0, 'lmdb has one');
  t.deepEqual(withScripts.filter((name) => allow[name] === undefined), []);
});
