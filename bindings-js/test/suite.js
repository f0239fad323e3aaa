// The conformance suite of the JS binding, shared by Node (node.test.js, node:test) and headless
// Chromium (browser.html). It runs every case of tests/vectors/*.json and checks what the Rust
// runners in crates/wikisync-core/tests/ check, plus the error classes and key conversion.
//
// defineSuite({ test, assert, api, vectors }):
//   test(name, fn)   registers a test;
//   assert           strictEqual, deepStrictEqual, ok, throws(fn, predicate) like node:assert;
//   api              the package's exports;
//   vectors          { page_ids, entries, merge, decisions, locks }: the parsed vector files.

// Maps whose keys are site ids (data), not field names: never renamed.
const DATA_KEYED = new Set(['clock', 'released', 'opened']);

/** The vector form (snake_case keys) → the JS API form (camelCase keys). */
export function camel(value) {
  if (Array.isArray(value)) return value.map(camel);
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const [key, v] of Object.entries(value)) {
    const name = key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
    out[name] = DATA_KEYED.has(key) && v !== null && !Array.isArray(v) ? v : camel(v);
  }
  return out;
}

export function defineSuite({ test, assert, api, vectors }) {
  const {
    cleanPageId, encodeEntry, decodeEntry, sha256Hex, merge, newPageState, handle,
    renderConflict, WikiSyncError, PageIdError, DecodeError, InvalidArgumentError,
  } = api;

  // Asserts that fn throws an instance of Class with this code.
  function throwsCoded(fn, Class, code, label) {
    assert.throws(fn, (e) => {
      assert.ok(e instanceof Class, `${label}: ${e} is not a ${Class.name}`);
      assert.ok(e instanceof WikiSyncError && e instanceof Error, `${label}: not a WikiSyncError`);
      assert.strictEqual(e.name, Class.name, `${label}: name`);
      assert.strictEqual(e.code, code, `${label}: code`);
      assert.ok(typeof e.message === 'string' && e.message.length > 0, `${label}: message`);
      return true;
    });
  }

  test('page_ids.json: every case', () => {
    const cases = vectors.page_ids.cases;
    assert.ok(cases.length > 20);
    for (const c of cases) {
      if (c.error === null) {
        assert.strictEqual(cleanPageId(c.raw), c.expected, c.name);
      } else {
        assert.strictEqual(c.expected, null, `${c.name}: exactly one of expected/error`);
        throwsCoded(() => cleanPageId(c.raw), PageIdError, c.error, c.name);
      }
    }
  });

  test('entries.json: every case, decoded from strings and from bytes', () => {
    const utf8 = new TextEncoder();
    let encodes = 0;
    const codes = new Set();
    for (const c of vectors.entries.cases) {
      const options = c.max_bytes === undefined ? undefined : { maxBytes: c.max_bytes };
      const decode = () => decodeEntry(c.xml, options);
      const decodeBytes = () => decodeEntry(utf8.encode(c.xml), options);
      if (c.op === 'encode') {
        encodes += 1;
        assert.strictEqual(encodeEntry(camel(c.entry)), c.xml, `${c.name}: encoding differs`);
        // A vector's snake_case entry may be passed as it is.
        assert.strictEqual(encodeEntry(c.entry), c.xml, `${c.name}: snake_case input`);
        assert.deepStrictEqual(decode(), camel(c.entry), `${c.name}: does not decode back`);
      } else if (c.op === 'decode') {
        if (c.error === null) {
          assert.deepStrictEqual(decode(), camel(c.entry), c.name);
          assert.deepStrictEqual(decodeBytes(), camel(c.entry), `${c.name} (bytes)`);
        } else {
          assert.strictEqual(c.entry, null, `${c.name}: exactly one of entry/error`);
          throwsCoded(decode, DecodeError, c.error, c.name);
          throwsCoded(decodeBytes, DecodeError, c.error, `${c.name} (bytes)`);
          codes.add(c.error);
        }
      } else {
        assert.fail(`${c.name}: unknown op ${c.op}`);
      }
    }
    assert.ok(encodes >= 4, 'one encode case per entry kind');
    assert.ok(codes.size >= 16, `every DecodeError code is exercised (saw ${codes.size})`);
  });

  test('merge.json: every case', () => {
    const cases = vectors.merge.cases;
    assert.ok(cases.length >= 30);
    for (const c of cases) {
      const got = merge(c.base, c.ours, c.theirs, c.options);
      assert.strictEqual(got.text, c.expected.text, `${c.name}: merged text`);
      assert.strictEqual(got.conflicts, c.expected.conflicts, `${c.name}: conflict count`);
      assert.strictEqual(got.clean, c.expected.clean, `${c.name}: clean`);
      assert.strictEqual(
        got.regions.filter((r) => r.type === 'conflict').length, got.conflicts,
        `${c.name}: regions`,
      );
      // The labels also as an object, the documented JS form.
      const [ours, base, theirs] = c.options.labels;
      const named = merge(c.base, c.ours, c.theirs, { ...c.options, labels: { ours, base, theirs } });
      assert.strictEqual(named.text, c.expected.text, `${c.name}: named labels`);
    }
  });

  test('decisions.json: every case, and applying it twice changes nothing', () => {
    const cases = vectors.decisions.cases;
    assert.ok(cases.length > 0);
    for (const c of cases) {
      const config = camel(c.config);
      const entry = camel(c.entry);
      const input = { type: 'notification', localText: c.local_text, entry, now: c.now };
      const d = handle(config, camel(c.state), input);
      assert.deepStrictEqual(d.outcome, camel(c.expected.outcome), `${c.name}: outcome`);
      assert.deepStrictEqual(d.actions, camel(c.expected.actions), `${c.name}: actions`);
      const essentials = {
        clock: d.state.clock, text: d.state.text, lock: d.state.lock,
        conflict: d.state.conflict !== null,
      };
      assert.deepStrictEqual(essentials, camel(c.expected.state), `${c.name}: state`);
      // Idempotence, as the Rust runner checks it.
      let textAfter = c.local_text;
      for (const a of d.actions) {
        if (a.type === 'write_page') textAfter = a.text;
        if (a.type === 'delete_page') textAfter = null;
      }
      const conflictReport = entry.kind.type === 'draft' && entry.kind.conflictWith !== null;
      if (!conflictReport) {
        const again = handle(config, d.state, { ...input, localText: textAfter });
        assert.strictEqual(again.outcome.type, 'ignore', `${c.name}: not idempotent`);
        assert.deepStrictEqual(again.state, d.state, `${c.name}: second application changed the state`);
      }
    }
  });

  test('locks.json: every step of every trace', () => {
    const cases = vectors.locks.cases;
    assert.ok(cases.length > 0);
    for (const c of cases) {
      const config = camel(c.config);
      let state = camel(c.state);
      c.steps.forEach((step, i) => {
        const label = `${c.name} step ${i}`;
        const d = handle(config, state, camel(step.input));
        assert.deepStrictEqual(d.outcome, camel(step.expected.outcome), `${label}: outcome`);
        assert.strictEqual(d.state.lock.type, step.expected.lock, `${label}: lock`);
        assert.deepStrictEqual(d.actions, camel(step.expected.actions), `${label}: actions`);
        state = d.state;
      });
    }
  });

  test('error classes are real subclasses with stable codes', () => {
    for (const Class of [PageIdError, DecodeError, InvalidArgumentError]) {
      assert.ok(Object.getPrototypeOf(Class) === WikiSyncError, `${Class.name} extends WikiSyncError`);
    }
    assert.ok(Object.getPrototypeOf(WikiSyncError) === Error);
    const e = new PageIdError('m', 'empty');
    assert.ok(e instanceof PageIdError && e instanceof WikiSyncError && e instanceof Error);
    assert.ok(typeof e.stack === 'string');
    assert.strictEqual(new InvalidArgumentError('m').code, 'invalid_argument');
    throwsCoded(() => cleanPageId('a/../b'), PageIdError, 'path_separator', 'cleanPageId');
    throwsCoded(() => newPageState('..'), PageIdError, 'path_traversal', 'newPageState');
    throwsCoded(() => decodeEntry('<entry'), DecodeError, 'malformed_xml', 'decodeEntry');
    throwsCoded(
      () => decodeEntry('<x/>', { maxBytes: 2 }), DecodeError, 'too_large', 'decodeEntry maxBytes',
    );
  });

  test('misshapen arguments throw InvalidArgumentError, bad page ids inside them PageIdError', () => {
    const bad = (fn, label) => throwsCoded(fn, InvalidArgumentError, 'invalid_argument', label);
    const config = { site: 's', rules: [{ namespace: '', role: { type: 'peer' } }], lockSeconds: 900, mediaType: 'text/x-dokuwiki' };
    const state = newPageState('wiki:start');
    bad(() => cleanPageId(42), 'number for a string');
    bad(() => sha256Hex(undefined), 'undefined text');
    bad(() => handle(null, state, { type: 'tick', now: 1 }), 'null config');
    bad(() => handle({}, state, { type: 'tick', now: 1 }), 'empty config');
    bad(() => handle(config, state, { type: 'no_such_input', now: 1 }), 'unknown input type');
    bad(() => handle(config, state, { type: 'tick', now: 'soon' }), 'string time');
    bad(() => merge('a', 'b', 'c', { word: true }), 'unknown merge option');
    bad(() => merge('a', 'b', 'c', { labels: ['x'] }), 'one label');
    bad(() => decodeEntry('<x/>', { maxBytes: -1 }), 'negative maxBytes');
    bad(() => decodeEntry('<x/>', { maxBytes: 1.5 }), 'fractional maxBytes');
    bad(() => decodeEntry(7), 'number for xml');
    const cyclic = {};
    cyclic.self = cyclic;
    bad(() => encodeEntry(cyclic), 'cyclic object');
    throwsCoded(
      () => handle(config, { ...state, page: 'a:..:b' }, { type: 'tick', now: 1 }),
      PageIdError, 'path_traversal', 'page id inside the state',
    );
  });

  test('values cross as camelCase plain objects; site-keyed maps keep their keys', () => {
    const state = newPageState('Wiki:Start');
    assert.strictEqual(state.page, 'wiki:start');
    assert.deepStrictEqual(Object.keys(state).sort(), [
      'clock', 'conflict', 'followedSource', 'head', 'history', 'lock', 'page', 'released',
      'sourceGone', 'text',
    ]);
    assert.strictEqual(Object.getPrototypeOf(state), Object.prototype);
    const site = 'https://a_b.example/';
    const config = { site, rules: [{ namespace: '', role: { type: 'peer' } }], lockSeconds: 900, mediaType: 'text/x-dokuwiki' };
    const edit = { change: { type: 'text', text: 'x\n' }, author: 'me', summary: null, minor: false, revision: 5 };
    const d = handle(config, state, { type: 'local_save', edit, now: 5 });
    assert.deepStrictEqual(d.state.clock, { [site]: 5 });
    assert.strictEqual(d.actions[0].type, 'publish');
    assert.strictEqual(d.actions[0].entry.atomId, 'urn:x-wikisync:page:wiki:start');
    assert.strictEqual(d.actions[0].entry.kind.mediaType, 'text/x-dokuwiki');
    // The state goes back in as it came out.
    const again = handle(config, d.state, { type: 'editor_opened', editor: 'me', now: 6 });
    assert.deepStrictEqual(again.state.lock.opened, { [site]: 5 });
    assert.strictEqual(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.strictEqual(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.strictEqual(sha256Hex('é'), '4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c'); // of the UTF-8 bytes
  });

  test('merge result and renderConflict', () => {
    const m = merge('a\nb\nc\n', 'a\nB\nc\n', 'a\nb2\nc\n', { words: false, markerSize: 3 });
    assert.strictEqual(m.clean, false);
    assert.strictEqual(m.conflicts, 1);
    assert.strictEqual(m.text, 'a\n<<< ours\nB\n===\nb2\n>>> theirs\nc\n');
    const conflict = {
      revision: { revision: 2, site: 's' }, clock: { s: 2 }, text: 'a\nb2\nc\n',
      regions: m.regions, left: 'here', right: 'there',
    };
    assert.strictEqual(renderConflict(conflict), 'a\n<<<<<<< here\nB\n=======\nb2\n>>>>>>> there\nc\n');
  });
}
