// The package's API over the raw WebAssembly exports (docs/bindings.md). Thin: plain objects
// go in and out as JSON text in the core's own shape, page states stay inside WebAssembly, the
// core decides, and thrown failures become Error subclasses. Importing has no side effect:
// `init()` (node.js in Node, browser.js elsewhere) or `initSync()` loads the module.
import loadModule, * as wasm from './wikisync_js.js';

/** Base class of every error this package throws; `code` is stable, the message is for humans. */
export class WikiSyncError extends Error {
  constructor(message, code, options) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A page id was refused (`code` is the core's, e.g. `path_traversal`). */
export class PageIdError extends WikiSyncError {}

/** An entry or feed was refused (`code` is the core's, e.g. `hash_mismatch`). */
export class DecodeError extends WikiSyncError {}

/**
 * A namespace change was refused (`not_synced`, `not_source`, `bad_node`, `not_following`), or
 * a node's items come from another site than a mirror's source (`wrong_source`).
 */
export class SetupError extends WikiSyncError {}

/** Fetched media bytes are not the ones announced: `size_mismatch` or `hash_mismatch`. */
export class MediaError extends WikiSyncError {}

/** An argument does not have the documented shape; `code` is always `invalid_argument`. */
export class InvalidArgumentError extends WikiSyncError {
  constructor(message, options) {
    super(message, 'invalid_argument', options);
  }
}

const classes = { pageId: PageIdError, decode: DecodeError, setup: SetupError, media: MediaError };

let ready = false;
let loading = null;

/**
 * Loads the WebAssembly module from `source` (bytes, a `Response` or its promise, a `URL`, a
 * `WebAssembly.Module`; by default the `.wasm` next to this package, fetched). Later calls
 * resolve at once.
 */
export function init(source) {
  if (ready) return Promise.resolve();
  loading ??= loadModule({ module_or_path: source }).then(
    () => { ready = true; },
    (e) => { loading = null; throw e; },
  );
  return loading;
}

/** Loads the WebAssembly module from its bytes (or a compiled `WebAssembly.Module`) at once. */
export function initSync(bytes) {
  if (ready) return;
  if (loading) throw new WikiSyncError('init() is loading the module already: await it', 'not_initialized');
  if (!(bytes instanceof WebAssembly.Module || ArrayBuffer.isView(bytes) || bytes instanceof ArrayBuffer)) {
    throw new InvalidArgumentError(`bytes: expected the .wasm's bytes or a WebAssembly.Module, got ${describe(bytes)}`);
  }
  wasm.initSync({ module: bytes });
  ready = true;
}

// Runs a raw export, turning its failure into the matching error class.
function call(f) {
  if (!ready) {
    throw new WikiSyncError('wikisync is not initialized: call `await init()` (or `initSync(bytes)`) first', 'not_initialized');
  }
  try {
    return f();
  } catch (e) {
    if (!(e instanceof wasm.Failure)) throw e;
    const { kind, code, message } = e;
    e.free();
    if (kind === 'invalidArgument') throw new InvalidArgumentError(message);
    throw new (classes[kind] ?? WikiSyncError)(message, code);
  }
}

function describe(value) {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

function text(what, value) {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`${what}: expected a string, got ${describe(value)}`);
  }
  return value;
}

function json(what, value) {
  if (value === null || typeof value !== 'object') {
    throw new InvalidArgumentError(`${what}: expected an object, got ${describe(value)}`);
  }
  try {
    return JSON.stringify(value);
  } catch (cause) {
    throw new InvalidArgumentError(`${what}: not JSON data: ${cause.message}`, { cause });
  }
}

function bytes(what, value) {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${what}: expected a Uint8Array, got ${describe(value)}`);
  }
  return value;
}

function list(what, value) {
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(`${what}: expected an array, got ${describe(value)}`);
  }
  return json(what, value);
}

function number(what, value) {
  if (typeof value !== 'number') {
    throw new InvalidArgumentError(`${what}: expected a number, got ${describe(value)}`);
  }
  return value;
}

// The page state inside each PageState; a state handed to `handle` has none any more.
const states = new WeakMap();

function rawOf(state) {
  const raw = states.get(state);
  if (raw !== undefined) return raw;
  throw new InvalidArgumentError(state instanceof PageState
    ? 'state: this PageState was handed to handle() already; keep the state of its decision'
    : `state: expected a PageState (newPageState() or PageState.fromJSON()), got ${describe(state)}`);
}

/** A page's sync state, kept inside WebAssembly: store `toJSON()`, pass it back unread. */
export class PageState {
  /** Not for callers: states come from `newPageState`, `PageState.fromJSON` and `handle`. */
  constructor(raw) {
    if (!(raw instanceof wasm.PageState)) {
      throw new TypeError('use newPageState() or PageState.fromJSON() to make a PageState');
    }
    states.set(this, raw);
  }

  /** The state `toJSON()` gave, as the object or its JSON text. */
  static fromJSON(value) {
    const state = typeof value === 'string' ? value : json('state', value);
    return new PageState(call(() => wasm.PageState.fromJSON(state)));
  }

  /** The plain object to store (`JSON.stringify(state)` calls it). */
  toJSON() {
    return JSON.parse(call(() => rawOf(this).toJSON()));
  }

  /** The page id. */
  get page() {
    return call(() => rawOf(this).page);
  }

  /** The conflict waiting for the local editor, or null. */
  get conflict() {
    const conflict = call(() => rawOf(this).conflict);
    return conflict === undefined ? null : JSON.parse(conflict);
  }
}

/** Cleans a page id by DokuWiki's `cleanID` rules; throws `PageIdError` for escapes. */
export function cleanPageId(raw) {
  return call(() => wasm.cleanPageId(text('raw', raw)));
}

/** The Atom XML of an entry. */
export function encodeEntry(entry) {
  return call(() => wasm.encodeEntry(json('entry', entry)));
}

// `options.maxBytes`, the one decode option.
function maxBytes(options) {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object') {
    throw new InvalidArgumentError(`options: expected an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'maxBytes') throw new InvalidArgumentError(`options: unknown option \`${key}\``);
  }
  return options.maxBytes === undefined ? undefined : number('options.maxBytes', options.maxBytes);
}

// Runs a decoder on a string or UTF-8 bytes; the result is JSON text.
function decode(fromBytes, fromText, xml, options) {
  const max = maxBytes(options);
  return JSON.parse(call(() => (xml instanceof Uint8Array
    ? fromBytes(xml, max)
    : fromText(text('xml', xml), max))));
}

/** Parses an Atom entry document (a string, or UTF-8 bytes); throws `DecodeError`. */
export function decodeEntry(xml, options) {
  return decode(wasm.decodeEntryBytes, wasm.decodeEntryText, xml, options);
}

/** Every entry of an Atom feed (the gateway's `/items`), oldest first, each decoded on its own. */
export function decodeFeed(xml, options) {
  return decode(wasm.decodeFeedBytes, wasm.decodeFeedText, xml, options);
}

/** The SHA-256 of the UTF-8 text, lowercase hex. */
export function sha256Hex(value) {
  return call(() => wasm.sha256Hex(text('text', value)));
}

/** The SHA-256 of bytes (a `Uint8Array`, e.g. a Node `Buffer`), lowercase hex. */
export function sha256HexBytes(value) {
  return call(() => wasm.sha256HexBytes(bytes('bytes', value)));
}

/**
 * Checks fetched media bytes against the `sha256` and `size` their entry (or `writeMedia`
 * action) announced; throws `MediaError` when they differ: do not write them.
 */
export function verifyMedia(value, sha256, size) {
  call(() => wasm.verifyMedia(bytes('bytes', value), text('sha256', sha256), number('size', size)));
}

/** What a node's item id names (`{ type: 'page' | 'draft', page }`, `{ type: 'media', media }`), or null. */
export function itemSubject(itemId) {
  return JSON.parse(call(() => wasm.itemSubject(text('itemId', itemId))));
}

/** A site id in the normal form the core compares (URLs: lower-case host, no default port, final `/`). */
export function normalizeSiteId(raw) {
  return call(() => wasm.normalizeSiteId(text('raw', raw)));
}

/** Three-way merge, line-based like `git merge-file` plus a word pass inside conflicts. */
export function merge(base, ours, theirs, options) {
  const opts = options === undefined || options === null ? undefined : json('options', options);
  return JSON.parse(call(() => wasm.merge(text('base', base), text('ours', ours), text('theirs', theirs), opts)));
}

/** The sync state of a page that has never been synced. */
export function newPageState(pageId) {
  return new PageState(call(() => wasm.newPageState(text('pageId', pageId))));
}

/**
 * Runs one sync input at `now` (Unix milliseconds). Takes the state over: carry out the
 * decision's actions in order, then keep `decision.state`.
 */
export function handle(config, state, input, now = Date.now()) {
  const raw = rawOf(state);
  const answer = JSON.parse(call(() => wasm.handle(json('config', config), raw, json('input', input), number('now', now))));
  states.delete(state);
  return { outcome: answer.outcome, state: new PageState(raw), actions: answer.actions };
}

/** What to show with the page at `now` (Unix milliseconds). */
export function notices(config, state, now = Date.now()) {
  return JSON.parse(call(() => wasm.notices(json('config', config), rawOf(state), number('now', now))));
}

/** A pending conflict rendered with git-style markers. */
export function renderConflict(conflict) {
  return call(() => wasm.renderConflict(json('conflict', conflict)));
}

/** Whether the page (its text here, null: no page) still has to be published. */
export function needsPublish(state, localText) {
  return call(() => wasm.needsPublish(rawOf(state), localText == null ? undefined : text('localText', localText)));
}

/** Whether the media file whose bytes here have this SHA-256 (null: no file) still has to be published. */
export function mediaNeedsPublish(state, sha256) {
  return call(() => wasm.mediaNeedsPublish(rawOf(state), sha256 == null ? undefined : text('sha256', sha256)));
}

/** `'retry'` or `'reject'`: what to do with an entry the gateway refused with this HTTP status. */
export function publishFailure(status) {
  return JSON.parse(call(() => wasm.publishFailure(number('status', status))));
}

/** The namespace a page is synced with (its longest matching rule), or null. */
export function namespaceOf(config, pageId) {
  return call(() => wasm.namespaceOf(json('config', config), text('pageId', pageId))) ?? null;
}

/** Whether local users may not edit the page here (a mirror). */
export function isReadOnly(config, pageId) {
  return call(() => wasm.isReadOnly(json('config', config), text('pageId', pageId)));
}

/** The steps that turn the namespace's `current` setup (null: none) into the `request`. */
export function planSetup(current, request) {
  const setup = current === null || current === undefined ? 'null' : json('current', current);
  return JSON.parse(call(() => wasm.planSetup(setup, json('request', request))));
}

/** The site a node's items (entries) come from, as far as they say, or null. */
export function sourceOfItems(entries) {
  return call(() => wasm.sourceOfItems(list('entries', entries))) ?? null;
}

/** Throws `SetupError` (`wrong_source`) when a node's items come from another site than `source`. */
export function checkMirrorSource(source, entries) {
  call(() => wasm.checkMirrorSource(text('source', source), list('entries', entries)));
}

/** Whether an administrator should hear of an `ignore` outcome with this reason. */
export function worthReporting(reason) {
  return call(() => wasm.worthReporting(text('reason', reason)));
}

/** Whether an administrator should hear of a notice (beyond the page's readers). */
export function noticeWorthReporting(notice) {
  return call(() => wasm.noticeWorthReporting(json('notice', notice)));
}

/**
 * What to do about the subscription of `namespace`, given the site's config (its
 * `leaseSeconds` and `sourceGraceSeconds`), what the gateway said about it (a
 * SubscriptionReport) and `now` (Unix milliseconds).
 */
export function checkSubscription(config, namespace, report, now = Date.now()) {
  return JSON.parse(call(() => wasm.checkSubscription(json('config', config), text('namespace', namespace),
    json('report', report), number('now', now))));
}

/** Whether this site tells the gateway it is alive for `namespace` (it is its source). */
export function sendsHeartbeat(config, namespace) {
  return call(() => wasm.sendsHeartbeat(json('config', config), text('namespace', namespace)));
}

/** The item id a bare retraction (`Event: RETRACTED`) names; throws `DecodeError` otherwise. */
export function decodeRetraction(xml) {
  return call(() => wasm.decodeRetraction(text('xml', xml)));
}

/** Whether two XMPP node URIs name the same node (any spelling old clients send). */
export function sameNode(a, b) {
  return call(() => wasm.sameNode(text('a', a), text('b', b)));
}

/**
 * Where a node is followed: `{ gateway, node }` for a node URI alone (`gateway` null: on the
 * gateway the namespace uses) or another gateway's feed URL; throws `SetupError` (`bad_node`).
 */
export function followTarget(ref) {
  return JSON.parse(call(() => wasm.followTarget(text('ref', ref))));
}

/** The text naming `node` on `gateway` (its feed URL there), or the node URI alone when `gateway` is null. */
export function nodeRef(gateway, node) {
  const at = gateway === null || gateway === undefined ? undefined : text('gateway', gateway);
  return call(() => wasm.nodeRef(at, text('node', node)));
}
