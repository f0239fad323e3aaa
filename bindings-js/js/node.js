// Entry point for Node (>= 18): the API of index.js, with `init()` and `initSync()` reading
// the package's .wasm from disk when given no module (Node's fetch cannot read file: URLs).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { init as load, initSync as loadSync } from './index.js';

export * from './index.js';

const WASM = new URL('./wikisync_js_bg.wasm', import.meta.url);

/** Loads the WebAssembly module: the package's .wasm, or `source` (a file: URL is read). */
export async function init(source = WASM) {
  return load(source instanceof URL && source.protocol === 'file:' ? await readFile(source) : source);
}

/** Loads the WebAssembly module at once: the package's .wasm, or the given bytes or module. */
export function initSync(bytes = readFileSync(WASM)) {
  loadSync(bytes);
}
