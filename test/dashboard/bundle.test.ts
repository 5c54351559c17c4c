import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import { tempDir } from '../support/onair.ts';

/** The budget: JavaScript shipped for the first page, gzipped. */
const BUDGET = 250 * 1024;

interface Chunk { file: string; imports?: string[]; isEntry?: boolean }

/** The files a chunk loads before it runs: itself and its static imports, transitively (dynamic imports wait for their page). */
function firstLoad(manifest: Record<string, Chunk>, key: string, seen = new Set<string>()): Set<string> {
  if (seen.has(key)) return seen;
  seen.add(key);
  for (const imported of manifest[key]!.imports ?? []) firstLoad(manifest, imported, seen);
  return seen;
}

test(`the first page ships at most ${BUDGET / 1024} KiB of JavaScript, gzipped (built from web/ now)`, async () => {
  const outDir = tempDir('onair-web-');
  try {
    await build({ configFile: new URL('../../web/vite.config.ts', import.meta.url).pathname, logLevel: 'silent', build: { outDir } });
    const manifest = JSON.parse(readFileSync(join(outDir, '.vite/manifest.json'), 'utf8')) as Record<string, Chunk>;
    const entry = Object.keys(manifest).find((key) => manifest[key]!.isEntry);
    assert.ok(entry, 'the build has an entry');
    const files = [...firstLoad(manifest, entry)].map((key) => manifest[key]!.file);
    const html = readFileSync(join(outDir, 'index.html'), 'utf8');
    for (const file of files) assert.ok(html.includes(file) || file === manifest[entry]!.file, `${file} is loaded by index.html`);
    const gzipped = files.reduce((sum, file) => sum + gzipSync(readFileSync(join(outDir, file))).length, 0);
    process.stdout.write(`# first page: ${files.length} JavaScript file(s), ${(gzipped / 1024).toFixed(1)} KiB gzipped\n`);
    assert.ok(gzipped <= BUDGET, `the first page ships ${(gzipped / 1024).toFixed(1)} KiB of JavaScript gzipped, over the ${BUDGET / 1024} KiB budget`);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});
