// Checks what `npm run package` put into dist/medvlm-studio.vsix: everything the extension
// needs at runtime, nothing it does not (.vscodeignore is an allow-list).

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const repoRoot = path.resolve(__dirname, '..', '..');
const vsix = path.join(repoRoot, 'dist', 'medvlm-studio.vsix');
const MAX_BYTES = 5 * 1024 * 1024;

/** File names from a zip's central directory. */
function zipEntries(file: string): string[] {
  const zip = readFileSync(file);
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'not a zip: no end-of-central-directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i += 1) {
    assert.equal(zip.readUInt32LE(offset), 0x02014b50, 'bad central directory entry');
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    names.push(zip.toString('utf8', offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}

function filesUnder(dir: string, keep: (file: string) => boolean): string[] {
  return (readdirSync(path.join(repoRoot, dir), { recursive: true }) as string[])
    .map((file) => path.posix.join(dir, file.split(path.sep).join('/')))
    .filter((file) => statSync(path.join(repoRoot, file)).isFile() && keep(file));
}

const entries = existsSync(vsix) ? zipEntries(vsix) : [];
const inExtension = new Set(entries.filter((e) => e.startsWith('extension/')).map((e) => e.slice('extension/'.length)));

test('the VSIX exists and is at most 5 MB', () => {
  assert.ok(existsSync(vsix), `${vsix} is missing: run npm run package first`);
  const size = statSync(vsix).size;
  assert.ok(size <= MAX_BYTES, `${(size / 1024 / 1024).toFixed(2)} MB is over 5 MB`);
});

test('it holds the bundles, the manifest, media and license', () => {
  const webviews = readdirSync(path.join(repoRoot, 'webview'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(repoRoot, 'webview', d.name, 'main.ts')))
    .map((d) => `dist/webview/${d.name}.js`);
  assert.ok(webviews.length > 0, 'there is at least one webview bundle');
  const required = ['package.json', 'dist/extension.js', ...webviews, 'media/medvlm.svg', 'media/run-config.schema.json'];
  for (const file of required) {
    assert.ok(inExtension.has(file), `missing ${file}`);
  }
  assert.ok([...inExtension].some((f) => /^license(\.txt|\.md)?$/i.test(f)), 'missing LICENSE');
  assert.ok(inExtension.has('readme.md') || inExtension.has('README.md'), 'missing README.md');
});

test('it holds every trainer source file and the environment bootstrap', () => {
  const python = filesUnder('python/src', (f) => f.endsWith('.py') && !f.includes('__pycache__'));
  assert.ok(python.includes('python/src/medvlm_sft/cli.py'));
  for (const file of [...python, 'python/bootstrap.py', 'python/pyproject.toml', 'python/requirements.txt']) {
    assert.ok(inExtension.has(file), `missing ${file}`);
  }
  for (const file of filesUnder('python', (f) => /^python\/requirements[^/]*\.txt$/.test(f))) {
    assert.ok(inExtension.has(file), `missing ${file}`);
  }
  for (const file of filesUnder('python/configs', () => true)) {
    assert.ok(inExtension.has(file), `missing ${file}`);
  }
});

test('it holds no dependencies, sources, maps, tests or caches', () => {
  const forbidden: Array<[RegExp, string]> = [
    [/(^|\/)node_modules\//, 'node_modules'],
    [/\.map$/, 'source maps'],
    [/(^|\/)tests?\//, 'tests'],
    [/(^|\/)__pycache__\/|\.pyc$/, 'Python caches'],
    [/\.ts$/, 'TypeScript sources'],
    [/^(src|webview|scripts|out|\.ci|\.github)\//, 'development folders'],
    [/\.vsix$/, 'nested packages'],
  ];
  for (const file of inExtension) {
    for (const [pattern, what] of forbidden) {
      assert.doesNotMatch(file, pattern, `${file}: ${what} do not belong in the package`);
    }
  }
  const dist = [...inExtension].filter((f) => f.startsWith('dist/'));
  assert.ok(dist.every((f) => f === 'dist/extension.js' || /^dist\/webview\/[^/]+\.(js|css)$/.test(f)), `unexpected: ${dist.join(', ')}`);
});
