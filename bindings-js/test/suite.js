// The conformance suite of the JS binding, shared by Node (node.test.js, node:test) and headless
// Chromium (browser.html). It runs every case of tests/vectors/*.json and checks what the Rust
// runners in crates/wikisync-core/tests/ check, plus the loading rules, the page state's
// take-over, the time in milliseconds and the error classes.
//
// defineSuite({ test, assert, api, vectors, env }):
//   test(name, fn)   registers a test (fn may be async; tests run in order);
//   assert           strictEqual, deepStrictEqual, ok, fail, throws(fn, predicate) like node:assert;
//   api              the package's exports, not initialized yet (the first test loads it);
//   vectors          every vector file, parsed, by name (`page_ids`, `entries`, ...);
//   env              { fresh(): a new, uninitialized copy of the package; wasmBytes; wasmUrl;
//                      initSyncDefault: whether initSync() without bytes loads the package's }.

export const VECTOR_FILES = [
  'page_ids', 'entries', 'merge', 'decisions', 'locks', 'notices', 'setup', 'hosts', 'feeds',
  'node_uris', 'site_ids', 'follow_targets',
];

export function defineSuite({ test, assert, api, vectors, env }) {
  const {
    init, cleanPageId, encodeEntry, decodeEntry, decodeFeed, sha256Hex, merge, newPageState,
    PageState, handle, notices, renderConflict, needsPublish, publishFailure, namespaceOf,
    isReadOnly, planSetup, sameNode, sha256HexBytes, verifyMedia, itemSubject, normalizeSiteId,
    mediaNeedsPublish, sourceOfItems, checkMirrorSource, worthReporting, noticeWorthReporting,
    checkSubscription, sendsHeartbeat, decodeRetraction, followTarget, nodeRef,
    WikiSyncError, PageIdError, DecodeError, SetupError, MediaError, InvalidArgumentError,
  } = api;
  const S = 1000; // vectors give `now` in seconds, the JS API takes milliseconds

  // Asserts that fn throws an instance of Class with this code.
  function throwsCoded(fn, Class, code, label) {
    assert.throws(fn, (e) => {
      assert.ok(e instanceof Class, `${label}: ${e} is not a ${Class.name}`);
      assert.ok(e instanceof Error, `${label}: not an Error`);
      assert.strictEqual(e.name, Class.name, `${label}: name`);
      assert.strictEqual(e.code, code, `${label}: code`);
      assert.ok(typeof e.message === 'string' && e.message.length > 0, `${label}: message`);
      return true;
    });
  }
  const bad = (fn, label) => throwsCoded(fn, InvalidArgumentError, 'invalid_argument', label);
  // Media bytes are base64 in JSON (entries, actions, uploads).
  const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));
  // A media entry's inline bytes are what its sha256 and size say.
  function mediaVerifies(entry, label) {
    const { kind } = entry;
    if (kind.type !== 'media' || kind.data === null) return;
    const bytes = fromBase64(kind.data);
    assert.strictEqual(sha256HexBytes(bytes), kind.sha256, `${label}: sha256HexBytes`);
    verifyMedia(bytes, kind.sha256, kind.size);
  }

  const peer = (site = 'https://a.example/') => ({
    site, rules: [{ namespace: '', role: { type: 'peer' } }], lockSeconds: 900, mediaType: 'text/x-dokuwiki',
  });
  const save = (text, revision) => ({
    type: 'localSave',
    edit: { change: { type: 'text', text }, author: 'me', summary: null, minor: false, revision },
  });

  test('init: nothing runs before it, importing loads nothing, init() is idempotent', async () => {
    for (const op of [() => cleanPageId('a'), () => newPageState('a'), () => sha256Hex(''), () => sameNode('a', 'b')]) {
      throwsCoded(op, WikiSyncError, 'not_initialized', 'before init');
    }
    await Promise.all([init(), init()]);
    await init();
    assert.strictEqual(cleanPageId('Wiki:Start'), 'wiki:start');
  });

  test('init(source) and initSync(bytes) load the module from every documented source', async () => {
    const { wasmBytes, wasmUrl } = env;
    const sources = {
      bytes: wasmBytes,
      ArrayBuffer: wasmBytes.buffer.slice(wasmBytes.byteOffset, wasmBytes.byteOffset + wasmBytes.byteLength),
      'WebAssembly.Module': new WebAssembly.Module(wasmBytes),
      URL: wasmUrl,
      Response: new Response(wasmBytes, { headers: { 'content-type': 'application/wasm' } }),
    };
    for (const [label, source] of Object.entries(sources)) {
      const m = await env.fresh();
      throwsCoded(() => m.cleanPageId('a'), m.WikiSyncError, 'not_initialized', label);
      await m.init(source);
      assert.strictEqual(m.cleanPageId('A'), 'a', label);
    }
    const sync = await env.fresh();
    sync.initSync(wasmBytes);
    sync.initSync(wasmBytes); // again: nothing to do
    assert.strictEqual(sync.sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const plain = await env.fresh();
    if (env.initSyncDefault) {
      plain.initSync();
      assert.strictEqual(plain.cleanPageId('B'), 'b');
    } else {
      throwsCoded(() => plain.initSync(), plain.InvalidArgumentError, 'invalid_argument', 'initSync()');
    }
    const racing = await env.fresh();
    const loading = racing.init(wasmBytes);
    throwsCoded(() => racing.initSync(wasmBytes), racing.WikiSyncError, 'not_initialized', 'initSync during init');
    await loading;
  });

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
        assert.strictEqual(encodeEntry(c.entry), c.xml, `${c.name}: encoding differs`);
        assert.deepStrictEqual(decode(), c.entry, `${c.name}: does not decode back`);
        mediaVerifies(c.entry, c.name);
      } else if (c.op === 'decode') {
        if (c.error === null) {
          assert.deepStrictEqual(decode(), c.entry, c.name);
          assert.deepStrictEqual(decodeBytes(), c.entry, `${c.name} (bytes)`);
          mediaVerifies(c.entry, c.name);
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

  test('feeds.json: every case, one item per entry', () => {
    const cases = vectors.feeds.cases;
    assert.ok(cases.length > 0);
    const utf8 = new TextEncoder();
    for (const c of cases) {
      const options = c.maxBytes === undefined ? undefined : { maxBytes: c.maxBytes };
      if (c.expected.items == null) {
        throwsCoded(() => decodeFeed(c.xml, options), DecodeError, c.expected.error, c.name);
        continue;
      }
      const items = decodeFeed(c.xml, options);
      assert.deepStrictEqual(decodeFeed(utf8.encode(c.xml), options), items, `${c.name} (bytes)`);
      for (const item of items) {
        assert.ok((item.entry === null) !== (item.error === null), `${c.name}: entry xor error`);
        if (item.error !== null) assert.ok(item.error.message.length > 0, `${c.name}: message`);
      }
      const got = items.map((i) => (i.error === null ? { entry: i.entry } : { error: i.error.code }));
      assert.deepStrictEqual(got, c.expected.items, c.name);
    }
  });

  test('merge.json: every case, labels as a list and by name', () => {
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
      const [ours, base, theirs] = c.options.labels;
      const named = merge(c.base, c.ours, c.theirs, { ...c.options, labels: { ours, base, theirs } });
      assert.strictEqual(named.text, c.expected.text, `${c.name}: named labels`);
    }
  });

  test('decisions.json: every case, and applying it twice changes nothing', () => {
    const cases = vectors.decisions.cases;
    assert.ok(cases.length > 0);
    for (const c of cases) {
      const input = { type: 'notification', localText: c.localText, entry: c.entry };
      // the authenticated publisher, when the case gives one (missing: the gateway reported none)
      if ('publisher' in c) input.publisher = c.publisher;
      const d = handle(c.config, PageState.fromJSON(c.state), input, c.now * S);
      assert.deepStrictEqual(d.outcome, c.expected.outcome, `${c.name}: outcome`);
      assert.deepStrictEqual(d.actions, c.expected.actions, `${c.name}: actions`);
      const state = d.state.toJSON();
      const essentials = {
        clock: state.clock, text: state.text, lock: state.lock, conflict: state.conflict !== null,
      };
      assert.deepStrictEqual(essentials, c.expected.state, `${c.name}: state`);
      // Idempotence, as the Rust runner checks it.
      let textAfter = c.localText;
      for (const a of d.actions) {
        if (a.type === 'writePage') textAfter = a.text;
        if (a.type === 'deletePage') textAfter = null;
      }
      if (!(c.entry.kind.type === 'draft' && c.entry.kind.conflictWith !== null)) {
        const again = handle(c.config, d.state, { ...input, localText: textAfter }, c.now * S);
        assert.strictEqual(again.outcome.type, 'ignore', `${c.name}: not idempotent`);
        assert.deepStrictEqual(again.state.toJSON(), state, `${c.name}: second application changed the state`);
      }
    }
  });

  test('locks.json: every step of every trace, the state kept between steps', () => {
    const cases = vectors.locks.cases;
    assert.ok(cases.length > 0);
    for (const c of cases) {
      let state = PageState.fromJSON(c.state);
      c.steps.forEach((step, i) => {
        const label = `${c.name} step ${i}`;
        const d = handle(c.config, state, step.input, step.now * S);
        assert.deepStrictEqual(d.outcome, step.expected.outcome, `${label}: outcome`);
        assert.strictEqual(d.state.toJSON().lock.type, step.expected.lock, `${label}: lock`);
        assert.deepStrictEqual(d.actions, step.expected.actions, `${label}: actions`);
        state = d.state;
      });
    }
  });

  test('notices.json: every case', () => {
    const cases = vectors.notices.cases;
    assert.ok(cases.length > 0);
    for (const c of cases) {
      assert.deepStrictEqual(notices(c.config, PageState.fromJSON(c.state), c.now * S), c.expected, c.name);
    }
  });

  test('setup.json: every case, refusals as SetupError', () => {
    const cases = vectors.setup.cases;
    assert.ok(cases.length > 0);
    for (const c of cases) {
      if (c.expected.steps == null) {
        throwsCoded(() => planSetup(c.current, c.request), SetupError, c.expected.error, c.name);
      } else {
        assert.deepStrictEqual(planSetup(c.current, c.request), c.expected.steps, c.name);
      }
    }
  });

  test('setup.json sourceChecks: checkMirrorSource and sourceOfItems', () => {
    const checks = vectors.setup.sourceChecks;
    assert.ok(checks.length > 0);
    for (const c of checks) {
      const carries = sourceOfItems(c.entries);
      if (c.expected.ok) {
        checkMirrorSource(c.source, c.entries);
        assert.ok(carries === null || carries === normalizeSiteId(c.source), `${c.name}: sourceOfItems ${carries}`);
      } else {
        throwsCoded(() => checkMirrorSource(c.source, c.entries), SetupError, c.expected.error, c.name);
        assert.strictEqual(carries, c.expected.carries, `${c.name}: sourceOfItems`);
      }
    }
  });

  test('site_ids.json: every case, and normal forms are normal', () => {
    const cases = vectors.site_ids.cases;
    assert.ok(cases.length > 0);
    for (const c of cases) {
      assert.strictEqual(normalizeSiteId(c.raw), c.expected, c.name);
      assert.strictEqual(normalizeSiteId(c.expected), c.expected, `${c.name}: idempotent`);
    }
  });

  test('hosts.json: namespaces, read-only pages, publish failures, pages and files to publish', () => {
    const { namespaces: spaces, publishFailures, needsPublish: toPublish, mediaNeedsPublish: mediaToPublish } = vectors.hosts;
    for (const c of spaces) {
      assert.strictEqual(namespaceOf(c.config, c.page), c.namespace, `${c.name}: namespace`);
      assert.strictEqual(isReadOnly(c.config, c.page), c.readOnly, `${c.name}: read-only`);
    }
    for (const c of publishFailures) {
      assert.strictEqual(publishFailure(c.status), c.failure, `status ${c.status}`);
    }
    for (const c of toPublish) {
      assert.strictEqual(needsPublish(PageState.fromJSON(c.state), c.localText), c.expected, c.name);
    }
    assert.ok(mediaToPublish.length > 0);
    for (const c of mediaToPublish) {
      assert.strictEqual(mediaNeedsPublish(PageState.fromJSON(c.state), c.sha256), c.expected, c.name);
    }
    assert.ok(vectors.hosts.subscriptions.length > 0);
    for (const c of vectors.hosts.subscriptions) {
      assert.deepStrictEqual(checkSubscription(c.config, c.namespace, c.report, c.now * S), c.expected, c.name);
    }
    assert.ok(vectors.hosts.heartbeats.length > 0);
    for (const c of vectors.hosts.heartbeats) {
      assert.strictEqual(sendsHeartbeat(c.config, c.namespace), c.expected, c.name);
    }
  });

  test('media files travel inside their entry or by reference, fetched bytes are verified', () => {
    const site = (role, id) => ({
      site: id, rules: [{ namespace: 'wiki', role }], lockSeconds: 900, mediaType: 'text/x-dokuwiki',
      mediaInlineMax: 16, mediaUrl: `${id}media-fetch?media={media}&rev={revision}&sha256={sha256}`,
    });
    const a = site({ type: 'source' }, 'https://a.example/');
    const b = site({ type: 'mirror', source: 'https://a.example/', whenGone: 'keep' }, 'https://b.example/');
    const upload = (bytes, revision) => ({
      type: 'mediaSaved',
      edit: { change: { type: 'file', data: toBase64(bytes), mediaType: 'image/png' }, author: 'alice', summary: 'logo', revision },
    });
    // Publish at A, deliver through Atom XML to B.
    const travel = (bytes, revision, atA, atB) => {
      const published = handle(a, atA, upload(bytes, revision), revision * S);
      assert.deepStrictEqual(published.outcome, { type: 'publish' });
      const entry = decodeEntry(encodeEntry(published.actions[0].entry));
      const applied = handle(b, atB, { type: 'notification', localText: null, entry }, (revision + 1) * S);
      return [published.state, entry, applied];
    };
    const small = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0xff]);
    let [atA, entry, atB] = travel(small, 100, newPageState('wiki:logo.png'), newPageState('wiki:logo.png'));
    assert.deepStrictEqual([entry.kind.data, entry.kind.url], [toBase64(small), null]);
    assert.deepStrictEqual(atB.outcome, { type: 'create' });
    let write = atB.actions[0];
    assert.deepStrictEqual([write.type, write.mediaType, write.sha256, write.size], ['writeMedia', 'image/png', sha256HexBytes(small), 6]);
    verifyMedia(fromBase64(write.data), write.sha256, write.size);
    assert.strictEqual(mediaNeedsPublish(atA, sha256HexBytes(small)), false);
    assert.strictEqual(mediaNeedsPublish(atA, null), true);

    const large = new Uint8Array(80).map((_, i) => i * 7);
    const sha256 = sha256HexBytes(large);
    [atA, entry, atB] = travel(large, 200, atA, atB.state);
    assert.deepStrictEqual(
      [entry.kind.data, entry.kind.url], [null, `https://a.example/media-fetch?media=wiki:logo.png&rev=200&sha256=${sha256}`],
    );
    assert.deepStrictEqual(atB.outcome, { type: 'update' });
    write = atB.actions[0];
    assert.deepStrictEqual([write.data, write.url], [null, entry.kind.url]);
    verifyMedia(large, write.sha256, write.size);
    throwsCoded(() => verifyMedia(large.subarray(1), write.sha256, write.size), MediaError, 'size_mismatch', 'short');
    const corrupt = large.slice();
    corrupt[3] ^= 1;
    throwsCoded(() => verifyMedia(corrupt, write.sha256, write.size), MediaError, 'hash_mismatch', 'corrupt');

    // A bare retraction at the mirror removes the file; the source puts it back.
    const removed = handle(b, atB.state, { type: 'retracted', item: entry.atomId }, 300 * S);
    assert.deepStrictEqual([removed.outcome, removed.actions[0].type], [{ type: 'delete' }, 'deleteMedia']);
    const restored = handle(a, atA, { type: 'retracted', item: entry.atomId }, 300 * S);
    assert.deepStrictEqual([restored.outcome, restored.actions[0].type], [{ type: 'restore' }, 'publish']);
    // A mirror refuses uploads.
    const refused = handle(b, newPageState('wiki:other.png'), upload(small, 1), 1 * S);
    assert.deepStrictEqual(refused.outcome, { type: 'refuse', reason: 'mirror' });
  });

  test('item subjects and ignores worth reporting', () => {
    assert.deepStrictEqual(itemSubject('urn:x-wikisync:page:wiki:start'), { type: 'page', page: 'wiki:start' });
    assert.deepStrictEqual(itemSubject('urn:x-wikisync:draft:wiki:start'), { type: 'draft', page: 'wiki:start' });
    assert.deepStrictEqual(itemSubject('urn:x-wikisync:media:wiki:logo.png'), { type: 'media', media: 'wiki:logo.png' });
    for (const other of ['urn:x-wikisync:page:../etc', 'urn:x-wikisync:page:Wiki:Start', 'current', '']) {
      assert.strictEqual(itemSubject(other), null, other);
    }
    for (const reason of ['notFromSource', 'notFromPeer', 'wrongPublisher', 'outsideNamespace', 'notSynced', 'sourceIsAuthoritative', 'tooLarge', 'mediaUnavailable']) {
      assert.strictEqual(worthReporting(reason), true, reason);
    }
    for (const reason of ['ownEcho', 'duplicate', 'stale', 'lockItem', 'nothingExpired']) {
      assert.strictEqual(worthReporting(reason), false, reason);
    }
    assert.strictEqual(noticeWorthReporting({ type: 'mediaTooLarge', size: 10, max: 5 }), true);
    assert.strictEqual(noticeWorthReporting({ type: 'mirroredFrom', source: 'https://a.example/' }), false);
    const tombstone = '<at:deleted-entry xmlns:at="http://purl.org/atompub/tombstones/1.0" '
      + 'ref="urn:x-wikisync:media:wiki:logo.png" when="2026-11-21T10:00:00Z"/>';
    assert.strictEqual(decodeRetraction(tombstone), 'urn:x-wikisync:media:wiki:logo.png');
    throwsCoded(() => decodeRetraction('<feed xmlns="http://www.w3.org/2005/Atom"/>'), DecodeError, 'not_an_entry', 'a feed is no retraction');
  });

  test('node_uris.json: every spelling names its canonical node; pairs', () => {
    const { cases, pairs } = vectors.node_uris;
    assert.ok(cases.length >= 30 && pairs.length > 0);
    for (const c of cases) {
      if (c.expected.error === undefined) {
        assert.ok(sameNode(c.raw, c.expected.canonical), `${c.name}: same as its canonical form`);
      } else {
        assert.ok(!sameNode(c.raw, c.raw), `${c.name}: a refused URI names no node`);
      }
    }
    for (const p of pairs) {
      assert.strictEqual(sameNode(p.a, p.b), p.same, `${p.a} ~ ${p.b}`);
      assert.strictEqual(sameNode(p.b, p.a), p.same, `${p.b} ~ ${p.a} (symmetric)`);
    }
  });

  test('follow_targets.json: a node URI or another gateway\'s feed URL; canonical references', () => {
    const { targets, refs } = vectors.follow_targets;
    assert.ok(targets.length > 0 && refs.length > 0);
    for (const c of targets) {
      if (c.expected.error !== undefined) {
        throwsCoded(() => followTarget(c.raw), SetupError, 'bad_node', `${c.name} (${c.expected.error} in Rust)`);
        continue;
      }
      const got = followTarget(c.raw);
      assert.deepStrictEqual(got, { gateway: c.expected.gateway, node: c.expected.node }, c.name);
      assert.strictEqual(nodeRef(got.gateway, got.node), c.expected.canonical, c.name);
    }
    for (const c of refs) {
      const label = JSON.stringify(c);
      if (typeof c.expected === 'string') {
        assert.strictEqual(nodeRef(c.gateway, c.node), c.expected, label);
      } else {
        const code = c.expected.error === 'not_gateway' ? 'bad_gateway' : 'bad_node';
        throwsCoded(() => nodeRef(c.gateway, c.node), SetupError, code, label);
      }
    }
  });

  test('handle takes the state over; a refused argument leaves it usable', () => {
    const config = peer();
    const first = newPageState('Wiki:Start');
    bad(() => handle(config, first, { type: 'noSuchInput' }, 1 * S), 'unknown input type');
    bad(() => handle(config, first, { type: 'tick' }, 'soon'), 'time as a string');
    bad(() => handle(config, first, { type: 'tick' }, NaN), 'NaN time');
    bad(() => handle({}, first, { type: 'tick' }, 1 * S), 'empty config');
    assert.strictEqual(first.page, 'wiki:start', 'still usable after refused arguments');
    const d = handle(config, first, save('x\n', 5), 5 * S);
    assert.deepStrictEqual(d.outcome, { type: 'publish' });
    assert.ok(d.state instanceof PageState && d.state !== first);
    assert.deepStrictEqual(Object.keys(d), ['outcome', 'state', 'actions']);
    for (const [label, use] of Object.entries({
      handle: () => handle(config, first, { type: 'tick' }, 6 * S),
      notices: () => notices(config, first, 6 * S),
      needsPublish: () => needsPublish(first, 'x\n'),
      toJSON: () => JSON.stringify(first),
      page: () => first.page,
    })) {
      assert.throws(use, (e) => e instanceof InvalidArgumentError && /handed to handle\(\) already/.test(e.message), label);
    }
    // The new state carries on.
    const next = handle(config, d.state, { type: 'editorOpened', editor: 'me' }, 6 * S);
    assert.deepStrictEqual(next.outcome, { type: 'lock' });
    assert.strictEqual(needsPublish(next.state, 'x\n'), false);
    bad(() => handle(config, { page: 'wiki:start' }, { type: 'tick' }, 1 * S), 'a plain object for a state');
    assert.throws(() => new PageState(), (e) => e instanceof TypeError);
  });

  test('now is Unix milliseconds: Date.now() by default, fractions dropped', () => {
    const config = { ...peer(), lockSeconds: 600 };
    const d = handle(config, newPageState('p'), { type: 'editorOpened', editor: 'me' }, 1_700_000_000_999.75);
    const draft = d.actions.find((a) => a.type === 'publish').entry;
    assert.strictEqual(draft.updated, 1_700_000_000);
    assert.strictEqual(draft.kind.lockExpires, 1_700_000_600);
    const before = Math.floor(Date.now() / 1000);
    const auto = handle(config, newPageState('p'), { type: 'editorOpened', editor: 'me' });
    const after = Math.floor(Date.now() / 1000);
    const updated = auto.actions.find((a) => a.type === 'publish').entry.updated;
    assert.ok(before <= updated && updated <= after, `default now: ${updated} not in [${before}, ${after}]`);
    const b = peer('https://b.example/');
    const locked = handle(b, newPageState('p'), { type: 'notification', localText: null, entry: draft }, 1_700_000_001_000);
    const shown = [{ type: 'editedElsewhere', site: 'https://a.example/', editor: 'me', until: 1_700_000_600 }];
    assert.deepStrictEqual(notices(b, locked.state, 1_700_000_599_999.9), shown, 'a millisecond before expiry');
    assert.deepStrictEqual(notices(b, locked.state, 1_700_000_600_000), [], 'at expiry');
    assert.deepStrictEqual(notices(b, locked.state), [], 'now: long after');
  });

  test('PageState: toJSON/fromJSON round trip, page, conflict, earlier forms', () => {
    const state = newPageState('Wiki:Start');
    assert.strictEqual(state.page, 'wiki:start');
    assert.strictEqual(state.conflict, null);
    const stored = state.toJSON();
    assert.strictEqual(Object.getPrototypeOf(stored), Object.prototype);
    assert.strictEqual(JSON.stringify(state), JSON.stringify(stored));
    for (const form of [stored, JSON.stringify(state)]) {
      const back = PageState.fromJSON(form);
      assert.ok(back instanceof PageState);
      assert.deepStrictEqual(back.toJSON(), stored);
    }
    // A state written by 0.1 (snake_case keys, maps as objects) is still read.
    const old = PageState.fromJSON({
      page: 'wiki:start', head: { revision: 3, site: 's' }, clock: { s: 3 }, text: 'x\n', history: [],
      lock: { type: 'free' }, conflict: null, released: { s: 2 }, followed_source: null, source_gone: null,
    });
    assert.deepStrictEqual(old.toJSON().clock, [{ revision: 3, site: 's' }]);
    throwsCoded(() => PageState.fromJSON({ ...stored, page: 'a:..:b' }), PageIdError, 'path_traversal', 'page id inside');
    bad(() => PageState.fromJSON('{'), 'not JSON');
    bad(() => PageState.fromJSON(42), 'a number');
    // A conflict: two peers change the same line; the state shows it, renderConflict renders it.
    const a = peer('https://a.example/');
    const b = peer('https://b.example/');
    const base = handle(a, newPageState('p'), save('one\n', 1), 1 * S);
    const entry = base.actions[0].entry;
    const atB = handle(b, newPageState('p'), { type: 'notification', localText: null, entry }, 2 * S);
    const mine = handle(a, base.state, save('mine\n', 3), 3 * S);
    const theirs = handle(b, atB.state, save('theirs\n', 4), 4 * S);
    const c = handle(a, mine.state, { type: 'notification', localText: 'mine\n', entry: theirs.actions[0].entry }, 5 * S);
    assert.deepStrictEqual(c.outcome, { type: 'conflict' });
    const recorded = c.actions.find((x) => x.type === 'recordConflict').conflict;
    assert.deepStrictEqual(c.state.conflict, recorded);
    assert.ok(/^<<<<<<< /m.test(renderConflict(c.state.conflict)));
    assert.deepStrictEqual(notices(a, c.state, 5 * S), [{ type: 'conflict', revision: recorded.revision }]);
    const keep = handle(a, c.state, { type: 'resolveConflict', choice: 'keep', localText: 'mine\n' }, 6 * S);
    assert.deepStrictEqual(keep.outcome, { type: 'resolve' });
    assert.deepStrictEqual(keep.actions, [{ type: 'saveResolution', text: 'mine\n', choice: 'keep', site: 'https://b.example/' }]);
  });

  test('one casing: camelCase keys and tag values, snake_case error codes', () => {
    const config = peer();
    const d = handle(config, newPageState('wiki:start'), save('x\n', 5), 5 * S);
    assert.strictEqual(d.actions[0].entry.atomId, 'urn:x-wikisync:page:wiki:start');
    assert.strictEqual(d.actions[0].entry.kind.mediaType, 'text/x-dokuwiki');
    const mirror = { ...config, rules: [{ namespace: '', role: { type: 'mirror', source: 'https://s.example/', whenGone: 'keep' } }] };
    const refused = handle(mirror, newPageState('p'), { type: 'saveRequested', change: { type: 'text', text: 'x' }, editor: 'me' }, 1 * S);
    assert.deepStrictEqual(refused.outcome, { type: 'refuse', reason: 'mirror' });
    assert.deepStrictEqual(refused.actions, [
      { type: 'refuseLocalEdit', reason: 'mirror' },
      { type: 'showNotice', notice: { type: 'mirroredFrom', source: 'https://s.example/' } },
    ]);
    bad(() => handle(config, newPageState('p'), { type: 'local_save', edit: save('x', 1).edit }, 1 * S), 'snake_case tag');
    const snake = { site: config.site, rules: config.rules, lock_seconds: 900, media_type: 'text/x-dokuwiki' };
    bad(() => handle(snake, newPageState('p'), { type: 'tick' }, 1 * S), 'snake_case keys');
    bad(() => merge('a', 'b', 'c', { marker_size: 3 }), 'snake_case merge option');
    assert.deepStrictEqual(
      planSetup({ role: { type: 'source' }, node: 'xmpp:ps.example?;node=n', subscribed: false }, { type: 'retire' }),
      [{ type: 'useNode', node: 'xmpp:ps.example?;node=n' }, { type: 'deleteNode' }, { type: 'forgetRule' }],
    );
  });

  test('error classes are real subclasses with stable codes', () => {
    for (const Class of [PageIdError, DecodeError, SetupError, MediaError, InvalidArgumentError]) {
      assert.ok(Object.getPrototypeOf(Class) === WikiSyncError, `${Class.name} extends WikiSyncError`);
    }
    assert.ok(Object.getPrototypeOf(WikiSyncError) === Error);
    const e = new PageIdError('m', 'empty');
    assert.ok(e instanceof PageIdError && e instanceof WikiSyncError && e instanceof Error);
    assert.ok(typeof e.stack === 'string');
    assert.strictEqual(new InvalidArgumentError('m').code, 'invalid_argument');
    throwsCoded(() => cleanPageId('a/../b'), PageIdError, 'path_separator', 'cleanPageId');
    throwsCoded(() => newPageState('..'), PageIdError, 'path_traversal', 'newPageState');
    throwsCoded(() => namespaceOf(peer(), 'a:..:b'), PageIdError, 'path_traversal', 'namespaceOf');
    throwsCoded(() => decodeEntry('<entry'), DecodeError, 'malformed_xml', 'decodeEntry');
    throwsCoded(() => decodeEntry('<x/>', { maxBytes: 2 }), DecodeError, 'too_large', 'maxBytes');
    throwsCoded(() => decodeFeed('<x/>'), DecodeError, 'not_a_feed', 'decodeFeed');
    throwsCoded(() => planSetup(null, { type: 'retire' }), SetupError, 'not_source', 'planSetup');
    throwsCoded(
      () => planSetup(null, { type: 'mirror', node: 'http://x', source: 's' }), SetupError, 'bad_node', 'bad node',
    );
    throwsCoded(
      () => planSetup(null, { type: 'follow', node: 'xmpp:ps.example?;node=n' }), SetupError, 'not_following', 'follow',
    );
    throwsCoded(() => verifyMedia(new Uint8Array(1), sha256Hex(''), 1), MediaError, 'hash_mismatch', 'verifyMedia');
  });

  test('misshapen arguments throw InvalidArgumentError', () => {
    const state = newPageState('wiki:start');
    bad(() => cleanPageId(42), 'number for a string');
    bad(() => sha256Hex(undefined), 'undefined text');
    bad(() => handle(null, state, { type: 'tick' }, 1 * S), 'null config');
    bad(() => notices(peer(), state, '1'), 'time as a string');
    bad(() => merge('a', 'b', 'c', { word: true }), 'unknown merge option');
    bad(() => merge('a', 'b', 'c', { labels: ['x'] }), 'one label');
    bad(() => decodeEntry('<x/>', { maxBytes: -1 }), 'negative maxBytes');
    bad(() => decodeEntry('<x/>', { maxBytes: 1.5 }), 'fractional maxBytes');
    bad(() => decodeEntry('<x/>', { maxbytes: 9 }), 'unknown decode option');
    bad(() => decodeFeed(7), 'number for xml');
    bad(() => publishFailure('503'), 'status as a string');
    bad(() => publishFailure(70000), 'no HTTP status');
    bad(() => publishFailure(1.5), 'fractional status');
    bad(() => needsPublish(state, 5), 'number for a text');
    bad(() => planSetup(null, { type: 'mirror' }), 'mirror without a node');
    bad(() => renderConflict({}), 'empty conflict');
    const cyclic = {};
    cyclic.self = cyclic;
    bad(() => encodeEntry(cyclic), 'cyclic object');
    bad(() => sha256HexBytes('text'), 'a string for bytes');
    bad(() => verifyMedia([1, 2], sha256Hex(''), 2), 'an array for bytes');
    bad(() => verifyMedia(new Uint8Array(0), sha256Hex(''), -1), 'negative size');
    bad(() => verifyMedia(new Uint8Array(0), sha256Hex(''), 0.5), 'fractional size');
    bad(() => verifyMedia(new Uint8Array(0), sha256Hex(''), '0'), 'size as a string');
    bad(() => itemSubject(7), 'number for an item id');
    bad(() => normalizeSiteId(null), 'null site id');
    bad(() => mediaNeedsPublish(state, 5), 'number for a hash');
    bad(() => sourceOfItems({}), 'an object for entries');
    bad(() => sourceOfItems([{ page: 'a' }]), 'entries that are not entries');
    bad(() => checkMirrorSource('s', null), 'null entries');
    bad(() => worthReporting('bored'), 'unknown ignore reason');
    bad(() => worthReporting('not_from_source'), 'snake_case ignore reason');
    bad(() => noticeWorthReporting({ type: 'boredom' }), 'unknown notice');
    const watched = { site: 'https://b.example/', rules: [], lockSeconds: 900, mediaType: 'text/x-dokuwiki' };
    bad(() => checkSubscription({ ...watched, leaseSeconds: -1 }, '', { type: 'active', expires: 5 }), 'negative lease');
    bad(() => checkSubscription(watched, '', { type: 'asleep' }), 'unknown report');
    bad(() => checkSubscription(watched, 7, { type: 'pending' }), 'number for a namespace');
    bad(() => sendsHeartbeat(watched, null), 'null namespace');
    bad(() => decodeRetraction(7), 'number for a retraction');
    assert.strictEqual(sha256Hex('é'), '4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c'); // of the UTF-8 bytes
    assert.strictEqual(sha256HexBytes(new TextEncoder().encode('é')), sha256Hex('é'));
  });
}
