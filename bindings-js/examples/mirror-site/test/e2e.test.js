// End to end: the example site against the real wikisync gateway, with a second publisher
// that is not DokuWiki (the `wikisync entry` command line tool plus plain HTTP requests, as
// curl would send them), then two example sites mirroring media files and following a
// redirected node, and a source moving its namespace to a second gateway with its mirror
// following; with site credentials, a site granted publish rights on the source's node cannot
// feed the mirror pages claiming to be the source's. Needs the binaries: WIKISYNC_GATEWAY_BIN and WIKISYNC_CLI_BIN
// (scripts/test-js builds them and sets both).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeEntry, decodeFeed, encodeEntry, init, sameNode, sha256HexBytes } from 'wikisync';
import { MirrorSite, feedPublishers } from '../site.js';

const gatewayBin = process.env.WIKISYNC_GATEWAY_BIN;
const cliBin = process.env.WIKISYNC_CLI_BIN;
const TOKEN = 'e2e-token';
const SOURCE = 'https://wiki-b.example/';

async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

async function until(what, check, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A real gateway in `tmp` (its data in `tmp/<name>`, node URIs of `service`): its URL,
 * `api(method, path, body?, type?)` with the token, `stop()`.
 */
async function startGateway(tmp, name = 'gateway', service = 'pubsub.localhost', extra = []) {
  assert.ok(gatewayBin && cliBin, 'set WIKISYNC_GATEWAY_BIN and WIKISYNC_CLI_BIN (scripts/test-js does)');
  const port = await freePort();
  const gateway = `http://127.0.0.1:${port}`;
  const gw = spawn(gatewayBin, [
    '--listen', `127.0.0.1:${port}`, '--data-dir', join(tmp, name), '--token', TOKEN, '--service', service,
    '--retry-base-ms', '100', '--retry-max-ms', '500', ...extra,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let gwLog = '';
  gw.stderr.on('data', (d) => { gwLog += d; });
  const stop = async () => {
    gw.kill('SIGTERM');
    await new Promise((r) => gw.once('exit', r));
  };
  await until('the gateway', async () => (await fetch(`${gateway}/healthz`).catch(() => null))?.ok);
  const api = async (method, path, body, type, token = TOKEN) => {
    const res = await fetch(`${gateway}${path}`, {
      method, body, headers: { authorization: `Bearer ${token}`, ...(type ? { 'content-type': type } : {}) },
    });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}\n${gwLog}`);
    return text ? JSON.parse(text) : null;
  };
  return { url: gateway, api, stop };
}

/** A page's (or file's) JSON view on an example site. */
async function view(site, kind, id) {
  return (await fetch(`${site.url}/${kind}/${id}`, { headers: { accept: 'application/json' } })).json();
}

test('mirror-site against the real gateway and a command-line publisher', async (t) => {
  await init();
  const tmp = mkdtempSync(join(tmpdir(), 'wikisync-e2e-'));
  const { url: gateway, api, stop } = await startGateway(tmp);
  const receiver = { server: null, bodies: [] };
  let site;
  t.after(async () => {
    await site?.stop();
    receiver.server?.close();
    await stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  // The other site (not DokuWiki) owns a node for its `handbook` namespace (which this site
  // mirrors) and one for `team` (which both sites edit).
  const handbook = (await api('POST', '/create')).uri;
  const team = (await api('POST', '/create')).uri;

  site = new MirrorSite({
    dir: join(tmp, 'site'), site: 'http://js-site.example/', gateway, token: TOKEN,
    namespaces: [
      { namespace: 'handbook', node: handbook, role: { type: 'mirror', source: SOURCE, whenGone: 'keep' } },
      { namespace: 'blog', role: { type: 'source' } },
      { namespace: 'team', node: team, role: { type: 'peer' } },
    ],
    log: () => {},
  });
  const siteUrl = await site.start();
  const file = (id) => join(tmp, 'site', 'pages', ...id.split(':')) + '.txt';

  // The publisher: `wikisync entry` makes the entry, an HTTP POST publishes it.
  const publish = async (args, text, node = handbook) => {
    const input = join(tmp, 'page.txt');
    writeFileSync(input, text ?? '');
    const xml = execFileSync(cliBin, ['entry', '--site', SOURCE, ...args, ...(text === null ? [] : [input])], { encoding: 'utf8' });
    await api('POST', `/publish?uri=${encodeURIComponent(node)}`, xml, 'application/atom+xml;type=entry');
    return xml;
  };

  // 1. A page created at the source appears on the site, byte for byte.
  const first = 'Hello from B\r\nwith CRLF, ünïcödé & <xml>]]> and no final newline';
  await publish(['--id', 'Handbook:Start', '--rev', '100', '--updated', '100', '--author', 'bob', '--summary', 'created'], first);
  await until('the mirrored page', () => existsSync(file('handbook:start')) && readFileSync(file('handbook:start'), 'utf8') === first);
  const meta = (id) => view(site, 'pages', id);
  const page = await meta('handbook:start');
  assert.equal(page.text, first);
  assert.deepEqual(page.history.map((h) => [h.author, h.summary]), [['bob', 'created']]);
  // What the site shows comes from the core: a mirrored page says where it comes from.
  assert.deepEqual(page.notices, [{ type: 'mirroredFrom', source: SOURCE }]);

  // 2. An update follows.
  const second = `${first}\nsecond revision\n`;
  const updateXml = await publish(['--id', 'handbook:start', '--rev', '200', '--base', '100', '--updated', '200', '--author', 'bob', '--summary', 'more'], second);
  await until('the update', () => readFileSync(file('handbook:start'), 'utf8') === second);

  // 3. The mirror is read-only: a local edit is refused and changes nothing.
  const refused = await fetch(`${siteUrl}/pages/handbook:start?user=carol`, { method: 'PUT', body: 'vandalism' });
  assert.equal(refused.status, 409);
  assert.deepEqual((await refused.json()).outcome, { type: 'refuse', reason: 'mirror' });
  assert.equal(readFileSync(file('handbook:start'), 'utf8'), second);

  // 4. A callback without a valid signature is refused.
  const forged = await fetch(`${siteUrl}/callback`, {
    method: 'POST', body: updateXml.replace('second revision', 'forged'),
    headers: { referer: handbook, 'content-type': 'application/atom+xml', 'x-hub-signature': `sha256=${'0'.repeat(64)}` },
  });
  assert.equal(forged.status, 403);
  assert.equal(readFileSync(file('handbook:start'), 'utf8'), second);

  // 5. A deletion at the source (an RFC 6721 tombstone entry) deletes the page here.
  const gone = decodeEntry(updateXml);
  gone.revision = { revision: 300, site: SOURCE };
  gone.base = { revision: 200, site: SOURCE };
  gone.clock = [gone.revision];
  gone.updated = 300;
  gone.kind = { type: 'deleted', when: 300, by: 'bob', comment: 'obsolete' };
  await api('POST', `/publish?uri=${encodeURIComponent(handbook)}`, encodeEntry(gone), 'application/atom+xml;type=entry');
  await until('the deletion', () => !existsSync(file('handbook:start')));

  // 6. Shared namespace: an editor at the other site opens the page (a draft, the lock); the
  //    page is locked here for that editor, and a local save is refused until the lock ends.
  const t0 = Math.floor(Date.now() / 1000);
  await publish(['--id', 'team:notes', '--rev', String(t0 - 10), '--updated', String(t0 - 10), '--author', 'bob'], 'notes\n', team);
  await until('the shared page', () => existsSync(file('team:notes')));
  const draftXml = await publish(['--id', 'team:notes', '--draft', '--updated', String(t0), '--lock-expires', String(t0 + 900), '--author', 'bob'], null, team);
  const locked = await until('the remote lock', async () => (await meta('team:notes')).lock);
  assert.deepEqual(locked, { site: SOURCE, editor: 'bob', until: t0 + 900 });
  assert.deepEqual((await meta('team:notes')).notices, [{ type: 'editedElsewhere', site: SOURCE, editor: 'bob', until: t0 + 900 }]);
  const blocked = await fetch(`${siteUrl}/pages/team:notes?user=carol`, { method: 'PUT', body: 'mine\n' });
  assert.equal(blocked.status, 409);
  assert.deepEqual((await blocked.json()).outcome, { type: 'refuse', reason: 'remotelyLocked' });
  assert.equal(readFileSync(file('team:notes'), 'utf8'), 'notes\n');

  // 7. Bob closes his editor (an unlock of his session): the lock and its notice go.
  const unlock = decodeEntry(draftXml);
  unlock.kind = { type: 'unlock' };
  await api('POST', `/publish?uri=${encodeURIComponent(team)}`, encodeEntry(unlock), 'application/atom+xml;type=entry');
  await until('the unlock', async () => (await meta('team:notes')).lock === null);
  assert.deepEqual((await meta('team:notes')).notices, []);

  // 8. Local editors: only the one holding the lock releases it (the core refuses the others).
  const editor = async (action, user) => {
    const res = await fetch(`${siteUrl}/pages/team:notes/${action}?user=${user}`, { method: 'POST' });
    return [res.status, (await res.json()).outcome];
  };
  assert.deepEqual(await editor('edit', 'carol'), [200, { type: 'lock' }]);
  assert.deepEqual(await editor('close', 'dave'), [200, { type: 'ignore', reason: 'notLockHolder' }]);
  const taken = await fetch(`${siteUrl}/pages/team:notes?user=dave`, { method: 'PUT', body: 'dave\n' });
  assert.equal(taken.status, 409, 'another local editor holds the page');
  assert.deepEqual((await taken.json()).outcome, { type: 'refuse', reason: 'lockedLocally' });
  assert.deepEqual(await editor('close', 'carol'), [200, { type: 'unlock' }]);

  // 9. A concurrent edit that does not merge: the conflict is shown, then resolved by keeping
  //    the local text, which the site publishes as a revision that includes both.
  const mine = await fetch(`${siteUrl}/pages/team:notes?user=carol&summary=mine`, { method: 'PUT', body: 'mine\n' });
  assert.deepEqual([mine.status, (await mine.json()).outcome], [200, { type: 'publish' }]);
  await publish(['--id', 'team:notes', '--rev', String(t0 - 5), '--base', String(t0 - 10), '--updated', String(t0 - 5), '--author', 'bob'], 'theirs\n', team);
  const conflicted = await until('the conflict', async () => (await meta('team:notes')).conflict);
  assert.equal(conflicted.text, 'theirs\n');
  assert.match(conflicted.withMarkers, /^<<<<<<< [^\n]*\n(mine|theirs)\n=======\n(mine|theirs)\n>>>>>>> /);
  assert.deepEqual((await meta('team:notes')).notices, [{ type: 'conflict', revision: conflicted.revision }]);
  assert.equal(readFileSync(file('team:notes'), 'utf8'), 'mine\n', 'a conflict keeps the local text');
  const resolved = await fetch(`${siteUrl}/pages/team:notes/resolve?user=carol&choice=keep`, { method: 'POST' });
  assert.deepEqual((await resolved.json()).outcome, { type: 'publish' });
  assert.equal((await meta('team:notes')).conflict, null);
  const items = async () => decodeFeed(await (await fetch(`${gateway}/items?uri=${encodeURIComponent(team)}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  })).text());
  const resolution = await until('the resolution on the node', async () => (await items()).find(
    ({ entry }) => entry?.kind.type === 'page' && entry.revision.site === 'http://js-site.example/'
      && entry.clock.some((c) => c.site === SOURCE && c.revision === t0 - 5),
  ));
  assert.equal(resolution.entry.kind.text, 'mine\n');

  // 10. The site's own edits are published: a subscriber of its blog node receives them.
  const blog = site.nodes.blog.node;
  assert.ok(blog, 'the site created a node for its blog namespace');
  receiver.server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET') return res.end(url.searchParams.get('hub.challenge'));
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => { receiver.bodies.push(Buffer.concat(chunks).toString('utf8')); res.writeHead(204).end(); });
  });
  await new Promise((r) => receiver.server.listen(0, '127.0.0.1', r));
  const callback = `http://127.0.0.1:${receiver.server.address().port}/cb`;
  await api('POST', '/subscribe', JSON.stringify({ uri: blog, callback }), 'application/json');
  const post = 'A post written on the JS site.\n';
  const saved = await fetch(`${siteUrl}/pages/blog:hello?user=dave&summary=first%20post`, { method: 'PUT', body: post });
  assert.equal(saved.status, 200);
  assert.deepEqual((await saved.json()).outcome, { type: 'publish' });
  assert.equal(readFileSync(file('blog:hello'), 'utf8'), post);
  const body = await until('the published entry', () => receiver.bodies.find((b) => b.includes('blog:hello')));
  const entry = decodeEntry(body);
  assert.equal(entry.page, 'blog:hello');
  assert.deepEqual(entry.kind, { type: 'page', text: post, mediaType: 'text/x-dokuwiki' });
  assert.equal(entry.author, 'dave');
  assert.equal(entry.summary, 'first post');
  assert.equal(entry.revision.site, 'http://js-site.example/');
});

test('two example sites: media files both ways, a corrupt fetch, a retraction, a followed redirect', async (t) => {
  await init();
  const tmp = mkdtempSync(join(tmpdir(), 'wikisync-e2e-media-'));
  const { url: gateway, api, stop } = await startGateway(tmp);
  const A = 'http://site-a.example/';
  const B = 'http://site-b.example/';
  const D = 'http://site-d.example/';
  const sites = [];
  const liar = { server: null, served: [] };
  t.after(async () => {
    for (const s of sites) await s.stop();
    liar.server?.close();
    await stop();
    rmSync(tmp, { recursive: true, force: true });
  });
  // Both sites send files over 1 KiB by reference (the source's /media-fetch).
  const start = async (name, site, namespaces) => {
    const s = new MirrorSite({
      dir: join(tmp, name), site, gateway, token: TOKEN, mediaInlineMax: 1024, namespaces, log: () => {},
    });
    await s.start();
    sites.push(s);
    return s;
  };
  const a = await start('a', A, [{ namespace: 'wiki', role: { type: 'source' } }]);
  const node = a.nodes.wiki.node;
  const b = await start('b', B, [{ namespace: 'wiki', node, role: { type: 'mirror', source: A, whenGone: 'keep' } }]);
  const fileAt = (s, kind, id) => join(s.dir, kind, ...id.split(':')) + (kind === 'pages' ? '.txt' : '');
  const bytesAt = (s, id) => (existsSync(fileAt(s, 'media', id)) ? readFileSync(fileAt(s, 'media', id)) : null);
  const upload = async (s, id, bytes, summary) => {
    const res = await fetch(`${s.url}/media/${id}?user=alice&summary=${encodeURIComponent(summary)}`, {
      method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' },
    });
    return [res.status, await res.json()];
  };
  const itemOf = async (n, id) => decodeFeed(await (await fetch(`${gateway}/items?uri=${encodeURIComponent(n)}`)).text())
    .find((i) => i.entry?.page === id)?.entry;
  const arrived = (id, bytes) => until(`${id} on B`, () => bytesAt(b, id)?.equals(bytes));

  // 1. A small file travels inside its entry; B writes it byte for byte.
  const small = randomBytes(700);
  assert.deepEqual(await upload(a, 'wiki:small.bin', small, 'small one'), [200, { outcome: { type: 'publish' } }]);
  await arrived('wiki:small.bin', small);
  const inline = await itemOf(node, 'wiki:small.bin');
  assert.equal(inline.kind.url, null);
  assert.equal(inline.kind.sha256, sha256HexBytes(small));

  // 2. One over mediaInlineMax travels by reference: B fetches it from A and checks it.
  const large = randomBytes(48 * 1024);
  assert.deepEqual(await upload(a, 'wiki:large.bin', large, 'large one'), [200, { outcome: { type: 'publish' } }]);
  await arrived('wiki:large.bin', large);
  const byReference = await itemOf(node, 'wiki:large.bin');
  assert.equal(byReference.kind.data, null);
  assert.ok(byReference.kind.url.startsWith(`${a.url}/media-fetch?`), byReference.kind.url);
  const seen = await view(b, 'media', 'wiki:large.bin');
  assert.deepEqual([seen.size, seen.sha256], [large.length, sha256HexBytes(large)]);
  assert.deepEqual(seen.history.map((h) => [h.author, h.summary]), [['alice', 'large one']]);
  assert.deepEqual(seen.notices, [{ type: 'mirroredFrom', source: A }]);
  // A serves a fetch only for the file's own hash.
  const fetchUrl = new URL(byReference.kind.url);
  assert.equal((await fetch(fetchUrl)).status, 200);
  fetchUrl.searchParams.set('sha256', sha256HexBytes(small));
  assert.equal((await fetch(fetchUrl)).status, 404);
  // The mirror is read-only.
  const [refused] = await upload(b, 'wiki:small.bin', Buffer.from('vandalism'), 'no');
  assert.equal(refused, 409);
  assert.ok(bytesAt(b, 'wiki:small.bin').equals(small));

  // 3. Entries in A's name whose files, fetched, are not what they announce: one with other
  //    bytes of the same size, one with more bytes. Nothing is written. A file uploaded after
  //    them is the sentinel: deliveries are in order, so once it is there they were refused.
  liar.server = createServer((req, res) => {
    liar.served.push(req.url);
    res.end(req.url === '/other' ? randomBytes(2048) : randomBytes(4096));
  });
  await new Promise((r) => liar.server.listen(0, '127.0.0.1', r));
  const liarUrl = `http://127.0.0.1:${liar.server.address().port}`;
  const genuine = randomBytes(2048);
  const forged = (id, path, revision) => encodeEntry({
    atomId: `urn:x-wikisync:media:${id}`, page: id, title: id, updated: revision, author: 'mallory', summary: null,
    link: null, revision: { revision, site: A }, base: null, clock: [{ revision, site: A }], minor: false, source: A,
    kind: { type: 'media', mediaType: 'application/octet-stream', sha256: sha256HexBytes(genuine), size: genuine.length, data: null, url: `${liarUrl}${path}` },
  });
  for (const [id, path] of [['wiki:other.bin', '/other'], ['wiki:longer.bin', '/longer']]) {
    await api('POST', `/publish?uri=${encodeURIComponent(node)}`, forged(id, path, 1), 'application/atom+xml;type=entry');
  }
  const sentinel = randomBytes(10);
  await upload(a, 'wiki:sentinel.bin', sentinel, 'sentinel');
  await arrived('wiki:sentinel.bin', sentinel);
  assert.deepEqual(liar.served.sort(), ['/longer', '/other'], 'both files were fetched');
  for (const id of ['wiki:other.bin', 'wiki:longer.bin']) {
    assert.equal(bytesAt(b, id), null, `${id} is not written`);
    assert.equal((await view(b, 'media', id)).history.length, 0, `${id} has no history`);
  }

  // 4. A deletion at A deletes the file at B.
  const deleted = await fetch(`${a.url}/media/wiki:small.bin?user=alice&summary=gone`, { method: 'DELETE' });
  assert.deepEqual(await deleted.json(), { outcome: { type: 'publish' } });
  await until('the deletion on B', () => bytesAt(b, 'wiki:small.bin') === null);
  const last = (await view(b, 'media', 'wiki:small.bin')).history.at(-1);
  assert.deepEqual([last.author, last.summary, last.deleted], ['alice', 'gone', true]);

  // 5. A bare retraction (an XMPP client removed the page's item): the mirror removes its copy.
  const saved = await fetch(`${a.url}/pages/wiki:start?user=alice&summary=hi`, { method: 'PUT', body: 'Hello\n' });
  assert.equal(saved.status, 200);
  await until('the page on B', () => existsSync(fileAt(b, 'pages', 'wiki:start')));
  await api('POST', `/publish?uri=${encodeURIComponent(node)}&item=${encodeURIComponent('urn:x-wikisync:page:wiki:start')}`);
  await until('the retraction on B', () => !existsSync(fileAt(b, 'pages', 'wiki:start')));

  // 6. The namespace moves to another node, published by site D, and the old node is deleted
  //    with a redirect to it: B subscribes there, follows D, syncs, and leaves the old node.
  const moved = (await api('POST', '/create')).uri;
  const fromD = (text, revision) => encodeEntry({
    atomId: 'urn:x-wikisync:page:wiki:moved', page: 'wiki:moved', title: 'Moved', updated: revision, author: 'dora',
    summary: 'moved', link: null, revision: { revision, site: D }, base: null, clock: [{ revision, site: D }],
    minor: false, source: D, kind: { type: 'page', text, mediaType: 'text/x-dokuwiki' },
  });
  await api('POST', `/publish?uri=${encodeURIComponent(moved)}`, fromD('Moved here\n', 10), 'application/atom+xml;type=entry');
  await api('POST', `/delete?uri=${encodeURIComponent(node)}`, JSON.stringify({ redirect_uri: moved }), 'application/json');
  await until('the moved page on B', () => existsSync(fileAt(b, 'pages', 'wiki:moved')));
  assert.equal(readFileSync(fileAt(b, 'pages', 'wiki:moved'), 'utf8'), 'Moved here\n');
  const record = b.nodes.wiki;
  assert.ok(sameNode(record.node, moved), `B uses ${record.node}`);
  assert.deepEqual([record.role, record.subscribed], [{ type: 'mirror', source: D, whenGone: 'keep' }, true]);
  // What B had from A now says it comes from D, and stays.
  assert.deepEqual((await view(b, 'media', 'wiki:large.bin')).notices, [{ type: 'mirroredFrom', source: D }]);
  assert.ok(bytesAt(b, 'wiki:large.bin').equals(large));
  // The new subscription delivers.
  await api('POST', `/publish?uri=${encodeURIComponent(moved)}`, fromD('Moved and edited\n', 20), 'application/atom+xml;type=entry');
  await until('the edit on the new node', () => readFileSync(fileAt(b, 'pages', 'wiki:moved'), 'utf8') === 'Moved and edited\n');
});

test('a source moves its namespace to a node on a second gateway; its mirror follows there', async (t) => {
  await init();
  const tmp = mkdtempSync(join(tmpdir(), 'wikisync-e2e-hop-'));
  const one = await startGateway(tmp, 'gateway1');
  const two = await startGateway(tmp, 'gateway2', 'pubsub2.localhost');
  const A = 'http://site-a.example/';
  const sites = [];
  t.after(async () => {
    for (const s of sites) await s.stop();
    await one.stop();
    await two.stop();
    rmSync(tmp, { recursive: true, force: true });
  });
  const start = async (name, site, namespaces, tokens) => {
    const s = new MirrorSite({ dir: join(tmp, name), site, gateway: one.url, token: TOKEN, tokens, namespaces, log: () => {} });
    await s.start();
    sites.push(s);
    return s;
  };
  // A publishes on gateway 1 and holds a token for gateway 2; B mirrors A there.
  const a = await start('a', A, [{ namespace: 'wiki', role: { type: 'source' } }], { [two.url]: TOKEN });
  const old = a.nodes.wiki.node;
  const b = await start('b', 'http://site-b.example/', [{ namespace: 'wiki', node: old, role: { type: 'mirror', source: A, whenGone: 'keep' } }]);
  const pageAt = (s, id) => {
    const f = join(s.dir, 'pages', ...id.split(':')) + '.txt';
    return existsSync(f) ? readFileSync(f, 'utf8') : null;
  };
  const save = async (id, text, summary) => {
    const res = await fetch(`${a.url}/pages/${id}?user=alice&summary=${encodeURIComponent(summary)}`, { method: text === null ? 'DELETE' : 'PUT', body: text ?? undefined });
    assert.equal(res.status, 200, await res.text());
  };
  const pages = { 'wiki:start': 'Start\n', 'wiki:ünïcödé': 'Grüße – 日本語 & <xml> ]]>\n', 'wiki:gone': 'soon deleted\n' };
  for (const [id, text] of Object.entries(pages)) await save(id, text, 'first');
  await save('wiki:gone', null, 'deleted');
  delete pages['wiki:gone'];
  await until('the pages on B', () => Object.entries(pages).every(([id, text]) => pageAt(b, id) === text) && pageAt(b, 'wiki:gone') === null);

  // A moves the namespace to a node created on gateway 2: every page is published there, then
  // the old node is deleted with a redirect to the new node's feed URL.
  await a.setUp('wiki', { type: 'relocate', gateway: two.url });
  const moved = a.nodes.wiki;
  assert.equal(moved.gateway, two.url);
  assert.ok(moved.node.startsWith('xmpp:pubsub2.localhost?;node='), moved.node);
  const onTwo = decodeFeed(await (await fetch(`${two.url}/items?uri=${encodeURIComponent(moved.node)}`)).text());
  assert.deepEqual(onTwo.map((i) => i.entry.page).sort(), ['wiki:gone', 'wiki:start', 'wiki:ünïcödé']);
  assert.equal((await fetch(`${one.url}/items?uri=${encodeURIComponent(old)}`)).status, 404, 'the old node is deleted');

  // B follows to gateway 2: the same node, the gateway kept with the namespace, every page as it was.
  await until('B on gateway 2', () => b.nodes.wiki.gateway === two.url && b.nodes.wiki.subscribed);
  assert.ok(sameNode(b.nodes.wiki.node, moved.node), b.nodes.wiki.node);
  assert.deepEqual(b.nodes.wiki.role, { type: 'mirror', source: A, whenGone: 'keep' });
  for (const [id, text] of Object.entries(pages)) assert.equal(pageAt(b, id), text, id);
  assert.equal(pageAt(b, 'wiki:gone'), null);
  // An edit at A now goes to gateway 2 and reaches B from there.
  await save('wiki:start', 'Start, edited after the hop\n', 'after the hop');
  await until('the edit on B', () => pageAt(b, 'wiki:start') === 'Start, edited after the hop\n');
  const history = (await view(b, 'pages', 'wiki:start')).history.map((h) => h.summary);
  assert.deepEqual(history, ['first', 'after the hop']);
  // B's subscription is on gateway 2 only: its callback is unknown to gateway 1's deleted node.
  const unsubscribeOld = await fetch(`${one.url}/unsubscribe`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: old, callback: b.callbackUrl }),
  });
  assert.equal(unsubscribeOld.status, 403);
  assert.equal((await unsubscribeOld.json()).error, 'node_not_found');
});

test('first sync pages through /items when the gateway gives Link: rel="next"', async (t) => {
  await init();
  const tmp = mkdtempSync(join(tmpdir(), 'wikisync-e2e-paging-'));
  const SOURCE = 'http://paged.example/';
  const NODE = 'xmpp:pubsub.localhost?;node=paged';
  const entry = (id, revision) => encodeEntry({
    atomId: `urn:x-wikisync:page:${id}`, page: id, title: id, updated: revision, author: null, summary: null,
    link: null, revision: { revision, site: SOURCE }, base: null, clock: [{ revision, site: SOURCE }], minor: false,
    source: SOURCE, kind: { type: 'page', text: `${id}\n`, mediaType: 'text/x-dokuwiki' },
  }).replace(/^<\?xml[^>]*>\s*/, '');
  const feed = (...entries) => `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Retrieved item collection</title><id>${NODE}</id><updated>2026-01-01T00:00:00Z</updated>${entries.join('')}</feed>`;
  // A gateway stand-in: two pages of items, newest first, and subscriptions that succeed.
  const asked = [];
  const fake = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    asked.push(`${req.method} ${url.pathname}${url.searchParams.has('after') ? ' after' : ''}`);
    if (url.pathname === '/subscribe') return res.writeHead(204).end();
    if (url.searchParams.get('after') === 'c2') return res.end(feed(entry('docs:one', 1)));
    res.writeHead(200, { link: '</items?uri=paged&after=c2>; rel="next"' });
    return res.end(feed(entry('docs:three', 3), entry('docs:two', 2)));
  });
  await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  const site = new MirrorSite({
    dir: join(tmp, 'site'), site: 'http://mirror.example/', gateway: `http://127.0.0.1:${fake.address().port}`,
    token: TOKEN, namespaces: [{ namespace: 'docs', node: NODE, role: { type: 'mirror', source: SOURCE, whenGone: 'keep' } }],
    log: () => {},
  });
  t.after(async () => {
    await site.stop();
    fake.close();
    rmSync(tmp, { recursive: true, force: true });
  });
  await site.start();
  for (const id of ['docs:one', 'docs:two', 'docs:three']) {
    assert.equal(readFileSync(join(tmp, 'site', 'pages', ...id.split(':')) + '.txt', 'utf8'), `${id}\n`, id);
  }
  // The source check reads the items, then first sync after subscribing: both follow the link.
  assert.deepEqual(asked, ['GET /items', 'GET /items after', 'POST /subscribe', 'GET /items', 'GET /items after']);
});

test('the publisher the gateway authenticated: a granted site cannot write as the source', async (t) => {
  await init();
  const tmp = mkdtempSync(join(tmpdir(), 'wikisync-e2e-publisher-'));
  // Site credentials: the source, and another site the source grants publish rights on its node.
  const OTHER = 'https://wiki-c.example/';
  const [sourceToken, otherToken] = ['source-token', 'other-token'];
  const { url: gateway, api, stop } = await startGateway(tmp, 'gateway', 'pubsub.localhost',
    ['--site', `${SOURCE}=${sourceToken}`, '--site', `${OTHER}=${otherToken}`]);
  const lines = [];
  let site;
  t.after(async () => {
    await site?.stop();
    await stop();
    rmSync(tmp, { recursive: true, force: true });
  });
  const node = (await api('POST', '/create', undefined, undefined, sourceToken)).uri;
  await api('POST', `/grant?uri=${encodeURIComponent(node)}&site=${encodeURIComponent(OTHER)}`, undefined, undefined, sourceToken);
  // Every entry claims to come from the source; `token` says who really publishes it.
  const publish = async (token, id, rev, text) => {
    const input = join(tmp, 'page.txt');
    writeFileSync(input, text);
    const xml = execFileSync(cliBin, ['entry', '--site', SOURCE, '--id', id, '--rev', String(rev), '--updated', String(rev), input], { encoding: 'utf8' });
    await api('POST', `/publish?uri=${encodeURIComponent(node)}`, xml, 'application/atom+xml;type=entry', token);
    return xml;
  };
  const file = (id) => join(tmp, 'site', 'pages', ...id.split(':')) + '.txt';

  // Before the mirror starts: its first sync reads both from /items, each with its publisher.
  await publish(otherToken, 'handbook:forged-early', 100, 'forged early\n');
  await publish(sourceToken, 'handbook:start', 101, 'from the source\n');
  const items = await (await fetch(`${gateway}/items?uri=${encodeURIComponent(node)}`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  assert.deepEqual(feedPublishers(items), [OTHER, SOURCE]);

  site = new MirrorSite({
    dir: join(tmp, 'site'), site: 'http://js-site.example/', gateway, token: TOKEN,
    namespaces: [{ namespace: 'handbook', node, role: { type: 'mirror', source: SOURCE, whenGone: 'keep' } }],
    log: (line) => lines.push(line),
  });
  const siteUrl = await site.start();
  assert.equal(readFileSync(file('handbook:start'), 'utf8'), 'from the source\n');
  assert.equal(existsSync(file('handbook:forged-early')), false);
  assert.ok(lines.includes('handbook:forged-early: ignore (notFromSource)'), lines.join('\n'));

  // Callbacks: the granted site's page claiming the source is refused; the source's own page,
  // delivered after it on the same node, arrives (the sentinel).
  await publish(otherToken, 'handbook:forged', 200, 'forged\n');
  const legit = await publish(sourceToken, 'handbook:later', 201, 'later from the source\n');
  await until('the source\'s page', () => existsSync(file('handbook:later')));
  assert.equal(readFileSync(file('handbook:later'), 'utf8'), 'later from the source\n');
  assert.equal(existsSync(file('handbook:forged')), false);
  assert.ok(lines.includes('handbook:forged: ignore (notFromSource)'), lines.join('\n'));

  // A publisher header without its signature (or with a wrong one) is refused 403, logged,
  // though the body's own signature is valid; the page stays as it was.
  const { secret } = site.nodes.handbook;
  const changed = legit.replace('later from the source', 'not signed');
  const hub = `sha256=${createHmac('sha256', secret).update(changed).digest('hex')}`;
  for (const extra of [{}, { 'x-wikisync-signature': `sha256=${'0'.repeat(64)}` }]) {
    const res = await fetch(`${siteUrl}/callback`, {
      method: 'POST', body: changed,
      headers: { referer: node, 'content-type': 'application/atom+xml', 'x-hub-signature': hub, 'x-wikisync-publisher': SOURCE, ...extra },
    });
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { error: 'bad_publisher_signature' });
  }
  assert.ok(lines.some((l) => l.includes(`publisher '${SOURCE}' without a valid X-Wikisync-Signature, refused`)), lines.join('\n'));
  assert.equal(readFileSync(file('handbook:later'), 'utf8'), 'later from the source\n');
});

test('feedPublishers reads only the gateway\'s element of each entry, oldest first', () => {
  const pub = (site) => `<publisher xmlns="urn:x-wikisync:gateway:1">${site}</publisher>`;
  const feed = `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>`
    + `<entry><id>new</id><content><![CDATA[${pub('http://cdata.example/')}]]></content><!-- ${pub('http://comment.example/')} -->${pub('http://a.example/?x&amp;y')}</entry>`
    + `<at:deleted-entry xmlns:at="http://purl.org/atompub/tombstones/1.0" ref="x" when="2026-01-01T00:00:00Z"/>`
    + `<a:entry xmlns:a="http://www.w3.org/2005/Atom"><a:id>old</a:id><g:publisher xmlns:g="urn:x-wikisync:gateway:1">http://b.example/</g:publisher><publisher>not the gateway's</publisher></a:entry>`
    + `</feed>`;
  assert.deepEqual(feedPublishers(feed), ['http://b.example/', null, 'http://a.example/?x&y']);
  assert.deepEqual(feedPublishers('<feed xmlns="http://www.w3.org/2005/Atom"><entry></feed>'), []);
});
