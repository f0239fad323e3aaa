// The WebAssembly half of bench/wasm-vs-native.sh, and its driver. Each round runs the native
// half (bench/wasm-vs-native.rs: writes the inputs, times the core directly and the binding's
// functions natively) and then times, in this Node process on the same inputs and with the
// same method (warm-up, median of 9 batches of about 100 ms), the package's raw WebAssembly
// exports (JSON text in and out: the same code as the native binding) and its JS API (plain
// objects: adds JSON.stringify/JSON.parse). `handle` is a local save of the 100 KB page,
// alternating between two texts, on a state kept between calls (in WebAssembly: the
// PageState the previous call returned). Five rounds alternate to share the machine's
// noise; for each column the best round is kept (load only ever adds time), and printed with
// the ratios and the .wasm size raw and gzipped.
//
// usage: node bench/wasm-vs-native.mjs NATIVE_BINARY
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as ws from '../bindings-js/pkg/node.js';
import * as raw from '../bindings-js/pkg/wikisync_js.js';

await ws.init();

const nativeBinary = process.argv[2];
if (!nativeBinary) {
  console.error('usage: node bench/wasm-vs-native.mjs NATIVE_BINARY');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'wikisync-bench-'));

let sink = 0;
function time(f) {
  const start = performance.now();
  let calls = 0;
  while (performance.now() - start < 200 || calls < 2) {
    sink ^= f() ? 1 : 0;
    calls += 1;
  }
  const perBatch = Math.max(1, Math.ceil((calls / (performance.now() - start)) * 100));
  const samples = [];
  for (let b = 0; b < 9; b += 1) {
    const t = performance.now();
    for (let i = 0; i < perBatch; i += 1) sink ^= f() ? 1 : 0;
    samples.push(((performance.now() - t) * 1e6) / perBatch);
  }
  samples.sort((a, b) => a - b);
  return samples[4];
}

const OPS = {
  sha256: 'SHA-256 of the 100 KB text (decode and encode hash it)',
  decode: 'decode a 100 KB entry',
  encode: 'encode a 100 KB entry',
  merge: 'merge a 1.3 MB page, 200+200 edits',
  handle: 'handle: a local save of a 100 KB page',
};
const rounds = [];
let sizes;
for (let round = 0; round < 5; round += 1) {
  const native = JSON.parse(execFileSync(nativeBinary, [dir], { encoding: 'utf8' }));
  sizes = native.sizes;
  const read = (name) => readFileSync(join(dir, name), 'utf8');
  const xml = read('entry.xml');
  const entryJson = read('entry.json');
  const { base, ours, theirs } = JSON.parse(read('merge.json'));
  const [configJson, stateJson] = ['config.json', 'state.json'].map(read);
  const [entry, config] = [entryJson, configJson].map((j) => JSON.parse(j));
  const saves = JSON.parse(read('inputs.json'));
  const savesJson = saves.map((s) => JSON.stringify(s));
  const NOW = 1_795_255_200_000;
  if (round === 0) {
    // The WebAssembly results are the expected ones.
    if (ws.encodeEntry(ws.decodeEntry(xml)) !== xml) throw new Error('decode/encode does not round-trip');
    if (!ws.merge(base, ours, theirs).clean) throw new Error('the bench merge should be clean');
    const outcome = ws.handle(config, ws.PageState.fromJSON(stateJson), saves[0], NOW).outcome.type;
    if (outcome !== 'publish') throw new Error(`handle: ${outcome}`);
  }
  // The states the handle timings carry from call to call.
  const rawState = raw.PageState.fromJSON(stateJson);
  let apiState = ws.PageState.fromJSON(stateJson);
  let n = 0;
  rounds.push({
    core: native.core,
    binding: native.binding,
    raw: {
      sha256: time(() => raw.sha256Hex(entry.kind.text)),
      decode: time(() => raw.decodeEntryText(xml)),
      encode: time(() => raw.encodeEntry(entryJson)),
      merge: time(() => raw.merge(base, ours, theirs)),
      handle: time(() => raw.handle(configJson, rawState, savesJson[n++ & 1], NOW)),
    },
    api: {
      sha256: time(() => ws.sha256Hex(entry.kind.text)),
      decode: time(() => ws.decodeEntry(xml)),
      encode: time(() => ws.encodeEntry(entry)),
      merge: time(() => ws.merge(base, ours, theirs)),
      handle: time(() => {
        const d = ws.handle(config, apiState, saves[n++ & 1], NOW);
        apiState = d.state;
        return d;
      }),
    },
  });
  rawState.free();
}
rmSync(dir, { recursive: true, force: true });

const best = (xs) => Math.min(...xs);
const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(0)} µs`);
console.log(`Node ${process.version}, best of ${rounds.length} alternating rounds (each a median of 9 batches)`);
console.log('');
console.log('| operation | native core | native binding (JSON text) | WASM export (JSON text) | WASM JS API (objects) | WASM export ÷ native binding | JS API ÷ native core |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [op, label] of Object.entries(OPS)) {
  const m = (col) => best(rounds.map((r) => r[col][op]));
  const [core, binding, wasm, api] = ['core', 'binding', 'raw', 'api'].map(m);
  console.log(`| ${label} | ${fmt(core)} | ${fmt(binding)} | ${fmt(wasm)} | ${fmt(api)} | ${(wasm / binding).toFixed(2)}× | ${(api / core).toFixed(2)}× |`);
}
const bytes = readFileSync(new URL('../bindings-js/pkg/wikisync_js_bg.wasm', import.meta.url));
const gz = gzipSync(bytes, { level: 9 }).length;
console.log('');
console.log(`inputs: entry ${sizes.xml} bytes of XML, merge base ${sizes.merge_base} bytes, page state ${sizes.state_json} bytes of JSON`);
console.log(`.wasm after wasm-opt: ${bytes.length} bytes raw, ${gz} bytes gzipped (gzip -9), ${(gz / 1024).toFixed(1)} KiB`);
if (sink === 42) console.log('');
