/**
 * The claim → test table in docs/architecture.md stays true: every test file it names exists, and every
 * test or suite name it quotes is in that file (a name ending in "…" is a prefix). A renamed or removed
 * test makes this fail, so the table cannot silently point at nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOC = readFileSync(`${ROOT}docs/architecture.md`, 'utf8');

interface Reference {
  file: string;
  names: string[];
}

/** The table's second column: "`file` → "name", "name"; `file`; …" per row. */
function references(): Reference[] {
  const section = DOC.slice(DOC.indexOf('## Claims and the tests that pin them'));
  const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| claim'));
  const refs: Reference[] = [];
  for (const row of rows) {
    const cell = row.split(' | ').at(-1)!.replace(/ \|$/, '');
    for (const part of cell.split(/;\s*/)) {
      const file = /^`([\w-]+|[\w-]+\*)`/.exec(part.trim())?.[1];
      if (!file) continue;
      const names = [...part.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
      refs.push({ file, names });
    }
  }
  return refs;
}

test('the claim table names test files and tests that exist', () => {
  const refs = references();
  assert.ok(refs.length >= 40, `only ${refs.length} references found: is the table still there?`);
  const missing: string[] = [];
  for (const { file, names } of refs) {
    if (file.endsWith('*')) continue; // a family of files, e.g. integrations-*
    const path = `${ROOT}test/${file}.test.ts`;
    if (!existsSync(path)) {
      missing.push(`test/${file}.test.ts`);
      continue;
    }
    const source = readFileSync(path, 'utf8');
    for (const name of names) {
      const text = name.replace(/…$/, '');
      if (!source.includes(text)) missing.push(`${file}: "${name}"`);
    }
  }
  assert.deepEqual(missing, []);
});
