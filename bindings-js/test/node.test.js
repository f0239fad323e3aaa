// Runs the shared suite (suite.js) in Node with node:test, against the built package in ../pkg,
// and checks that the package's files have no top-level await (bundlers take them as they are).
import test from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as api from '../pkg/node.js';
import { defineSuite, VECTOR_FILES } from './suite.js';

const pkg = new URL('../pkg/', import.meta.url);
const vectors = {};
for (const name of VECTOR_FILES) {
  vectors[name] = JSON.parse(readFileSync(new URL(`../../tests/vectors/${name}.json`, import.meta.url), 'utf8'));
}

// A fresh, uninitialized copy of the package: Node keeps one instance per file, so copy it.
const copies = mkdtempSync(join(tmpdir(), 'wikisync-pkg-'));
test.after(() => rmSync(copies, { recursive: true, force: true }));
let n = 0;
async function fresh() {
  const dir = join(copies, String(n++));
  cpSync(pkg, dir, { recursive: true });
  return import(pathToFileURL(join(dir, 'node.js')).href);
}

const wasmUrl = new URL('wikisync_js_bg.wasm', pkg);
const env = { fresh, wasmUrl, wasmBytes: new Uint8Array(readFileSync(wasmUrl)), initSyncDefault: true };
defineSuite({ test, assert, api, vectors, env });

test('no top-level await in the package files', () => {
  for (const file of ['index.js', 'node.js', 'browser.js', 'wikisync_js.js']) {
    const source = readFileSync(new URL(file, pkg), 'utf8');
    assert.doesNotMatch(source, /^(?:await\b|(?:const|let|var)\s[^=]*=\s*await\b)/m, file);
  }
});
