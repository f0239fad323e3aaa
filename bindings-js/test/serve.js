// A static file server on 127.0.0.1 for the browser tests: serves bindings-js/{pkg,test} and
// tests/vectors of the repository, nothing else; bindings-js/pkg@<n>/ is the package again, so
// that the page can import fresh copies of it. startServer() resolves to { url, close }.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { extname, join, normalize, sep } from 'node:path';

const root = fileURLToPath(new URL('../../', import.meta.url));
const allowed = ['bindings-js/pkg/', 'bindings-js/test/', 'tests/vectors/'];
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm',
};

export function startServer() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).slice(1)
      .replace(/^bindings-js\/pkg@\d+\//, 'bindings-js/pkg/');
    if (path.includes('..') || !allowed.some((p) => path.startsWith(p)) || sep !== '/') {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}
