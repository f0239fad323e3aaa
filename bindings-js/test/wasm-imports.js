// Checks that the built .wasm imports nothing beyond what wasm-bindgen generates: every import
// must come from the generated JS module and be one of its own shims (`__wbindgen_*`,
// `__wbg_*`). Anything else (WASI, env, a stray host function) would mean a dependency that
// reaches for I/O, a clock or randomness. Prints the imports; exits non-zero on a stranger.
import { readFileSync } from 'node:fs';

const url = new URL('../pkg/wikisync_js_bg.wasm', import.meta.url);
const module = new WebAssembly.Module(readFileSync(url));
const imports = WebAssembly.Module.imports(module);
const generated = readFileSync(new URL('../pkg/wikisync_js.js', import.meta.url), 'utf8');
let bad = 0;
for (const { module: from, name, kind } of imports) {
  const own = /^__(wbindgen_|wbg_)/.test(name) && generated.includes(name);
  const fromBindgen = from === './wikisync_js_bg.js' || from === 'wbg' || from === '__wbindgen_placeholder__';
  const ok = own && fromBindgen;
  if (!ok) bad += 1;
  console.log(`${ok ? 'ok' : 'UNEXPECTED'} import ${from}.${name} (${kind})`);
}
const exports = WebAssembly.Module.exports(module).map((e) => e.name);
console.log(`# ${imports.length} imports, ${bad} unexpected; ${exports.length} exports`);
process.exit(bad === 0 && imports.length > 0 ? 0 : 1);
