// Entry point for browsers, bundlers and other ES module hosts with fetch: the API of
// index.js, whose `init()` fetches the .wasm next to the package's files unless given the
// module (bytes, a Response, a URL or a WebAssembly.Module).
export * from './index.js';
