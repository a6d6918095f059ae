import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url)); // dist/test → repository root

test('the README library example runs as pasted', async (t) => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
  t.true(blocks.length >= 1);
  // inside the package so that `import ... from 'ringkv'` resolves to this package
  const file = `${root}dist/readme-example.test-tmp.mjs`;
  writeFileSync(file, blocks[0]!);
  t.teardown(() => rmSync(file, { force: true }));
  const cwd = tempDir(t);
  const { stdout } = await run(process.execPath, [file], { cwd, timeout: 60_000 });
  t.regex(stdout, /\[ \{ name: 'ada' \} \]/);
  t.regex(stdout, /ada lovelace/);
  t.regex(stdout, /false/);
  t.regex(stdout, /replicaShare/);
});

test('no file in the repository carries a merge-conflict marker (one sat in the README for a whole round)', async (t) => {
  const { stdout } = await run('git', ['ls-files', 'README.md', 'src', 'test', 'tools', '.ci', 'package.json'], { cwd: root });
  const marked: string[] = [];
  for (const file of stdout.split('\n').filter(Boolean)) {
    const text = readFileSync(`${root}${file}`, 'utf8');
    if (/^(<{7}|>{7}) /m.test(text) || /^={7}$/m.test(text)) marked.push(file);
  }
  t.deepEqual(marked, []);
});
