// A small JS CMS that keeps its pages as files and syncs them through a wikisync gateway,
// using the `wikisync` package for every decision. The site:
//   - stores page `a:b:c` as `<dir>/pages/a/b/c.txt` and beside it, in `<dir>/meta/a/b/c.json`,
//     the page's sync state (opaque: stored as the core gives it), the lock of a remote editor
//     and the page's history;
//   - serves pages and takes edits over HTTP (GET/PUT/DELETE /pages/<id>, POST
//     /pages/<id>/edit and /close for the editor's lock, /resolve for a conflict);
//   - sets up each configured namespace with the steps the core plans (create or use a node,
//     record the role, subscribe, fetch the node's items), answers the gateway's verification
//     GET, checks the HMAC signature of every callback and runs each notification through
//     `handle`;
//   - publishes through a durable outbox, retrying or dropping what the gateway refuses as the
//     core says.
// The site holds no sync logic: every input ends the same way (carry out the actions in order,
// then store the state), and what it shows comes from `notices` and `state.conflict`.
import { createServer } from 'node:http';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  init, cleanPageId, decodeEntry, decodeFeed, encodeEntry, handle, namespaceOf, newPageState,
  notices, planSetup, publishFailure, renderConflict, sameNode, InvalidArgumentError, PageState,
  WikiSyncError,
} from 'wikisync';

const ENTRY_TYPE = 'application/atom+xml;type=entry;charset=utf-8';
const seconds = () => Math.floor(Date.now() / 1000);

/**
 * options: { dir, site (this site's id, its base URL), gateway (base URL), token (publisher
 * token or null), host, port, lockSeconds, namespaces: [{ namespace, role, node? }] } where
 * `role` is the core's Role and `node` the gateway node URI to mirror or share (a namespace
 * this site is the source of, or the first peer of, gets a node created on first start).
 */
export class MirrorSite {
  constructor(options) {
    this.options = options;
    this.dir = options.dir;
    this.queues = new Map(); // page id → promise chain: one input at a time per page
    this.log = options.log ?? ((line) => console.error(`[mirror-site] ${line}`));
    this.sending = Promise.resolve();
  }

  /** Starts the HTTP server, then sets up every namespace. Resolves to the base URL. */
  async start() {
    await init();
    await mkdir(this.dir, { recursive: true });
    this.nodes = await this.readJson('nodes.json', {}); // namespace → { role, node, subscribed, secret }
    this.outbox = await this.readJson('outbox.json', []); // [{ node, xml }], oldest first
    this.configure();
    this.server = createServer((req, res) => this.route(req, res).catch((e) => {
      if (e instanceof InvalidArgumentError && !res.headersSent) return send(res, 400, { error: e.code, message: e.message });
      this.log(`${req.method} ${req.url}: ${e.stack ?? e}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      return res.end('internal error\n');
    }));
    await new Promise((ok) => this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', ok));
    const { address, port } = this.server.address();
    this.url = `http://${address}:${port}`;
    const wanted = this.options.namespaces.map((ns) => ns.namespace);
    for (const namespace of Object.keys(this.nodes).filter((ns) => !wanted.includes(ns))) {
      await this.setUp(namespace, { type: 'remove' });
    }
    for (const { namespace, role, node } of this.options.namespaces) {
      // A Role plus the node is the matching SetupRequest (`{ type: 'mirror', source, whenGone, node }`).
      await this.setUp(namespace, { ...role, node: node ?? null });
    }
    this.ticker = setInterval(() => this.tickAll().catch((e) => this.log(`tick: ${e}`)), 30_000);
    this.flush();
    return this.url;
  }

  async stop() {
    clearInterval(this.ticker);
    clearTimeout(this.retry);
    await new Promise((ok) => this.server.close(ok));
    await Promise.all([...this.queues.values(), this.sending]);
  }

  /** The core's SiteConfig: this site's id and the roles its namespaces have now. */
  configure() {
    this.config = {
      site: this.options.site,
      rules: Object.entries(this.nodes).map(([namespace, { role }]) => ({ namespace, role })),
      lockSeconds: this.options.lockSeconds ?? 900,
      mediaType: 'text/x-dokuwiki',
      pageUrl: this.options.pageUrl ?? null,
    };
  }

  // ---- namespaces: the steps the core plans ----

  async setUp(namespace, request) {
    const record = this.nodes[namespace];
    const current = record ? { role: record.role, node: record.node, subscribed: record.subscribed } : null;
    let node = current?.node ?? null;
    for (const step of planSetup(current, request)) {
      const here = this.nodes[namespace];
      switch (step.type) {
        case 'unsubscribe':
          await this.gateway('POST', '/unsubscribe', JSON.stringify({ uri: step.node, callback: this.callbackUrl }), 'application/json');
          here.subscribed = false;
          break;
        case 'createNode':
          node = JSON.parse(await this.gateway('POST', '/create')).uri;
          break;
        case 'useNode':
          node = step.node;
          break;
        case 'setRole':
          this.nodes[namespace] = { secret: randomBytes(24).toString('hex'), subscribed: false, ...here, role: step.role, readOnly: step.readOnly, node };
          this.configure();
          break;
        case 'subscribe':
          await this.gateway('POST', '/subscribe', JSON.stringify({ uri: node, callback: this.callbackUrl, secret: here.secret }), 'application/json');
          here.subscribed = true;
          break;
        case 'announceSourceMove':
          for (const page of await this.pagesUnder(namespace)) {
            await this.run(page, () => ({ type: 'announceSourceMove', newSource: step.newSource }));
          }
          await this.flush();
          break;
        case 'deleteNode':
          await this.gateway('POST', `/delete?uri=${encodeURIComponent(node)}`);
          break;
        case 'forgetRule':
          delete this.nodes[namespace];
          this.configure();
          break;
        case 'firstSync':
          await this.firstSync(namespace, node);
          break;
        default:
          throw new Error(`${namespace}: unknown setup step ${step.type}`);
      }
      await this.writeJson('nodes.json', this.nodes);
    }
    if (this.nodes[namespace]) this.log(`${namespace || '(all)'}: ${this.nodes[namespace].role.type} on ${this.nodes[namespace].node}`);
  }

  get callbackUrl() { return `${this.url}/callback`; }

  /** Applies the node's items, oldest first, as notifications. */
  async firstSync(namespace, node) {
    const feed = await this.gateway('GET', `/items?uri=${encodeURIComponent(node)}`);
    for (const { entry, error } of decodeFeed(feed)) {
      if (error) this.log(`first sync of ${namespace}: an item was refused (${error.code}: ${error.message})`);
      else await this.notify(namespace, entry);
    }
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

  /** The page's stored meta: { state (as stored), lock (of a remote editor), history }. */
  async readMeta(page) {
    return (await this.readJson(this.metaPath(page), null)) ?? { state: null, lock: null, history: [] };
  }

  stateOf(page, meta) {
    return meta.state === null ? newPageState(page) : PageState.fromJSON(meta.state);
  }

  /** Writes the page (`text` null: deletes it) and records the change in its history. */
  async writePage(page, meta, text, change) {
    if (text === null) await rm(this.pagePath(page), { force: true });
    else await atomicWrite(this.pagePath(page), text);
    meta.history.push({ at: seconds(), ...change, ...(text === null ? { deleted: true } : {}) });
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

  // ---- inputs: one at a time per page, one way to apply them ----

  serial(page, job) {
    const previous = this.queues.get(page) ?? Promise.resolve();
    const next = previous.then(job, job);
    this.queues.set(page, next.catch(() => {}));
    return next;
  }

  /** Runs one input in the page's turn (see `step`). */
  run(page, makeInput) {
    return this.serial(page, () => this.step(page, makeInput));
  }

  /**
   * Runs one input (`makeInput(localText)`) through the core, carries out the decision's
   * actions in order, then stores the new state. If an action fails, the stored state stays
   * the old one and the input can be given again. Resolves to the decision.
   */
  async step(page, makeInput) {
    const meta = await this.readMeta(page);
    const decision = handle(this.config, this.stateOf(page, meta), makeInput(await this.readText(page)));
    for (const action of decision.actions) await this.carryOut(page, meta, action);
    meta.state = decision.state;
    await this.writeJson(this.metaPath(page), meta);
    if (decision.actions.some((a) => a.type === 'publish')) this.flush();
    return decision;
  }

  async carryOut(page, meta, action) {
    switch (action.type) {
      case 'publish': {
        const node = this.nodes[namespaceOf(this.config, page)]?.node;
        if (!node) throw new Error(`no node to publish ${page} to`);
        this.outbox.push({ node, xml: encodeEntry(action.entry) });
        await this.writeJson('outbox.json', this.outbox);
        break;
      }
      case 'writePage':
        await this.writePage(page, meta, action.text, { author: action.author, summary: action.summary, minor: action.minor });
        break;
      case 'deletePage':
        await this.writePage(page, meta, null, { author: action.author, summary: action.summary });
        break;
      case 'lockPage':
        meta.lock = { site: action.site, editor: action.editor, until: action.until };
        break;
      case 'unlockPage':
        if (meta.lock?.site === action.site && meta.lock?.editor === action.editor) meta.lock = null;
        break;
      case 'showNotice':
        this.log(`${page}: ${action.notice.type}`); // shown on every GET from notices()
        break;
      case 'recordConflict':
      case 'clearConflict':
        this.log(`${page}: ${action.type}`); // shown on every GET from state.conflict
        break;
      case 'refuseLocalEdit':
        break; // the HTTP answer carries the decision's outcome
      case 'saveResolution':
      case 'openEditor':
        break; // only `resolveConflict` gives these: its route carries them out once the state is stored
      default:
        throw new Error(`${page}: unknown action ${action.type}`);
    }
  }

  /** Saves `text` (null: deletes) as a revision by `user`, then reports it to the core. */
  async saveAs(page, user, text, summary, minor = false) {
    const meta = await this.readMeta(page);
    await this.writePage(page, meta, text, { author: user, summary, minor, local: true });
    await this.writeJson(this.metaPath(page), meta);
    const change = text === null ? { type: 'deleted' } : { type: 'text', text };
    const edit = { change, author: user, summary, minor, revision: seconds() };
    return this.step(page, () => ({ type: 'localSave', edit }));
  }

  /** Lets lapsed remote locks go (the pages whose lock a `lockPage` recorded). */
  async tickAll() {
    for (const page of await this.pagesUnder('')) {
      if ((await this.readMeta(page)).lock !== null) await this.run(page, () => ({ type: 'tick' }));
    }
  }

  /** A notification delivered by the subscription of `namespace`. */
  notify(namespace, entry) {
    return this.run(entry.page, (localText) => ({ type: 'notification', localText, entry, namespace }));
  }

  // ---- the outbox: publish in order, retry or drop as the core says ----

  flush() {
    this.sending = this.sending.then(() => this.send()).catch((e) => this.log(`outbox: ${e}`));
    return this.sending;
  }

  async send() {
    while (this.outbox.length > 0) {
      const { node, xml } = this.outbox[0];
      const status = await this.publish(node, xml);
      if (status >= 200 && status < 300) {
        this.outbox.shift();
      } else if (publishFailure(status) === 'reject') {
        this.log(`the gateway refused an entry for ${node} (HTTP ${status}): dropped`);
        this.outbox.shift();
      } else {
        this.log(`publishing to ${node} failed (HTTP ${status || 'no answer'}): retrying in 5 s`);
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.flush(), 5_000);
        return;
      }
      await this.writeJson('outbox.json', this.outbox);
    }
  }

  /** POSTs an entry to a node; resolves to the HTTP status (0: no answer). */
  async publish(node, xml) {
    try {
      const res = await fetch(`${this.options.gateway}/publish?uri=${encodeURIComponent(node)}`, {
        method: 'POST', headers: this.headers(ENTRY_TYPE), body: xml,
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  // ---- HTTP ----

  async route(req, res) {
    const url = new URL(req.url, this.url);
    if (url.pathname === '/callback') return this.callback(req, res, url);
    const m = /^\/pages\/([^/]+)(\/edit|\/close|\/resolve)?$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: 'not_found' });
    let page;
    try {
      page = cleanPageId(decodeURIComponent(m[1]));
    } catch (e) {
      if (e instanceof WikiSyncError) return send(res, 400, { error: e.code, message: e.message });
      throw e;
    }
    const user = url.searchParams.get('user') ?? 'anonymous';
    const refused = (d) => (d.outcome.type === 'refuse' ? 409 : 200);
    if (m[2] && req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' });
    if (m[2] === '/edit') {
      const d = await this.run(page, () => ({ type: 'editorOpened', editor: user }));
      return send(res, refused(d), { outcome: d.outcome });
    }
    if (m[2] === '/close') {
      const d = await this.run(page, () => ({ type: 'editorClosed', editor: user }));
      return send(res, refused(d), { outcome: d.outcome });
    }
    if (m[2] === '/resolve') return this.resolveConflict(req, res, page, user, url.searchParams.get('choice'));
    switch (req.method) {
      case 'GET': return this.show(req, res, page);
      case 'PUT':
      case 'DELETE': {
        const text = req.method === 'PUT' ? (await readBody(req)).toString('utf8') : null;
        const summary = url.searchParams.get('summary');
        const minor = url.searchParams.get('minor') === '1';
        // May the save be written? Then write it and report it, in one turn of the page.
        const [asked, saved] = await this.serial(page, async () => {
          const change = text === null ? { type: 'deleted' } : { type: 'text', text };
          const answer = await this.step(page, () => ({ type: 'saveRequested', change, editor: user }));
          if (answer.outcome.type !== 'accept') return [answer, answer];
          return [answer, await this.saveAs(page, user, text, summary, minor)];
        });
        return send(res, refused(asked), { outcome: saved.outcome });
      }
      default:
        return send(res, 405, { error: 'method_not_allowed' });
    }
  }

  async show(req, res, page) {
    const [text, meta] = await Promise.all([this.readText(page), this.readMeta(page)]);
    if (req.headers.accept === 'application/json') {
      const state = this.stateOf(page, meta);
      const conflict = state.conflict && { ...state.conflict, withMarkers: renderConflict(state.conflict) };
      return send(res, 200, {
        page, text, lock: meta.lock, notices: notices(this.config, state), conflict, history: meta.history,
      });
    }
    if (text === null) return send(res, 404, { error: 'no_such_page' });
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    return res.end(text);
  }

  /** `POST /pages/<id>/resolve?choice=keep|take|merge&user=` (body: the editor's text, if any). */
  async resolveConflict(req, res, page, user, choice) {
    const body = (await readBody(req)).toString('utf8');
    const editorText = body === '' ? null : body;
    let openEditor = null;
    const d = await this.serial(page, async () => {
      const decision = await this.step(page, (localText) => ({ type: 'resolveConflict', choice, localText, editorText }));
      for (const action of decision.actions) {
        if (action.type === 'openEditor') openEditor = action.text;
        if (action.type === 'saveResolution') {
          return this.saveAs(page, user, action.text, `conflict with ${action.site} resolved: ${action.choice}`);
        }
      }
      return decision;
    });
    return send(res, 200, { outcome: d.outcome, editorText: openEditor });
  }

  /** The gateway's verification GET and its deliveries. */
  async callback(req, res, url) {
    if (req.method === 'GET') {
      const topic = url.searchParams.get('hub.topic');
      const challenge = url.searchParams.get('hub.challenge');
      if (!topic || !challenge || !this.namespaceOfNode(topic)) return send(res, 404, { error: 'unknown_topic' });
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(challenge);
    }
    if (req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' });
    const body = await readBody(req);
    const topic = req.headers.referer ?? '';
    const namespace = this.namespaceOfNode(topic);
    if (namespace === undefined) return send(res, 410, { error: 'not_subscribed' }); // 410: the gateway drops us
    if (!validSignature(this.nodes[namespace].secret, body, req.headers['x-hub-signature'])) {
      this.log(`callback for ${topic}: bad signature, refused`);
      return send(res, 403, { error: 'bad_signature' });
    }
    if (req.headers.event === 'DELETED') {
      const redirect = /<([^>]*)>/.exec(req.headers.link ?? '')?.[1] ?? null;
      this.log(`node ${topic} deleted (redirect ${redirect ?? 'none'})`);
      for (const page of await this.pagesUnder(namespace)) {
        await this.run(page, () => ({ type: 'sourceGone', redirect }));
      }
      return send(res, 204);
    }
    if (req.headers.event === 'RETRACTED') {
      // Deletions travel as tombstone entries (RFC 6721) that name the page; a bare retraction
      // names only the item, so it changes nothing here.
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
    const d = await this.notify(namespace, entry);
    this.log(`${entry.page}: ${d.outcome.type}${d.outcome.reason ? ` (${d.outcome.reason})` : ''}`);
    return send(res, 204);
  }

  /** The namespace whose node `uri` names, in any spelling. */
  namespaceOfNode(uri) {
    return Object.keys(this.nodes).find((ns) => this.nodes[ns].node && sameNode(this.nodes[ns].node, uri));
  }

  async pagesUnder(namespace) {
    const out = [];
    const walk = async (dir, prefix) => {
      let items;
      try { items = await readdir(dir, { withFileTypes: true }); } catch { return; }
      for (const item of items) {
        if (item.isDirectory()) await walk(join(dir, item.name), `${prefix}${item.name}:`);
        else if (item.name.endsWith('.json')) out.push(`${prefix}${item.name.slice(0, -5)}`);
      }
    };
    await walk(join(this.dir, 'meta', ...(namespace ? namespace.split(':') : [])), namespace ? `${namespace}:` : '');
    return out;
  }

  headers(type) {
    const headers = {};
    if (type) headers['content-type'] = type;
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    return headers;
  }

  /** A gateway request; resolves to the answer's text. */
  async gateway(method, path, body, type) {
    const res = await fetch(`${this.options.gateway}${path}`, { method, headers: this.headers(type), body });
    const text = await res.text();
    if (!res.ok) throw new Error(`gateway ${method} ${path}: ${res.status} ${text}`);
    return text;
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
