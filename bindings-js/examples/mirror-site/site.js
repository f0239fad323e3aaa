// A small JS CMS that keeps its pages and media files as files and syncs them through a
// wikisync gateway, using the `wikisync` package for every decision. The site:
//   - stores page `a:b:c` as `<dir>/pages/a/b/c.txt` and media file `a:b:logo.png` as
//     `<dir>/media/a/b/logo.png`; beside each, in `<dir>/meta/a/b/c.json` and
//     `<dir>/media_meta/a/b/logo.png.json`, its sync state (opaque: stored as the core gives
//     it), the lock of a remote editor (pages) or the media type (files), and the history;
//   - serves pages and takes edits over HTTP (GET/PUT/DELETE /pages/<id>, POST
//     /pages/<id>/edit and /close for the editor's lock, /resolve for a conflict), and media
//     files the same way (GET/PUT/DELETE /media/<id>, the body as bytes);
//   - serves other sites' fetches of its larger media files at its `mediaUrl`
//     (GET /media-fetch?media=&rev=&sha256=, only when the hash is the file's);
//   - sets up each configured namespace with the steps the core plans (create or use a node,
//     record the role, subscribe, fetch the node's items, page by page), answers the gateway's
//     verification GET, checks the HMAC signature of every callback (and the signed publisher
//     it names), runs each notification and bare retraction through `handle` with the
//     publisher the gateway authenticated (callback header or `/items`), and follows a node deleted with a redirect (to a
//     node on another gateway too: the redirect is then that gateway's feed URL, and the
//     namespace keeps the gateway for every later call about it);
//   - publishes through a durable outbox, retrying or dropping what the gateway refuses as the
//     core says.
// The site holds no sync logic: every input ends the same way (carry out the actions in order,
// then store the state), and what it shows comes from `notices` and `state.conflict`.
import { createServer } from 'node:http';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  init, cleanPageId, decodeEntry, decodeFeed, encodeEntry, followTarget, handle, isReadOnly, itemSubject,
  namespaceOf, newPageState, nodeRef, notices, planSetup, publishFailure, renderConflict, sameNode,
  sha256HexBytes, sourceOfItems, verifyMedia, checkMirrorSource, worthReporting, InvalidArgumentError,
  MediaError, PageState, SetupError, WikiSyncError,
} from 'wikisync';

const ENTRY_TYPE = 'application/atom+xml;type=entry;charset=utf-8';
const seconds = () => Math.floor(Date.now() / 1000);

/** Where pages and media files live: the file, its meta (state and history) beside it. */
const STORES = {
  page: { files: 'pages', metas: 'meta', file: (id) => `${id}.txt`, meta: (id) => `${id}.json` },
  media: { files: 'media', metas: 'media_meta', file: (id) => id, meta: (id) => `${id}.json` },
};

/** Media bytes could not be fetched: the input fails, its state is not stored. */
class FetchError extends Error {
  get code() { return 'fetch_failed'; }
}

/** The gateway refused a request: its HTTP `status` and error `code`. */
class GatewayError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * options: { dir, site (this site's id, its base URL), gateway (base URL), token (publisher
 * token or null, sent to that gateway only), tokens (publisher tokens of other gateways, by
 * base URL: for namespaces moved there with `relocate`), host, port, lockSeconds, pageUrl, mediaUrl (default: this server's
 * /media-fetch), mediaInlineMax, mediaMax, catchUpMs (how often failed inputs are retried,
 * default 30 s), namespaces: [{ namespace, role, node? }] } where `role` is the core's Role and
 * `node` the gateway node URI to mirror or share (a namespace this site is the source of, or
 * the first peer of, gets a node created on first start).
 */
export class MirrorSite {
  constructor(options) {
    this.options = options;
    this.dir = options.dir;
    this.queues = new Map(); // `page:<id>` / `media:<id>` → promise chain: one input at a time
    this.behind = new Set(); // namespaces with a failed input: caught up on the next tick
    this.log = options.log ?? ((line) => console.error(`[mirror-site] ${line}`));
    this.sending = Promise.resolve();
  }

  /** Starts the HTTP server, then sets up every namespace. Resolves to the base URL. */
  async start() {
    await init();
    await mkdir(this.dir, { recursive: true });
    // namespace → { role, node, gateway (another gateway's base URL, when the node is there), subscribed, secret }
    this.nodes = await this.readJson('nodes.json', {});
    this.outbox = await this.readJson('outbox.json', []); // [{ node, gateway?, xml }], oldest first
    this.server = createServer((req, res) => this.route(req, res).catch((e) => {
      if (e instanceof InvalidArgumentError && !res.headersSent) return send(res, 400, { error: e.code, message: e.message });
      this.log(`${req.method} ${req.url}: ${e.stack ?? e}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      return res.end('internal error\n');
    }));
    await new Promise((ok) => this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', ok));
    const { address, port } = this.server.address();
    this.url = `http://${address}:${port}`;
    this.configure(); // before any request is read: the media URL names this server
    const wanted = this.options.namespaces.map((ns) => ns.namespace);
    for (const namespace of Object.keys(this.nodes).filter((ns) => !wanted.includes(ns))) {
      await this.setUp(namespace, { type: 'remove' });
    }
    for (const { namespace, role, node } of this.options.namespaces) {
      // A Role plus the node is the matching SetupRequest (`{ type: 'mirror', source, whenGone, node }`).
      try {
        await this.setUp(namespace, { ...role, node: node ?? null });
      } catch (e) {
        if (!(e instanceof SetupError)) throw e;
        this.log(`${namespace || '(all)'}: not set up (${e.code}: ${e.message})`);
      }
    }
    this.ticker = setInterval(() => this.tickAll().catch((e) => this.log(`tick: ${e}`)), this.options.catchUpMs ?? 30_000);
    this.flush();
    return this.url;
  }

  async stop() {
    clearInterval(this.ticker);
    clearTimeout(this.retry);
    await new Promise((ok) => this.server.close(ok));
    await Promise.all([...this.queues.values(), this.sending]);
  }

  /** The core's SiteConfig: this site's id, the roles its namespaces have now, media limits. */
  configure() {
    const { options } = this;
    this.config = {
      site: options.site,
      rules: Object.entries(this.nodes).map(([namespace, { role }]) => ({ namespace, role })),
      lockSeconds: options.lockSeconds ?? 900,
      mediaType: 'text/x-dokuwiki',
      pageUrl: options.pageUrl ?? null,
      mediaUrl: options.mediaUrl ?? `${this.url}/media-fetch?media={media}&rev={revision}&sha256={sha256}`,
      // Left out: the core's defaults.
      mediaInlineMax: options.mediaInlineMax,
      mediaMax: options.mediaMax,
    };
  }

  // ---- namespaces: the steps the core plans ----

  async setUp(namespace, request) {
    const record = this.nodes[namespace];
    const current = record ? { role: record.role, node: record.node, gateway: record.gateway ?? null, subscribed: record.subscribed } : null;
    let node = current?.node ?? null;
    // The gateway in use: another gateway's base URL, or null for this site's own.
    let gateway = current?.gateway ?? null;
    for (const step of planSetup(current, request)) {
      const here = this.nodes[namespace];
      switch (step.type) {
        case 'unsubscribe':
          // A node deleted by its owner has no subscriptions left to end.
          await this.gateway('POST', '/unsubscribe', JSON.stringify({ uri: step.node, callback: this.callbackUrl }), 'application/json',
            ['node_not_found', 'no_subscription'], gateway);
          here.subscribed = false;
          break;
        case 'useGateway':
          gateway = step.gateway;
          break;
        case 'createNode':
          node = JSON.parse(await this.gateway('POST', '/create', undefined, undefined, [], gateway)).uri;
          break;
        case 'useNode':
          node = step.node;
          break;
        case 'checkSource':
          // A node whose items come from another site would leave every page ignored.
          checkMirrorSource(step.source, entriesOf(await this.items(node, gateway)));
          break;
        case 'setRole': {
          const { gateway: _, ...kept } = here ?? {};
          this.nodes[namespace] = {
            secret: randomBytes(24).toString('hex'), subscribed: false, ...kept, role: step.role, readOnly: step.readOnly, node,
            ...(gateway === null ? {} : { gateway }),
          };
          this.configure();
          break;
        }
        case 'subscribe':
          await this.gateway('POST', '/subscribe', JSON.stringify({ uri: node, callback: this.callbackUrl, secret: here.secret }), 'application/json',
            ['subscription_exists'], gateway);
          here.subscribed = true;
          break;
        case 'announceSourceMove':
          for (const [store, id] of await this.subjectsUnder(namespace)) {
            await this.run(store, id, () => ({ type: 'announceSourceMove', newSource: step.newSource }));
          }
          await this.flush();
          break;
        case 'deleteNode':
          await this.gateway('POST', `/delete?uri=${encodeURIComponent(node)}`, undefined, undefined, [], gateway);
          break;
        case 'republish':
          for (const [store, id] of await this.subjectsUnder(namespace)) {
            await this.run(store, id, () => ({ type: 'republish' }));
          }
          await this.flush();
          if (this.outbox.length > 0) throw new Error(`${namespace || '(all)'}: ${this.outbox.length} entries not published to ${node} yet`);
          break;
        case 'redirectNode': {
          // The mirrors follow the previous node's deletion to the node in use.
          const redirect = nodeRef(step.feed ? (gateway ?? this.options.gateway) : null, node);
          await this.gateway('POST', `/delete?uri=${encodeURIComponent(step.node)}`, JSON.stringify({ redirect_uri: redirect }),
            'application/json', [], step.gateway);
          break;
        }
        case 'forgetRule':
          delete this.nodes[namespace];
          this.configure();
          break;
        case 'followSource':
          for (const [store, id] of await this.subjectsUnder(namespace)) {
            await this.run(store, id, () => ({ type: 'sourceGone', redirect: step.source }));
          }
          break;
        case 'firstSync':
          await this.firstSync(namespace, node, gateway);
          break;
        default:
          throw new Error(`${namespace}: unknown setup step ${step.type}`);
      }
      await this.writeJson('nodes.json', this.nodes);
    }
    const done = this.nodes[namespace];
    if (done) this.log(`${namespace || '(all)'}: ${done.role.type} on ${done.node}${done.gateway ? ` at ${done.gateway}` : ''}`);
  }

  get callbackUrl() { return `${this.url}/callback`; }

  /** Applies the node's items, oldest first, as notifications (first sync and catch-up). */
  async firstSync(namespace, node, gateway = null) {
    for (const { entry, error, publisher } of await this.items(node, gateway)) {
      if (error) this.log(`sync of ${namespace}: an item was refused (${error.code}: ${error.message})`);
      else {
        const d = await this.applyOrCatchUpLater(namespace, () => this.notify(namespace, entry, publisher));
        // Items the core refuses for a reason an administrator should hear of (the core says which).
        if (!(d instanceof Error) && d.outcome.type === 'ignore' && worthReporting(d.outcome.reason)) {
          this.log(`${entry.page}: ignore (${d.outcome.reason})`);
        }
      }
    }
  }

  /**
   * A node's items, oldest first: every page of the gateway's `/items` (`gateway`: another
   * gateway's base URL, null: this site's), following its `Link: <…>; rel="next"` (pages go
   * from the newest items to the oldest). Each item carries the `publisher` the gateway names
   * for it (`<publisher xmlns="urn:x-wikisync:gateway:1">`), null for none.
   */
  async items(node, gateway = null) {
    const pages = [];
    const seen = new Set();
    let url = `${gateway ?? this.options.gateway}/items?uri=${encodeURIComponent(node)}`;
    while (url && !seen.has(url)) {
      seen.add(url);
      const res = await fetch(url, { headers: this.headers(null, url) });
      const feed = await res.text();
      if (!res.ok) throw gatewayError('GET', url, res.status, feed);
      const decoded = decodeFeed(feed);
      let publishers = feedPublishers(feed);
      if (publishers.length !== decoded.length) {
        this.log(`items of ${node}: the publishers of the items could not be read; taken as unknown`);
        publishers = decoded.map(() => null);
      }
      pages.push(decoded.map((item, i) => ({ ...item, publisher: publishers[i] })));
      url = linkOf(res.headers.get('link'), 'next', url);
    }
    return pages.reverse().flat();
  }

  /**
   * Runs an input whose media bytes may be unavailable or wrong: then it fails (its state is
   * not stored), is logged, and the namespace is caught up later. Resolves to the decision,
   * or to the error.
   */
  async applyOrCatchUpLater(namespace, apply) {
    try {
      return await apply();
    } catch (e) {
      if (!(e instanceof MediaError || e instanceof FetchError)) throw e;
      this.log(`${namespace || '(all)'}: a media file was not written (${e.code}: ${e.message}); caught up later`);
      this.behind.add(namespace);
      return e;
    }
  }

  // ---- storage: pages and media files as files ----

  filePath(store, id) { return join(this.dir, STORES[store].files, ...STORES[store].file(id).split(':')); }
  metaPath(store, id) { return join(this.dir, STORES[store].metas, ...STORES[store].meta(id).split(':')); }

  async readText(page) {
    return (await this.readBytes('page', page))?.toString('utf8') ?? null;
  }

  async readBytes(store, id) {
    try {
      return await readFile(this.filePath(store, id));
    } catch (e) {
      if (e.code === 'ENOENT') return null;
      throw e;
    }
  }

  /** The stored meta: { state (as stored), lock (pages), mediaType (files), history }. */
  async readMeta(store, id) {
    return (await this.readJson(this.metaPath(store, id), null)) ?? { state: null, lock: null, history: [] };
  }

  stateOf(id, meta) {
    return meta.state === null ? newPageState(id) : PageState.fromJSON(meta.state);
  }

  /** Writes the page or file (`data` null: deletes it) and records the change in its history. */
  async writeFile(store, id, meta, data, change) {
    if (data === null) await rm(this.filePath(store, id), { force: true });
    else await atomicWrite(this.filePath(store, id), data);
    meta.history.push({ at: seconds(), ...change, ...(data === null ? { deleted: true } : {}) });
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

  /**
   * Writes `value` as it is now; writes of one file happen one at a time, in the order they
   * were asked for (the outbox is written by inputs and by the sender at once).
   */
  async writeJson(path, value) {
    const file = resolve(this.dir, path);
    const text = JSON.stringify(value, null, 1);
    await this.serial(`file:${file}`, () => atomicWrite(file, text));
  }

  // ---- inputs: one at a time per page or file, one way to apply them ----

  serial(key, job) {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(job, job);
    this.queues.set(key, next.catch(() => {}));
    return next;
  }

  /** Runs one input in the turn of the page or media file (see `step`). */
  run(store, id, makeInput) {
    return this.serial(`${store}:${id}`, () => this.step(store, id, makeInput));
  }

  /**
   * Runs one input (`makeInput(localText)`, the text for a page, null for a media file)
   * through the core, carries out the decision's actions in order, then stores the new state.
   * If an action fails, the stored state stays the old one and the input can be given again.
   * Resolves to the decision.
   */
  async step(store, id, makeInput) {
    const meta = await this.readMeta(store, id);
    const local = store === 'page' ? await this.readText(id) : null;
    const decision = handle(this.config, this.stateOf(id, meta), makeInput(local));
    for (const action of decision.actions) await this.carryOut(store, id, meta, action);
    meta.state = decision.state;
    await this.writeJson(this.metaPath(store, id), meta);
    if (decision.actions.some((a) => a.type === 'publish')) this.flush();
    return decision;
  }

  async carryOut(store, id, meta, action) {
    switch (action.type) {
      case 'publish': {
        const { node, gateway } = this.nodes[namespaceOf(this.config, id)] ?? {};
        if (!node) throw new Error(`no node to publish ${id} to`);
        this.outbox.push({ node, ...(gateway ? { gateway } : {}), xml: encodeEntry(action.entry) });
        await this.writeJson('outbox.json', this.outbox);
        break;
      }
      case 'writePage':
        await this.writeFile('page', id, meta, action.text, { author: action.author, summary: action.summary, minor: action.minor });
        break;
      case 'deletePage':
        await this.writeFile('page', id, meta, null, { author: action.author, summary: action.summary });
        break;
      case 'writeMedia': {
        const bytes = action.data !== null ? Buffer.from(action.data, 'base64') : await this.fetchMedia(action.url, action.size);
        verifyMedia(bytes, action.sha256, action.size); // a MediaError fails the input: nothing written
        meta.mediaType = action.mediaType;
        await this.writeFile('media', id, meta, bytes, { author: action.author, summary: action.summary, sha256: action.sha256 });
        break;
      }
      case 'deleteMedia':
        await this.writeFile('media', id, meta, null, { author: action.author, summary: action.summary });
        break;
      case 'lockPage':
        meta.lock = { site: action.site, editor: action.editor, until: action.until };
        break;
      case 'unlockPage':
        if (meta.lock?.site === action.site && meta.lock?.editor === action.editor) meta.lock = null;
        break;
      case 'showNotice':
        this.log(`${id}: ${action.notice.type}`); // shown on every GET from notices()
        break;
      case 'recordConflict':
      case 'clearConflict':
        this.log(`${id}: ${action.type}`); // shown on every GET from state.conflict
        break;
      case 'refuseLocalEdit':
        break; // the HTTP answer carries the decision's outcome
      case 'saveResolution':
      case 'openEditor':
        break; // only `resolveConflict` gives these: its route carries them out once the state is stored
      default:
        throw new Error(`${id}: unknown action ${action.type}`);
    }
  }

  /** The bytes at `url`, at most `size + 1` of them (more cannot be the file: verifyMedia says so). */
  async fetchMedia(url, size) {
    let res;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      throw new FetchError(`${url}: ${e.message}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new FetchError(`${url}: HTTP ${res.status}`);
    }
    const chunks = [];
    let length = 0;
    for await (const chunk of res.body) {
      chunks.push(chunk);
      length += chunk.length;
      if (length > size) break; // leaving the loop cancels the rest of the body
    }
    return Buffer.concat(chunks).subarray(0, size + 1);
  }

  /** Saves `text` (null: deletes) as a revision by `user`, then reports it to the core. */
  async saveAs(page, user, text, summary, minor = false) {
    const meta = await this.readMeta('page', page);
    await this.writeFile('page', page, meta, text, { author: user, summary, minor, local: true });
    await this.writeJson(this.metaPath('page', page), meta);
    const change = text === null ? { type: 'deleted' } : { type: 'text', text };
    const edit = { change, author: user, summary, minor, revision: seconds() };
    return this.step('page', page, () => ({ type: 'localSave', edit }));
  }

  /**
   * Stores an upload (`bytes` null: deletes the file) by `user`, then reports it to the core,
   * which publishes it (inside its entry or by reference) or says why not.
   */
  async uploadAs(id, user, bytes, mediaType, summary) {
    const meta = await this.readMeta('media', id);
    if (bytes !== null) meta.mediaType = mediaType;
    const sha256 = bytes === null ? null : sha256HexBytes(bytes);
    await this.writeFile('media', id, meta, bytes, { author: user, summary, sha256, local: true });
    await this.writeJson(this.metaPath('media', id), meta);
    const change = bytes === null ? { type: 'deleted' } : { type: 'file', data: bytes.toString('base64'), mediaType };
    const edit = { change, author: user, summary, revision: seconds() };
    return this.step('media', id, () => ({ type: 'mediaSaved', edit }));
  }

  /** Lets lapsed remote locks go (the pages whose lock a `lockPage` recorded); catches up. */
  async tickAll() {
    for (const [store, id] of await this.subjectsUnder('')) {
      if (store === 'page' && (await this.readMeta(store, id)).lock !== null) await this.run(store, id, () => ({ type: 'tick' }));
    }
    for (const namespace of [...this.behind]) {
      this.behind.delete(namespace); // a new failure marks it again
      const { node, gateway } = this.nodes[namespace] ?? {};
      if (node) await this.firstSync(namespace, node, gateway ?? null);
    }
  }

  /**
   * A notification delivered by the subscription of `namespace`, to the page or media file it
   * is about; `publisher`: the site the gateway authenticated as its publisher (null: none
   * reported). The core decides whether that site may write here.
   */
  notify(namespace, entry, publisher = null) {
    const store = entry.kind.type === 'media' || entry.kind.type === 'mediaDeleted' ? 'media' : 'page';
    return this.run(store, entry.page, (localText) => ({ type: 'notification', localText, entry, namespace, publisher }));
  }

  // ---- the outbox: publish in order, retry or drop as the core says ----

  flush() {
    this.sending = this.sending.then(() => this.send()).catch((e) => this.log(`outbox: ${e}`));
    return this.sending;
  }

  async send() {
    while (this.outbox.length > 0) {
      const { node, gateway, xml } = this.outbox[0];
      const status = await this.publish(node, xml, gateway ?? null);
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

  /** POSTs an entry to a node (on `gateway`, null: this site's); resolves to the HTTP status (0: no answer). */
  async publish(node, xml, gateway = null) {
    const url = `${gateway ?? this.options.gateway}/publish?uri=${encodeURIComponent(node)}`;
    try {
      const res = await fetch(url, { method: 'POST', headers: this.headers(ENTRY_TYPE, url), body: xml });
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
    if (url.pathname === '/media-fetch') return this.serveFetch(req, res, url);
    const m = /^\/(pages|media)\/([^/]+)(\/edit|\/close|\/resolve)?$/.exec(url.pathname);
    if (!m || (m[1] === 'media' && m[3])) return send(res, 404, { error: 'not_found' });
    let id;
    try {
      id = cleanPageId(decodeURIComponent(m[2]));
    } catch (e) {
      if (e instanceof WikiSyncError) return send(res, 400, { error: e.code, message: e.message });
      throw e;
    }
    const user = url.searchParams.get('user') ?? 'anonymous';
    if (m[1] === 'media') return this.routeMedia(req, res, url, id, user);
    const page = id;
    const refused = (d) => (d.outcome.type === 'refuse' ? 409 : 200);
    if (m[3] && req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' });
    if (m[3] === '/edit') {
      const d = await this.run('page', page, () => ({ type: 'editorOpened', editor: user }));
      return send(res, refused(d), { outcome: d.outcome });
    }
    if (m[3] === '/close') {
      const d = await this.run('page', page, () => ({ type: 'editorClosed', editor: user }));
      return send(res, refused(d), { outcome: d.outcome });
    }
    if (m[3] === '/resolve') return this.resolveConflict(req, res, page, user, url.searchParams.get('choice'));
    switch (req.method) {
      case 'GET': return this.show(req, res, page);
      case 'PUT':
      case 'DELETE': {
        const text = req.method === 'PUT' ? (await readBody(req)).toString('utf8') : null;
        const summary = url.searchParams.get('summary');
        const minor = url.searchParams.get('minor') === '1';
        // May the save be written? Then write it and report it, in one turn of the page.
        const [asked, saved] = await this.serial(`page:${page}`, async () => {
          const change = text === null ? { type: 'deleted' } : { type: 'text', text };
          const answer = await this.step('page', page, () => ({ type: 'saveRequested', change, editor: user }));
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
    const [text, meta] = await Promise.all([this.readText(page), this.readMeta('page', page)]);
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

  /**
   * `GET /media/<id>` (the bytes; `Accept: application/json` for the media type, notices and
   * history), `PUT /media/<id>?user=&summary=` (the body is the file, its `Content-Type` the
   * media type) and `DELETE /media/<id>?user=&summary=`. A mirrored file is read-only here.
   */
  async routeMedia(req, res, url, id, user) {
    if (req.method === 'GET') {
      const [bytes, meta] = await Promise.all([this.readBytes('media', id), this.readMeta('media', id)]);
      if (req.headers.accept === 'application/json') {
        const state = this.stateOf(id, meta);
        return send(res, 200, {
          media: id, mediaType: meta.mediaType ?? null, size: bytes?.length ?? null, sha256: bytes && sha256HexBytes(bytes),
          notices: notices(this.config, state), history: meta.history,
        });
      }
      if (bytes === null) return send(res, 404, { error: 'no_such_media' });
      res.writeHead(200, { 'content-type': meta.mediaType ?? 'application/octet-stream' });
      return res.end(bytes);
    }
    if (req.method !== 'PUT' && req.method !== 'DELETE') return send(res, 405, { error: 'method_not_allowed' });
    if (isReadOnly(this.config, id)) {
      req.resume(); // the upload is not read
      return send(res, 409, { error: 'read_only', message: `${id} is mirrored here` });
    }
    const bytes = req.method === 'PUT' ? await readBody(req, this.options.maxUploadBytes ?? 64 << 20) : null;
    const mediaType = req.headers['content-type'] ?? 'application/octet-stream';
    const summary = url.searchParams.get('summary');
    const d = await this.serial(`media:${id}`, async () => {
      if (bytes === null && (await this.readBytes('media', id)) === null) return null;
      return this.uploadAs(id, user, bytes, mediaType, summary);
    });
    if (d === null) return send(res, 404, { error: 'no_such_media' });
    // The upload is stored; the outcome says whether it was published (`refuse`: not synced,
    // or over mediaMax, with a notice).
    return send(res, 200, { outcome: d.outcome });
  }

  /**
   * Another site fetches a media file announced by reference (`mediaUrl`): the file, only
   * when the SHA-256 asked for is the one of the file here (the hash is the capability).
   */
  async serveFetch(req, res, url) {
    if (req.method !== 'GET') return send(res, 405, { error: 'method_not_allowed' });
    let id;
    try {
      id = cleanPageId(url.searchParams.get('media') ?? '');
    } catch (e) {
      if (e instanceof WikiSyncError) return send(res, 404, { error: 'not_found' });
      throw e;
    }
    const sha256 = (url.searchParams.get('sha256') ?? '').toLowerCase();
    const bytes = await this.readBytes('media', id);
    if (bytes === null || sha256 === '' || sha256HexBytes(bytes) !== sha256) return send(res, 404, { error: 'not_found' });
    const { mediaType } = await this.readMeta('media', id);
    res.writeHead(200, { 'content-type': mediaType ?? 'application/octet-stream', 'content-length': bytes.length });
    return res.end(bytes);
  }

  /** `POST /pages/<id>/resolve?choice=keep|take|merge&user=` (body: the editor's text, if any). */
  async resolveConflict(req, res, page, user, choice) {
    const body = (await readBody(req)).toString('utf8');
    const editorText = body === '' ? null : body;
    let openEditor = null;
    const d = await this.serial(`page:${page}`, async () => {
      const decision = await this.step('page', page, (localText) => ({ type: 'resolveConflict', choice, localText, editorText }));
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
    const publisher = signedPublisher(this.nodes[namespace].secret, body, req.headers);
    if (publisher === false) {
      this.log(`callback for ${topic}: publisher '${String(req.headers['x-wikisync-publisher']).slice(0, 200)}' without a valid X-Wikisync-Signature, refused`);
      return send(res, 403, { error: 'bad_publisher_signature' });
    }
    if (req.headers.event === 'DELETED') {
      await this.nodeDeleted(namespace, topic, linkOf(req.headers.link, 'alternate'));
      return send(res, 204);
    }
    if (req.headers.event === 'RETRACTED') {
      await this.retracted(namespace, body.toString('utf8'), publisher);
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
    // Media bytes that cannot be had now do not hold up the deliveries behind them: the
    // input fails (nothing written, state not stored) and the next catch-up tries again.
    const d = await this.applyOrCatchUpLater(namespace, () => this.notify(namespace, entry, publisher));
    if (d instanceof Error) return send(res, 202, { error: d.code });
    this.log(`${entry.page}: ${d.outcome.type}${d.outcome.reason ? ` (${d.outcome.reason})` : ''}`);
    return send(res, 204);
  }

  /**
   * The node of `namespace` was deleted. With a redirect to another node (a node URI on the
   * namespace's gateway, or another gateway's feed URL), the core plans following it
   * (subscribe there, take the source its items name, sync); without one, or one the core
   * will not follow, every page and file is told its source is gone.
   */
  async nodeDeleted(namespace, topic, redirect) {
    this.log(`node ${topic} deleted (redirect ${redirect ?? 'none'})`);
    if (redirect !== null) {
      try {
        const target = followTarget(redirect);
        const items = await this.items(target.node, target.gateway ?? this.nodes[namespace].gateway ?? null);
        const source = sourceOfItems(entriesOf(items));
        return await this.setUp(namespace, { type: 'follow', node: redirect, source });
      } catch (e) {
        // Not a node the gateway or the core accepts: as good as no redirect. (A gateway that
        // cannot answer now fails the callback, which the gateway delivers again later.)
        const refused = e instanceof SetupError || (e instanceof GatewayError && e.status < 500);
        if (!refused) throw e;
        this.log(`${namespace || '(all)'}: the redirect to ${redirect} is not followed (${e.code}: ${e.message})`);
      }
    }
    for (const [store, id] of await this.subjectsUnder(namespace)) {
      await this.run(store, id, () => ({ type: 'sourceGone', redirect: null }));
    }
  }

  /**
   * A bare retraction: the tombstone names only the item (`ref`, its `atom:id`); the core
   * says what the page or media file it names does (`publisher`: who retracted it, as the
   * gateway authenticated them; null: not reported).
   */
  async retracted(namespace, tombstone, publisher = null) {
    const ref = /\bref=(?:"([^"]*)"|'([^']*)')/.exec(tombstone);
    const item = ref ? unescapeXml(ref[1] ?? ref[2]) : '';
    const subject = itemSubject(item);
    const id = subject?.page ?? subject?.media;
    // A node changes only the pages of the namespace it was subscribed for.
    if (id === undefined || namespaceOf(this.config, id) !== namespace) {
      this.log(`retraction of ${item || '(no item)'} on ${namespace || '(all)'}: not an item of this namespace, ignored`);
      return;
    }
    const d = await this.run(subject.type === 'media' ? 'media' : 'page', id, () => ({ type: 'retracted', item, publisher }));
    this.log(`${id}: retracted, ${d.outcome.type}${d.outcome.reason ? ` (${d.outcome.reason})` : ''}`);
  }

  /** The namespace whose node `uri` names, in any spelling. */
  namespaceOfNode(uri) {
    return Object.keys(this.nodes).find((ns) => this.nodes[ns].node && sameNode(this.nodes[ns].node, uri));
  }

  /** The pages and media files (`[store, id]`) with a sync state under `namespace`. */
  async subjectsUnder(namespace) {
    const out = [];
    const prefix = namespace ? `${namespace}:` : '';
    for (const store of ['page', 'media']) {
      const walk = async (dir, ids) => {
        let items;
        try { items = await readdir(dir, { withFileTypes: true }); } catch { return; }
        for (const item of items) {
          if (item.isDirectory()) await walk(join(dir, item.name), `${ids}${item.name}:`);
          else if (item.name.endsWith('.json')) out.push([store, `${ids}${item.name.slice(0, -5)}`]);
        }
      };
      await walk(join(this.dir, STORES[store].metas, ...(namespace ? namespace.split(':') : [])), prefix);
    }
    return out;
  }

  /**
   * Request headers; a publisher token goes to its own gateway only: `token` to `gateway`,
   * and `tokens[url]` to another gateway at `url` (where this site publishes after moving a
   * namespace there).
   */
  headers(type, url = this.options.gateway) {
    const headers = {};
    if (type) headers['content-type'] = type;
    const origin = new URL(url).origin;
    const token = origin === new URL(this.options.gateway).origin ? this.options.token
      : Object.entries(this.options.tokens ?? {}).find(([gw]) => new URL(gw).origin === origin)?.[1];
    if (token) headers.authorization = `Bearer ${token}`;
    return headers;
  }

  /**
   * A gateway request (to `at`, another gateway's base URL; null: this site's); resolves to
   * the answer's text. An error whose code is in `done` means there is nothing to do (e.g.
   * `subscription_exists`) and resolves to null.
   */
  async gateway(method, path, body, type, done = [], at = null) {
    const url = `${at ?? this.options.gateway}${path}`;
    const res = await fetch(url, { method, headers: this.headers(type, url), body });
    const text = await res.text();
    if (res.ok) return text;
    const error = gatewayError(method, path, res.status, text);
    if (done.includes(error.code)) return null;
    throw error;
  }
}

function gatewayError(method, path, status, body) {
  let code = null;
  try { code = JSON.parse(body).error ?? null; } catch { /* not the gateway's JSON error */ }
  return new GatewayError(`gateway ${method} ${path}: ${status} ${body}`, status, code);
}

/** The entries of decoded feed items (refused items left out). */
function entriesOf(items) {
  return items.flatMap(({ entry }) => (entry === null ? [] : [entry]));
}

/** The target of the first link with relation `rel` in a `Link` header, resolved against `base`. */
function linkOf(header, rel, base) {
  for (const m of (header ?? '').matchAll(/<([^>]*)>\s*((?:;\s*[^;,]*)*)/g)) {
    const rels = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2]);
    if (rels && (rels[1] ?? rels[2]).toLowerCase().split(/\s+/).includes(rel)) {
      return base === undefined ? m[1] : new URL(m[1], base).href;
    }
  }
  return null;
}

function unescapeXml(text) {
  const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return text.replace(/&(?:#x([0-9a-f]+)|#([0-9]+)|(amp|lt|gt|quot|apos));/gi,
    (_, hex, dec, name) => (name ? named[name.toLowerCase()] : String.fromCodePoint(parseInt(hex ?? dec, hex ? 16 : 10))));
}

function validSignature(secret, body, header) {
  if (!secret) return true;
  const m = /^sha256=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const want = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(want, Buffer.from(m[1], 'hex'));
}

/**
 * The publisher a delivery names (`X-Wikisync-Publisher`), checked against
 * `X-Wikisync-Signature: sha256=<hex HMAC-SHA256(secret, publisher "\n" body)>`: null when it
 * names none, false when it names one without a valid signature (or the subscription has no
 * secret to check it with).
 */
function signedPublisher(secret, body, headers) {
  const publisher = (headers['x-wikisync-publisher'] ?? '').trim();
  if (publisher === '') return null;
  const m = /^sha256=([0-9a-f]{64})$/i.exec((headers['x-wikisync-signature'] ?? '').trim());
  if (!secret || !m) return false;
  const want = createHmac('sha256', secret).update(`${publisher}\n`).update(body).digest();
  return timingSafeEqual(want, Buffer.from(m[1], 'hex')) ? publisher : false;
}

const ATOM_NS = 'http://www.w3.org/2005/Atom';
const TOMBSTONES_NS = 'http://purl.org/atompub/tombstones/1.0';
const GATEWAY_NS = 'urn:x-wikisync:gateway:1';

/**
 * The publisher the gateway names in each entry of a `/items` feed (its child
 * `<publisher xmlns="urn:x-wikisync:gateway:1">`, null for none), oldest first like
 * `decodeFeed`. A small scanner of the markup (comments, CDATA and processing instructions
 * skipped, namespaces resolved per element): it only carries the value over; the core has
 * already refused a feed that is not well-formed or has a DOCTYPE. An empty list when the
 * markup cannot be followed (the caller then takes every publisher as unknown).
 */
export function feedPublishers(feed) {
  const stack = []; // { name, ns: Map(prefix → uri) }
  const out = [];
  let current = null; // { publisher, depth } of the entry being read
  let text = null; // the text of a gateway publisher element being read
  const tokens = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<\?[\s\S]*?\?>|<\/([^\s>]+)\s*>|<([^\s/>!?]+)((?:\s+[^\s=]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/g;
  const lookup = (prefix, own) => {
    if (own.has(prefix)) return own.get(prefix);
    for (let i = stack.length - 1; i >= 0; i--) if (stack[i].ns.has(prefix)) return stack[i].ns.get(prefix);
    return prefix === '' ? '' : null;
  };
  let m;
  let end = 0;
  while ((m = tokens.exec(feed)) !== null) {
    if (m.index !== end) return [];
    end = tokens.lastIndex;
    const [, close, open, attrs, selfClosing, chars] = m;
    if (chars !== undefined) {
      if (text !== null) text += unescapeXml(chars);
    } else if (open !== undefined) {
      const ns = new Map();
      for (const a of attrs.matchAll(/([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        if (a[1] === 'xmlns') ns.set('', unescapeXml(a[2] ?? a[3]));
        else if (a[1].startsWith('xmlns:')) ns.set(a[1].slice(6), unescapeXml(a[2] ?? a[3]));
      }
      const colon = open.indexOf(':');
      const [prefix, local] = colon < 0 ? ['', open] : [open.slice(0, colon), open.slice(colon + 1)];
      const uri = lookup(prefix, ns);
      const depth = stack.length;
      if (depth <= 1 && ((uri === ATOM_NS && local === 'entry') || (uri === TOMBSTONES_NS && local === 'deleted-entry'))) {
        current = { publisher: null, depth };
        if (selfClosing) { out.push(null); current = null; }
      } else if (current && depth === current.depth + 1 && uri === GATEWAY_NS && local === 'publisher') {
        text = '';
        if (selfClosing) { current.publisher = null; text = null; }
      }
      if (!selfClosing) stack.push({ name: open, ns });
    } else if (close !== undefined) {
      const top = stack.pop();
      if (!top || top.name !== close) return [];
      if (text !== null && current && stack.length === current.depth + 1) {
        current.publisher = text.trim() || null;
        text = null;
      } else if (current && stack.length === current.depth) {
        out.push(current.publisher);
        current = null;
      }
    }
  }
  if (end !== feed.length || stack.length) return [];
  return out.reverse();
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
