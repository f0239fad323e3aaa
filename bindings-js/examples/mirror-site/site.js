// A small JS CMS that keeps its pages as files and syncs them through a wikisync gateway,
// using the `wikisync` package for every decision. The site:
//   - stores page `a:b:c` as `<dir>/pages/a/b/c.txt` and its sync state as
//     `<dir>/meta/a/b/c.json` (the PageState the core returns, plus lock, notices, conflict);
//   - serves pages and takes edits over HTTP (GET/PUT/DELETE /pages/<id>, POST
//     /pages/<id>/edit and /close for the editor's lock);
//   - subscribes to the gateway node of every namespace it mirrors or shares, answers the
//     gateway's verification GET, checks the HMAC signature of every callback, and runs each
//     notification through `handle`;
//   - creates a node for every namespace it publishes and publishes the entries the core asks
//     it to publish.
// The site holds no sync logic: it stores, serves and carries out the core's actions.
import { createServer } from 'node:http';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  cleanPageId, decodeEntry, encodeEntry, handle, newPageState, renderConflict, WikiSyncError,
} from 'wikisync';

const ENTRY_TYPE = 'application/atom+xml;type=entry;charset=utf-8';
const now = () => Math.floor(Date.now() / 1000);

/**
 * options: { dir, site (this site's id, its base URL), gateway (base URL), token (publisher
 * token or null), host, port, namespaces: [{ namespace, role, node? }] } where `role` is the
 * core's Role and `node` the gateway node URI to subscribe to (mirror/peer namespaces; a
 * published namespace gets its own node created on first start).
 */
export class MirrorSite {
  constructor(options) {
    this.options = options;
    this.dir = options.dir;
    this.config = {
      site: options.site,
      rules: options.namespaces.map(({ namespace, role }) => ({ namespace, role })),
      lockSeconds: options.lockSeconds ?? 900,
      mediaType: 'text/x-dokuwiki',
    };
    this.queues = new Map(); // page id → promise chain: one input at a time per page
    this.log = options.log ?? ((line) => console.error(`[mirror-site] ${line}`));
  }

  /** Starts the HTTP server, then creates and subscribes the nodes. Resolves to the base URL. */
  async start() {
    await mkdir(this.dir, { recursive: true });
    this.nodes = await this.readJson('nodes.json', {}); // namespace → { publish, subscribe, secret }
    this.server = createServer((req, res) => this.route(req, res).catch((e) => {
      this.log(`${req.method} ${req.url}: ${e.stack ?? e}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    }));
    await new Promise((resolve) => this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve));
    const { address, port } = this.server.address();
    this.url = `http://${address}:${port}`;
    for (const ns of this.options.namespaces) {
      const entry = (this.nodes[ns.namespace] ??= {});
      if (ns.role.type !== 'mirror' && !entry.publish) {
        entry.publish = ns.publishNode ?? (await this.gateway('POST', '/create')).uri;
      }
      if (ns.node && entry.subscribe !== ns.node) {
        entry.secret ??= randomBytes(24).toString('hex');
        await this.gateway('POST', '/subscribe', JSON.stringify({
          uri: ns.node, callback: `${this.url}/callback`, secret: entry.secret,
        }), 'application/json');
        entry.subscribe = ns.node;
      }
    }
    await this.writeJson('nodes.json', this.nodes);
    this.ticker = setInterval(() => this.tickAll().catch((e) => this.log(`tick: ${e}`)), 30_000);
    return this.url;
  }

  async stop() {
    clearInterval(this.ticker);
    await new Promise((resolve) => this.server.close(resolve));
    await Promise.all([...this.queues.values()]);
  }

  /** The node this site publishes a namespace's pages to. */
  publishNode(page) {
    const rule = this.namespaceOf(page);
    return rule && this.nodes[rule.namespace]?.publish;
  }

  namespaceOf(page) {
    return this.options.namespaces
      .filter(({ namespace }) => namespace === '' || page.startsWith(`${namespace}:`))
      .sort((a, b) => b.namespace.length - a.namespace.length)[0];
  }

  // ---- storage: pages as files ----

  pagePath(page) { return join(this.dir, 'pages', ...page.split(':')) + '.txt'; }
  metaPath(page) { return join(this.dir, 'meta', ...page.split(':')) + '.json'; }

  async readText(page) {
    try {
      return await readFile(this.pagePath(page), 'utf8');
    } catch (e) {
      if (e.code === 'ENOENT') return null;
      throw e;
    }
  }

  async readMeta(page) {
    return (await this.readJson(this.metaPath(page), null)) ?? {
      state: newPageState(page), remoteLock: null, notices: [], conflict: null, history: [],
    };
  }

  // `path` is absolute or relative to the site's folder.
  async readJson(path, fallback) {
    try {
      return JSON.parse(await readFile(resolve(this.dir, path), 'utf8'));
    } catch (e) {
      if (e.code === 'ENOENT') return fallback;
      throw e;
    }
  }

  async writeJson(path, value) {
    await atomicWrite(resolve(this.dir, path), JSON.stringify(value, null, 1));
  }

  // ---- one input at a time per page ----

  serial(page, job) {
    const previous = this.queues.get(page) ?? Promise.resolve();
    const next = previous.then(job, job);
    this.queues.set(page, next.catch(() => {}));
    return next;
  }

  /**
   * Runs one input for a page (`makeInput(localText)`), carries out the decision's actions,
   * then `after(decision)` (still in the page's turn), and stores the new state. Resolves to
   * the decision.
   */
  run(page, makeInput, after) {
    return this.serial(page, async () => {
      const meta = await this.readMeta(page);
      const text = await this.readText(page);
      const decision = handle(this.config, meta.state, makeInput(text));
      await this.carryOut(page, meta, decision);
      if (after) await after(decision);
      meta.state = decision.state;
      await this.writeJson(this.metaPath(page), meta);
      return decision;
    });
  }

  async carryOut(page, meta, decision) {
    for (const action of decision.actions) {
      switch (action.type) {
        case 'publish': {
          const node = this.publishNode(page);
          if (!node) throw new Error(`no node to publish ${page} to`);
          await this.gateway('POST', `/publish?uri=${encodeURIComponent(node)}`, encodeEntry(action.entry), ENTRY_TYPE);
          break;
        }
        case 'write_page':
          await atomicWrite(this.pagePath(page), action.text);
          meta.history.push({ at: now(), author: action.author, summary: action.summary, minor: action.minor });
          break;
        case 'delete_page':
          await rm(this.pagePath(page), { force: true });
          meta.history.push({ at: now(), author: action.author, summary: action.summary, deleted: true });
          break;
        case 'lock_page':
          meta.remoteLock = { site: action.site, editor: action.editor, until: action.until };
          break;
        case 'unlock_page':
          meta.remoteLock = null;
          break;
        case 'show_notice':
          meta.notices = [...meta.notices.slice(-9), action.notice];
          break;
        case 'record_conflict':
          meta.conflict = { remote: action.conflict.revision, withMarkers: renderConflict(action.conflict) };
          break;
        case 'clear_conflict':
          meta.conflict = null;
          break;
        case 'refuse_local_edit':
          break; // reported to the HTTP client from the decision's outcome
        default:
          this.log(`${page}: unknown action ${action.type}`);
      }
    }
  }

  /** Lets lapsed locks expire (a real CMS would index the locked pages instead of walking). */
  async tickAll() {
    for (const page of await this.pagesUnder('')) {
      const meta = await this.readMeta(page);
      if (meta.state.lock.type !== 'free') await this.run(page, () => ({ type: 'tick', now: now() }));
    }
  }

  // ---- HTTP ----

  async route(req, res) {
    const url = new URL(req.url, this.url);
    if (url.pathname === '/callback') return this.callback(req, res, url);
    const m = /^\/pages\/([^/]+)(\/edit|\/close)?$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: 'not_found' });
    let page;
    try {
      page = cleanPageId(decodeURIComponent(m[1]));
    } catch (e) {
      if (e instanceof WikiSyncError) return send(res, 400, { error: e.code, message: e.message });
      throw e;
    }
    const user = url.searchParams.get('user') ?? 'anonymous';
    if (m[2] === '/edit' && req.method === 'POST') {
      const d = await this.run(page, () => ({ type: 'editor_opened', editor: user, now: now() }));
      return send(res, d.outcome.type === 'refuse' ? 409 : 200, { outcome: d.outcome });
    }
    if (m[2] === '/close' && req.method === 'POST') {
      const d = await this.run(page, () => ({ type: 'editor_closed', editor: user, now: now() }));
      return send(res, 200, { outcome: d.outcome });
    }
    if (m[2]) return send(res, 405, { error: 'method_not_allowed' });
    switch (req.method) {
      case 'GET': {
        const [text, meta] = await Promise.all([this.readText(page), this.readMeta(page)]);
        if (req.headers.accept === 'application/json') {
          return send(res, 200, { page, text, lock: meta.remoteLock, notices: meta.notices, conflict: meta.conflict, history: meta.history });
        }
        if (text === null) return send(res, 404, { error: 'no_such_page' });
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        return res.end(text);
      }
      case 'PUT':
      case 'DELETE': {
        const body = req.method === 'PUT' ? (await readBody(req)).toString('utf8') : null;
        const edit = {
          change: body === null ? { type: 'deleted' } : { type: 'text', text: body },
          author: user,
          summary: url.searchParams.get('summary'),
          minor: url.searchParams.get('minor') === '1',
          revision: now(),
        };
        // The host's own save, made in the page's turn unless the core refuses it; a decision
        // that writes the page (a merge with a concurrent remote change) has written it already.
        const save = async (d) => {
          if (d.outcome.type === 'refuse') return;
          if (d.actions.some((a) => a.type === 'write_page' || a.type === 'delete_page')) return;
          if (body === null) await rm(this.pagePath(page), { force: true });
          else await atomicWrite(this.pagePath(page), body);
        };
        const d = await this.run(page, () => ({ type: 'local_save', edit, now: now() }), save);
        if (d.outcome.type === 'refuse') return send(res, 409, { outcome: d.outcome });
        return send(res, 200, { outcome: d.outcome });
      }
      default:
        return send(res, 405, { error: 'method_not_allowed' });
    }
  }

  /** The gateway's verification GET and its deliveries. */
  async callback(req, res, url) {
    if (req.method === 'GET') {
      const topic = url.searchParams.get('hub.topic');
      const known = Object.values(this.nodes).some((n) => n.subscribe === topic)
        || this.options.namespaces.some((n) => n.node === topic);
      const challenge = url.searchParams.get('hub.challenge');
      if (!known || !challenge) return send(res, 404, { error: 'unknown_topic' });
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(challenge);
    }
    if (req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' });
    const body = await readBody(req);
    const topic = req.headers.referer;
    const ns = Object.entries(this.nodes).find(([, n]) => n.subscribe === topic);
    if (!ns) return send(res, 410, { error: 'not_subscribed' }); // 410: the gateway drops us
    const [namespace, node] = ns;
    if (!validSignature(node.secret, body, req.headers['x-hub-signature'])) {
      this.log(`callback for ${topic}: bad signature, refused`);
      return send(res, 403, { error: 'bad_signature' });
    }
    if (req.headers.event === 'DELETED') {
      const redirect = /<([^>]*)>/.exec(req.headers.link ?? '')?.[1] ?? null;
      this.log(`node ${topic} deleted (redirect ${redirect ?? 'none'}); pages of ${namespace || 'every namespace'} follow the mirror policy`);
      await this.sourceGone(namespace, redirect);
      return send(res, 204);
    }
    if (req.headers.event === 'RETRACTED') {
      // An item was withdrawn from the node. Deletions travel as tombstone entries (RFC 6721)
      // that name the page; a bare retraction names only the item, so it changes nothing here.
      this.log(`callback for ${topic}: item retracted`);
      return send(res, 204);
    }
    let entry;
    try {
      entry = decodeEntry(body);
    } catch (e) {
      // Retrying cannot help: acknowledge and log, so the gateway moves on.
      if (e instanceof WikiSyncError) {
        this.log(`callback for ${topic}: entry refused (${e.code}: ${e.message})`);
        return send(res, 202, { error: e.code });
      }
      throw e;
    }
    if (namespace !== '' && !entry.page.startsWith(`${namespace}:`)) {
      this.log(`callback for ${topic}: ${entry.page} is outside ${namespace}, ignored`);
      return send(res, 202, { error: 'outside_namespace' });
    }
    const d = await this.run(entry.page, (text) => ({ type: 'notification', localText: text, entry, now: now() }));
    this.log(`${entry.page}: ${d.outcome.type}${d.outcome.reason ? ` (${d.outcome.reason})` : ''}`);
    return send(res, 204);
  }

  async sourceGone(namespace, redirect) {
    const pages = await this.pagesUnder(namespace);
    for (const page of pages) {
      await this.run(page, () => ({ type: 'source_gone', redirect, now: now() }));
    }
  }

  async pagesUnder(namespace) {
    const root = join(this.dir, 'meta', ...(namespace ? namespace.split(':') : []));
    const out = [];
    const walk = async (dir, prefix) => {
      let items;
      try { items = await readdir(dir, { withFileTypes: true }); } catch { return; }
      for (const item of items) {
        if (item.isDirectory()) await walk(join(dir, item.name), `${prefix}${item.name}:`);
        else if (item.name.endsWith('.json')) out.push(`${prefix}${item.name.slice(0, -5)}`);
      }
    };
    await walk(root, namespace ? `${namespace}:` : '');
    return out;
  }

  async gateway(method, path, body, type) {
    const headers = {};
    if (type) headers['content-type'] = type;
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const res = await fetch(`${this.options.gateway}${path}`, { method, headers, body });
    const text = await res.text();
    if (!res.ok) throw new Error(`gateway ${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
}

function validSignature(secret, body, header) {
  if (!secret) return true;
  const m = /^sha256=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const want = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(want, Buffer.from(m[1], 'hex'));
}

async function atomicWrite(path, data) {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

async function readBody(req, limit = 8 << 20) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function send(res, status, value) {
  if (value === undefined) return res.writeHead(status).end();
  res.writeHead(status, { 'content-type': 'application/json' });
  return res.end(`${JSON.stringify(value)}\n`);
}
