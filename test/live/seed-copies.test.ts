import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as examples from './seed-examples.ts';

const SEEDS = join(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared', 'seeds');

test('the scheduler tests\' copies of seed 001\'s examples are its text character for character, and none is left out', { skip: !existsSync(SEEDS) && `no ${SEEDS} beside the repository` }, () => {
  const file = readdirSync(SEEDS).find((name) => name.startsWith('001_'));
  assert.ok(file, `seed 001 in ${SEEDS}`);
  const text = readFileSync(join(SEEDS, file), 'utf8');
  for (const [name, copy] of Object.entries(examples)) assert.ok(text.includes(copy), `${name} differs from ${file}`);
  const theirs = text.match(/^\s*\{$/gm)?.length ?? 0;
  assert.equal(Object.keys(examples).length, theirs, `seed 001 has ${theirs} JSON examples, seed-examples.ts ${Object.keys(examples).length}`);
});
