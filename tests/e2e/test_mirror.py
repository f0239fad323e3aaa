"""End-to-end: a real gateway and two real DokuWiki instances (source and mirror of namespace
`docs`), driven over HTTP the way users drive them (XML-RPC and the edit form)."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import re
import threading
import time
import urllib.parse

import pytest
import requests

from harness import Cluster, wait_until


@pytest.fixture(scope="module")
def cluster():
    c = Cluster().start("docs")
    try:
        yield c
    finally:
        c.stop()


def mirrored(cluster, page, text_bytes, timeout=20):
    """Waits until the mirror has exactly these bytes for the page (None: no page)."""
    return wait_until(lambda: cluster.mirror.raw(page) == text_bytes or None, timeout,
                      what=f"{page} on the mirror")


# 1 ------------------------------------------------------------------------------------------

def test_create_edit_minor_delete_reach_the_mirror_with_author_summary_and_history(cluster):
    src, mir = cluster.source, cluster.mirror
    page = "docs:guide"
    text = "====== Guide ======\n\nGrüße – 日本語 – <tag> & ]]> **bold**\n"
    assert src.put(page, text, "first version")
    mirrored(cluster, page, text.encode())

    time.sleep(1.1)  # DokuWiki revisions are whole seconds
    edited = text + "\nA second paragraph.\n"
    assert src.put(page, edited, "added a paragraph")
    mirrored(cluster, page, edited.encode())

    time.sleep(1.1)
    minor = edited.replace("second", "2nd")
    assert src.put(page, minor, "typo", minor=True)
    mirrored(cluster, page, minor.encode())

    time.sleep(1.1)
    long_text = "".join(f"  * line {i}: Ünïcödé ✓ {'x' * (i % 50)}\n" for i in range(4000))
    assert len(long_text.encode()) > 200_000
    assert src.put(page, long_text, "long page")
    mirrored(cluster, page, long_text.encode())

    time.sleep(1.1)
    assert src.put(page, "", "removed")
    mirrored(cluster, page, None)

    # the mirror's history: the same kinds of change, by the source's author, with its summaries
    # (DokuWiki writes the changelog line just after the page file: wait for it)
    expected = [
        ("C", "admin", "first version"),
        ("E", "admin", "added a paragraph"),
        ("e", "admin", "typo"),
        ("E", "admin", "long page"),
        ("D", "admin", "removed"),
    ]
    history = lambda: [(c["type"], c["user"], c["sum"]) for c in mir.changes(page)]  # noqa: E731
    wait_until(lambda: history() == expected, 10, what="the mirror's changelog")
    assert history() == expected
    # and the old revisions are readable on the mirror like any page history
    versions = mir.rpc().wiki.getPageVersions(page, 0)
    assert len(versions) >= 4
    assert {v["sum"] for v in versions} >= {"first version", "added a paragraph", "long page"}


def test_edit_form_save_is_mirrored(cluster):
    src = cluster.source
    s = src.login()
    page = "docs:formpage"
    assert src.form_edit(s, page, "Saved through the editor.\n", summary="via the form") is not None
    mirrored(cluster, page, b"Saved through the editor.\n")
    wait_until(lambda: [c["sum"] for c in cluster.mirror.changes(page)] == ["via the form"], 10,
               what="the mirror's changelog")


def test_a_node_uri_typed_with_capitals_names_the_same_node(cluster):
    """XMPP services compare without case: a mirror given the node URI with the service in
    capitals is verified and receives every callback (the core compares node URIs)."""
    src, mir = cluster.source, cluster.mirror
    node = src.cli("source", "caps").stdout.strip().splitlines()[-1]
    service = re.match(r"xmpp:([^?;]+)", node).group(1)
    typed = node.replace(service, service.upper(), 1)
    assert typed != node
    refused = mir.status()["health"].get("count", {}).get("refused", 0)
    mir.cli("mirror", "caps", typed, src.url)
    assert src.put("caps:page", "reached the mirror\n", "caps")
    wait_until(lambda: mir.raw("caps:page") == b"reached the mirror\n", 20, what="caps:page on the mirror")
    assert mir.status()["health"]["count"].get("refused", 0) == refused  # no callback refused


# 2 ------------------------------------------------------------------------------------------

def test_mirror_refuses_local_edits_of_mirrored_pages(cluster):
    src, mir = cluster.source, cluster.mirror
    page = "docs:readonly"
    assert src.put(page, "original\n", "v1")
    mirrored(cluster, page, b"original\n")
    before = wait_until(lambda: mir.changes(page), 10, what="the changelog")

    # XML-RPC: the admin has only read permission there
    assert mir.rpc().wiki.aclCheck(page) == 1
    with pytest.raises(Exception):
        mir.put(page, "local change\n", "should be refused")
    # the edit form: no editor, and a forged save changes nothing
    s = mir.login()
    assert mir.form_edit(s, page, "local change\n") is None
    html = s.get(mir.url + "doku.php", params={"id": page}).text
    assert "mirrored from" in html and src.url in html
    s.post(mir.url + "doku.php", data={"id": page, "do[save]": "1", "wikitext": "forced\n", "summary": "x"})
    # a new page in the mirrored namespace cannot be created locally either
    with pytest.raises(Exception):
        mir.put("docs:newlocal", "nope\n", "")

    assert mir.raw(page) == b"original\n"
    assert mir.raw("docs:newlocal") is None
    assert mir.changes(page) == before
    # pages outside the mirrored namespace stay editable
    assert mir.put("local:notes", "mine\n", "local")
    assert mir.raw("local:notes") == b"mine\n"


# 3 ------------------------------------------------------------------------------------------

def test_mirror_down_catches_up_without_loss_or_duplicates(cluster):
    src, mir = cluster.source, cluster.mirror
    assert src.put("docs:down-edit", "before\n", "before")
    mirrored(cluster, "docs:down-edit", b"before\n")
    assert src.put("docs:down-gone", "to be deleted\n", "before")
    mirrored(cluster, "docs:down-gone", b"to be deleted\n")

    mir.stop()
    try:
        for i in range(5):
            assert src.put(f"docs:down{i}", f"page {i} written while the mirror was down\n", f"down {i}")
        time.sleep(1.1)
        assert src.put("docs:down-edit", "after, first\n", "edit 1")
        time.sleep(1.1)
        assert src.put("docs:down-edit", "after, second\n", "edit 2")
        assert src.put("docs:down-gone", "", "gone")
        time.sleep(1.0)
    finally:
        mir.start()

    for i in range(5):
        mirrored(cluster, f"docs:down{i}", f"page {i} written while the mirror was down\n".encode(), 30)
    mirrored(cluster, "docs:down-edit", b"after, second\n", 30)
    mirrored(cluster, "docs:down-gone", None, 30)

    # nothing duplicated: every source revision exactly once, in order
    wait_until(lambda: [c["sum"] for c in mir.changes("docs:down-edit")] == ["before", "edit 1", "edit 2"], 10,
               what="down-edit's changelog")
    wait_until(lambda: [c["type"] for c in mir.changes("docs:down-gone")] == ["C", "D"], 10,
               what="down-gone's changelog")
    # a catch-up pull of the whole node afterwards changes nothing either
    before = {p: mir.changes(p) for p in ("docs:down-edit", "docs:down0", "docs:down-gone")}
    out = mir.cli("sync", "docs").stderr + mir.cli("sync", "docs").stdout
    assert "create" not in out and "update" not in out
    assert {p: mir.changes(p) for p in before} == before


def test_gateway_down_a_save_returns_fast_is_queued_shown_and_sent_later(cluster):
    src, mir = cluster.source, cluster.mirror
    cluster.gateway.stop()
    try:
        t0 = time.monotonic()
        assert src.put("docs:queued", "saved while the gateway was down\n", "queued")
        assert time.monotonic() - t0 < 5  # the save does not hang on the gateway
        assert src.raw("docs:queued") == b"saved while the gateway was down\n"
        assert src.queue_length() == 1
        s = src.login()
        html = s.get(src.url + "doku.php", params={"do": "admin", "page": "wikisync"}, timeout=20).text
        assert "Entries waiting to be published" in html and "unreachable" in html
    finally:
        cluster.gateway.start()
    # any page view runs DokuWiki's task runner, which retries the queue
    requests.get(src.url + "lib/exe/taskrunner.php", params={"id": "start"}, timeout=20)
    wait_until(lambda: src.queue_length() == 0, 20, what="the source's queue to drain")
    mirrored(cluster, "docs:queued", b"saved while the gateway was down\n")


# 4 ------------------------------------------------------------------------------------------

def test_forged_unsigned_or_replayed_callbacks_are_refused(cluster):
    src, mir = cluster.source, cluster.mirror
    page = "docs:target"
    # A listener subscribed to the same node receives the very body the mirror receives; its
    # signature under the mirror's secret is the one the gateway sent: a faithful capture.
    captured = []

    class Listener(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # verification of intent
            q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(q["hub.challenge"][0].encode())

        def do_POST(self):
            captured.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        r = requests.post(cluster.gateway.url + "/subscribe", timeout=20, json={
            "uri": cluster.node, "callback": f"http://127.0.0.1:{listener.server_port}/", "secret": "listener"})
        assert r.status_code == 204, r.text
        assert src.put(page, "genuine\n", "genuine")
        mirrored(cluster, page, b"genuine\n")
        wait_until(lambda: len(mir.changes(page)) == 1, 10, what="the changelog")
        entry = wait_until(lambda: next((b for b in captured if "<ws:page>docs:target<" in b), None),
                           what="the captured delivery")
    finally:
        listener.shutdown()
    before_changes = mir.changes(page)

    rule = mir.rules()["docs"]
    callback = mir.url + "lib/exe/ajax.php?call=wikisync&ns=docs"
    tampered = entry.replace("genuine", "tampered")
    headers = {"Content-Type": "application/atom+xml;type=entry;charset=utf-8", "Referer": rule["node"]}

    def post(body, signature=None, extra=None):
        h = dict(headers, **(extra or {}))
        if signature:
            h["X-Hub-Signature"] = signature
        return requests.post(callback, data=body.encode(), headers=h, timeout=20)

    def sign(body, secret=rule["secret"]):
        return "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()

    r = post(tampered)
    assert r.status_code == 403 and r.json()["reason"] == "unsigned"
    r = post(tampered, sign(tampered, "not-the-secret"))
    assert r.status_code == 403 and r.json()["reason"] == "bad_signature"
    r = post(tampered, sign(entry))  # a real signature, for another body
    assert r.status_code == 403
    r = post(tampered, sign(tampered), {"Referer": "xmpp:pubsub.localhost?;node=someone-else"})
    assert r.status_code == 403 and r.json()["reason"] == "wrong_node"
    # the genuine delivery replayed byte for byte with its genuine signature
    r = post(entry, sign(entry))
    assert r.status_code == 200 and r.json() == {"status": "refused", "reason": "replay"}
    # a verification GET for a subscription this site did not ask for is not answered
    r = requests.get(callback.replace("ns=docs", "ns=other") + "&hub.mode=subscribe&hub.topic="
                     + rule["node"] + "&hub.challenge=abc", timeout=20)
    assert r.status_code == 404 and "abc" not in r.text

    assert mir.raw(page) == b"genuine\n"
    assert mir.changes(page) == before_changes
    assert mir.status()["health"]["count"]["refused"] >= 5


# 5 ------------------------------------------------------------------------------------------

def test_bulk_first_sync_of_1000_pages_matches_byte_for_byte(cluster):
    src, mir = cluster.source, cluster.mirror
    src.seed("bulk", 1000)  # an existing namespace, not published yet
    node = src.cli("source", "bulk").stdout.strip().splitlines()[-1]
    src.cli("publish", "bulk")
    assert src.queue_length() == 0

    t = time.monotonic()
    out = mir.cli("mirror", "bulk", node, src.url)
    elapsed = time.monotonic() - t
    # the subscription also delivers the node's newest item, which may win the race for its page
    created = int(re.search(r"create: (\d+)", out.stdout + out.stderr).group(1))
    assert created in (999, 1000), out.stdout + out.stderr

    src_pages = sorted((src.dir / "data/pages/bulk").glob("*.txt"))
    mir_pages = sorted((mir.dir / "data/pages/bulk").glob("*.txt"))
    assert len(src_pages) == 1000
    assert [p.name for p in mir_pages] == [p.name for p in src_pages]
    for a, b in zip(src_pages, mir_pages):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert mir.changes("bulk:page0007")[-1]["user"] == "seeder"
    print(f"\nfirst sync of 1000 pages: {elapsed:.2f} s ({1000 / elapsed:.0f} pages/s, incl. subscribe)")


# source move and source gone ------------------------------------------------------------------

def test_source_move_is_followed_and_a_retired_source_leaves_kept_or_deleted_copies(cluster):
    from harness import Wiki

    a, m = cluster.source, cluster.mirror
    b = Wiki(cluster.root, "second", cluster.gateway)
    b.start()
    try:
        node = a.cli("source", "moving").stdout.strip().splitlines()[-1]
        m.cli("mirror", "moving", node, a.url)
        b.cli("mirror", "moving", node, a.url)
        assert a.put("moving:page", "version 1 from A\n", "v1")
        # a page deleted before the move is known at A only from its sync state
        assert a.put("moving:deleted", "soon gone\n", "created")
        for w in (m, b):
            wait_until(lambda: w.raw("moving:page") == b"version 1 from A\n", 20, what="v1")
            wait_until(lambda: w.raw("moving:deleted") == b"soon gone\n", 20, what="moving:deleted")
        time.sleep(1.1)  # DokuWiki revisions are whole seconds
        assert a.put("moving:deleted", "", "deleted")
        for w in (m, b):
            wait_until(lambda: w.raw("moving:deleted") is None or None, 20, what="the deletion")

        # A hands the namespace to B; B takes over on the same node
        a.cli("move", "moving", b.url)
        b.cli("source", "--node", node, "moving")
        assert b.put("moving:page", "version 2 from B\n", "v2")
        for w in (m, a):
            wait_until(lambda: w.raw("moving:page") == b"version 2 from B\n", 20, what="v2 from the new source")
        assert wait_until(lambda: m.changes("moving:page")[-1]["sum"] == "v2" or None, 10)
        html = requests.get(m.url + "doku.php", params={"id": "moving:page"}, timeout=20).text
        assert "mirrored from" in html and b.url in html
        assert a.rpc().wiki.aclCheck("moving:page") == 1  # A is a read-only mirror now
        # the move reached the deleted page too: the mirrors take it from B when B recreates it
        assert b.put("moving:deleted", "recreated at B\n", "recreated")
        for w in (m, a):
            wait_until(lambda: w.raw("moving:deleted") == b"recreated at B\n", 20, what="the recreated page")

        # B retires the namespace: mirrors keep their copies (default policy), with a notice
        b.cli("retire", "moving")
        wait_until(lambda: m.rules()["moving"].get("status") == "gone", 20, what="source gone on the mirror")
        assert m.raw("moving:page") == b"version 2 from B\n"
        html = requests.get(m.url + "doku.php", params={"id": "moving:page"}, timeout=20).text
        assert "has gone away" in html

        # a mirror with the delete policy deletes its copies when the source goes away
        node = a.cli("source", "ephemeral").stdout.strip().splitlines()[-1]
        m.cli("mirror", "--when-gone", "delete", "ephemeral", node, a.url)
        assert a.put("ephemeral:page", "short-lived\n", "tmp")
        wait_until(lambda: m.raw("ephemeral:page") == b"short-lived\n", 20, what="ephemeral page")
        a.cli("retire", "ephemeral")
        wait_until(lambda: m.raw("ephemeral:page") is None or None, 20, what="deletion on the mirror")
        assert a.raw("ephemeral:page") == b"short-lived\n"  # the source keeps its own page
    finally:
        b.stop()


def test_without_the_extension_the_wiki_works_and_the_admin_page_says_why(cluster):
    from harness import Wiki

    w = Wiki(cluster.root, "noext", cluster.gateway)
    # configured while the extension is there (a source and a mirror) ...
    w.start()
    try:
        w.cli("source", "--node", cluster.node, "docs")
        w.cli("mirror", "--no-sync", "copy", cluster.node, cluster.source.url)
    finally:
        w.stop()
    # ... then served without it
    w.ext = ""
    w.start()
    try:
        r = w.cli("peer", "other", check=False)  # refused with the message; nothing configured
        assert r.returncode != 0 and "extension is not loaded" in r.stdout + r.stderr
        assert set(w.rules()) == {"docs", "copy"}
        assert w.put("docs:plain", "saves still work\n", "no extension")
        assert w.raw("docs:plain") == b"saves still work\n"
        html = w.login().get(w.url + "doku.php", params={"do": "admin", "page": "wikisync"}, timeout=20).text
        assert "extension is not loaded" in html
        assert "not published" in html  # the failed publish is visible, not silent
        # a mirror stays read-only without the extension
        with pytest.raises(Exception):
            w.put("copy:page", "local change\n", "should be refused")
        assert w.raw("copy:page") is None
        r = w.cli("status")
        assert "extension is not loaded" in r.stdout
    finally:
        w.stop()
