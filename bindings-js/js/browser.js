// Entry point for browsers and other ES module hosts with fetch: fetches and instantiates the
// WebAssembly module next to this file (top-level await), so every function is usable as soon
// as the import resolves.
import init from './wikisync_js.js';

await init({ module_or_path: new URL('./wikisync_js_bg.wasm', import.meta.url) });

export * from './index.js';
