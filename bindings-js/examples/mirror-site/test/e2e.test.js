// End to end: the example site against the real wikisync gateway, with a second publisher
// that is not DokuWiki (the `wikisync entry` command line tool plus plain HTTP requests, as
// curl would send them). Needs the binaries: WIKISYNC_GATEWAY_BIN and WIKISYNC_CLI_BIN
// (scripts/test-js builds them and sets both).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeEntry, decodeFeed, encodeEntry, init } from 'wikisync';
import { MirrorSite } from '../site.js';

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

test('mirror-site against the real gateway and a command-line publisher', async (t) => {
  assert.ok(gatewayBin && cliBin, 'set WIKISYNC_GATEWAY_BIN and WIKISYNC_CLI_BIN (scripts/test-js does)');
  await init();
  const tmp = mkdtempSync(join(tmpdir(), 'wikisync-e2e-'));
  const port = await freePort();
  const gateway = `http://127.0.0.1:${port}`;
  const gw = spawn(gatewayBin, [
    '--listen', `127.0.0.1:${port}`, '--data-dir', join(tmp, 'gateway'), '--token', TOKEN,
    '--retry-base-ms', '100', '--retry-max-ms', '500',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let gwLog = '';
  gw.stderr.on('data', (d) => { gwLog += d; });
  const receiver = { server: null, bodies: [] };
  let site;
  t.after(async () => {
    await site?.stop();
    receiver.server?.close();
    gw.kill('SIGTERM');
    await new Promise((r) => gw.once('exit', r));
    rmSync(tmp, { recursive: true, force: true });
  });
  await until('the gateway', async () => (await fetch(`${gateway}/healthz`).catch(() => null))?.ok);

  const api = async (method, path, body, type) => {
    const res = await fetch(`${gateway}${path}`, {
      method, body, headers: { authorization: `Bearer ${TOKEN}`, ...(type ? { 'content-type': type } : {}) },
    });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}\n${gwLog}`);
    return text ? JSON.parse(text) : null;
  };

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
  const meta = async (id) => (await fetch(`${siteUrl}/pages/${id}`, { headers: { accept: 'application/json' } })).json();
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
