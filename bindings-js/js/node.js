// Entry point for Node (>= 18): instantiates the WebAssembly module synchronously at import,
// so every function is usable as soon as the import resolves.
import { readFileSync } from 'node:fs';
import { initSync } from './wikisync_js.js';

initSync({ module: readFileSync(new URL('./wikisync_js_bg.wasm', import.meta.url)) });

export * from './index.js';
