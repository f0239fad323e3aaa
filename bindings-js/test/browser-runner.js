// Runs the shared suite (suite.js) in a browser against the built package (../pkg/browser.js),
// with a minimal test runner and assert; results go to window.__results for the driver
// (browser.js) to read.
import { defineSuite, VECTOR_FILES } from './suite.js';

function equal(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
}

class AssertionError extends Error {}
const fail = (message) => { throw new AssertionError(message); };
const show = (v) => { try { return JSON.stringify(v).slice(0, 400); } catch { return String(v); } };
const assert = {
  ok: (v, m) => v || fail(m ?? 'expected a truthy value'),
  fail,
  strictEqual: (a, b, m) => Object.is(a, b) || fail(`${m ?? 'strictEqual'}: ${show(a)} !== ${show(b)}`),
  deepStrictEqual: (a, b, m) => equal(a, b) || fail(`${m ?? 'deepStrictEqual'}: ${show(a)} != ${show(b)}`),
  throws(fn, check) {
    let threw = false, error;
    try { fn(); } catch (e) { threw = true; error = e; }
    if (!threw) fail('expected an exception');
    if (check && check(error) !== true) fail(`unexpected exception ${error}`);
  },
};

const tests = [];
const results = { passed: 0, failed: 0, tests: [] };
try {
  const api = await import('../pkg/browser.js');
  const vectors = {};
  for (const name of VECTOR_FILES) {
    const res = await fetch(`../../tests/vectors/${name}.json`);
    if (!res.ok) throw new Error(`${name}.json: HTTP ${res.status}`);
    vectors[name] = await res.json();
  }
  // A fresh, uninitialized copy of the package: the server serves it again under pkg@<n>/.
  let n = 0;
  const fresh = () => import(`../pkg@${n++}/browser.js`);
  const wasmUrl = new URL('../pkg/wikisync_js_bg.wasm', import.meta.url);
  const wasmBytes = new Uint8Array(await (await fetch(wasmUrl)).arrayBuffer());
  const env = { fresh, wasmUrl, wasmBytes, initSyncDefault: false };
  defineSuite({ test: (name, fn) => tests.push({ name, fn }), assert, api, vectors, env });
  for (const t of tests) {
    const start = performance.now();
    try {
      await t.fn();
      results.passed += 1;
      results.tests.push({ name: t.name, ok: true, ms: performance.now() - start });
    } catch (e) {
      results.failed += 1;
      results.tests.push({ name: t.name, ok: false, error: String(e && e.stack || e) });
    }
  }
} catch (e) {
  results.failed += 1;
  results.tests.push({ name: 'load', ok: false, error: String(e && e.stack || e) });
}
window.__results = results;
