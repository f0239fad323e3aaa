// The package's API over the raw WebAssembly exports (see docs/bindings.md). Loaded through
// node.js or browser.js, which instantiate the module first. Thin: plain objects go in and
// out as JSON text, the core does the work, and thrown failures become Error subclasses.
import * as wasm from './wikisync_js.js';

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

/** An entry document was refused (`code` is the core's, e.g. `hash_mismatch`). */
export class DecodeError extends WikiSyncError {}

/** An argument does not have the documented shape; `code` is always `invalid_argument`. */
export class InvalidArgumentError extends WikiSyncError {
  constructor(message, options) {
    super(message, 'invalid_argument', options);
  }
}

const classes = { page_id: PageIdError, decode: DecodeError };

// Runs a raw export, turning its tagged failure into the matching error class.
function call(fn, ...args) {
  try {
    return fn(...args);
  } catch (e) {
    if (e instanceof wasm.Failure) {
      const kind = e.kind, code = e.code, message = e.message;
      e.free();
      const Class = classes[kind];
      throw Class ? new Class(message, code) : new InvalidArgumentError(message);
    }
    throw e;
  }
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

function describe(value) {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** Cleans a page id by DokuWiki's `cleanID` rules; throws `PageIdError` for escapes. */
export function cleanPageId(raw) {
  return call(wasm.cleanPageId, text('raw', raw));
}

/** The Atom XML of an entry. */
export function encodeEntry(entry) {
  return call(wasm.encodeEntry, json('entry', entry));
}

/** Parses an Atom entry document (a string, or UTF-8 bytes); throws `DecodeError`. */
export function decodeEntry(xml, options) {
  let maxBytes;
  if (options !== undefined && options !== null) {
    if (typeof options !== 'object') {
      throw new InvalidArgumentError(`options: expected an object, got ${describe(options)}`);
    }
    maxBytes = options.maxBytes ?? undefined;
    if (maxBytes !== undefined && typeof maxBytes !== 'number') {
      throw new InvalidArgumentError(`options.maxBytes: expected a number, got ${describe(maxBytes)}`);
    }
  }
  if (xml instanceof Uint8Array) {
    return JSON.parse(call(wasm.decodeEntryBytes, xml, maxBytes));
  }
  return JSON.parse(call(wasm.decodeEntryText, text('xml', xml), maxBytes));
}

/** The SHA-256 of the UTF-8 text, lowercase hex. */
export function sha256Hex(value) {
  return wasm.sha256Hex(text('text', value));
}

/** Three-way merge, line-based like `git merge-file` plus a word pass inside conflicts. */
export function merge(base, ours, theirs, options) {
  const opts = options === undefined || options === null ? undefined : json('options', options);
  return JSON.parse(
    call(wasm.merge, text('base', base), text('ours', ours), text('theirs', theirs), opts),
  );
}

/** The sync state of a page that has never been synced. */
export function newPageState(pageId) {
  return JSON.parse(call(wasm.newPageState, text('pageId', pageId)));
}

/** Runs one sync input; store `decision.state`, then carry out `decision.actions` in order. */
export function handle(config, state, input) {
  return JSON.parse(
    call(wasm.handle, json('config', config), json('state', state), json('input', input)),
  );
}

/** A pending conflict rendered with git-style markers. */
export function renderConflict(conflict) {
  return call(wasm.renderConflict, json('conflict', conflict));
}
