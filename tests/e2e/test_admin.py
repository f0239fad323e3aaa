"""End-to-end: what a site's administrator sees and does. Nothing is ignored in silence (a
mirror's source given as the administrator writes it, a wrong source refused before anything
is set up, a notification the site ignores listed with its reason), the list of conflicts
waiting for an editor (admin page and `cli.php conflicts`), and the discovery links a synced
page prints, each of which answers. Driven over HTTP, XML-RPC and `cli.php` only."""

from __future__ import annotations

import hashlib
import html as htmllib
import http.server
import re
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from harness import Cluster, Gateway, Wiki, tear_down, wait_until


@pytest.fixture(scope="module")
def cluster():
    c = Cluster().start("docs")
    try:
        yield c
    finally:
        c.stop()


def plugin_links(page_html: str) -> list[dict]:
    """The `<link>` elements of a page's head that point at the pubsub node or the gateway."""
    links = []
    for tag in re.findall(r"<link\b[^>]*>", page_html.split("</head>")[0]):
        attrs = {k: htmllib.unescape(v) for k, v in re.findall(r'(\w+)="([^"]*)"', tag)}
        links.append(attrs)
    return links


class Listener:
    """A WebSub subscriber's callback on a free port: answers verifications (recording them)
    and records the content deliveries it receives."""

    def __init__(self):
        self.verifications, self.deliveries = [], []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(self.path).query))
                outer.verifications.append(q)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(q.get("hub.challenge", "").encode())

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                outer.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


# ------------------------------------------------------------------ nothing ignored in silence

def test_a_mirror_of_a_source_written_without_its_slash_applies_every_page(cluster):
    src, mir = cluster.source, cluster.mirror
    node = src.cli("source", "manual").stdout.strip().splitlines()[-1]
    for i in range(3):
        assert src.put(f"manual:page{i}", f"page {i}\n", f"page {i}")
    base = src.url.rstrip("/")  # http://127.0.0.1:PORT, as an administrator types it
    assert not base.endswith("/") and src.status()["site"] == base + "/"
    r = mir.cli("mirror", "manual", node, base)
    out = r.stdout + r.stderr
    assert "subscribed 'manual'" in out
    # the first sync applied the pages (the newest may have come first as a callback)
    counts = dict(re.findall(r"([a-zA-Z:]+): (\d+)", out.split("synced", 1)[1]))
    assert int(counts.get("create", 0)) + int(counts.get("ignore:duplicate", 0)) == 3, out
    assert not [k for k in counts if k.startswith("ignore:") and k != "ignore:duplicate"], out
    assert mir.texts([f"manual:page{i}" for i in range(3)]) == {f"manual:page{i}": f"page {i}\n" for i in range(3)}
    # and what the source publishes now is applied as it comes
    ignored = mir.status()["health"].get("count", {}).get("ignored", 0)
    assert src.put("manual:later", "written after the mirror was set up\n", "later")
    wait_until(lambda: "manual:later" in mir.page_list("manual"), 20, interval=0.3, what="manual:later on the mirror")
    assert mir.get("manual:later") == "written after the mirror was set up\n"
    assert mir.status()["health"].get("count", {}).get("ignored", 0) == ignored


def test_a_mirror_of_the_wrong_source_is_refused_and_nothing_is_set_up(cluster):
    src, mir = cluster.source, cluster.mirror
    node = src.cli("source", "elsewhere").stdout.strip().splitlines()[-1]
    assert src.put("elsewhere:page", "from the real source\n", "created")
    r = mir.cli("mirror", "elsewhere", node, "http://wiki.example.org/", check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert f"wrong_source: the node's pages come from {src.url}, not from http://wiki.example.org/" in out, out
    assert "elsewhere" not in mir.rules()
    assert mir.page_list("elsewhere") == {}
    html = mir.admin_page(mir.login())
    assert "<code>elsewhere</code>" not in html
    assert "wrong_source: the node&#039;s pages come from" in html  # the refusal is on the admin page


def test_a_notification_from_another_site_is_ignored_and_shown_with_its_reason(cluster):
    """Someone with the gateway's publisher token publishes, to the node this site mirrors, an
    entry made at another site: the mirror ignores it (its source is the only author it
    takes), and says so on the admin page."""
    src, mir, gw = cluster.source, cluster.mirror, cluster.gateway
    page = "docs:intruded"
    assert src.put(page, "the source's text\n", "by the source")
    wait_until(lambda: page in mir.page_list("docs"), 20, interval=0.3, what=f"{page} on the mirror")
    entry = next(e for e in re.findall(r"<entry\b.*?</entry>", gw.items(cluster.node), re.S)
                 if f"<ws:page>{page}</ws:page>" in e)
    intruder = "http://intruder.example/"
    text = "not the source's text\n"
    forged = re.sub(r'site="[^"]*"', f'site="{intruder}"', entry)
    forged = re.sub(r"(<ws:revision [^>]*>)\d+", r"\g<1>4000000000", forged)
    forged = re.sub(r"<ws:sha256>[0-9a-f]+</ws:sha256>",
                    f"<ws:sha256>{hashlib.sha256(text.encode()).hexdigest()}</ws:sha256>", forged)
    forged = re.sub(r"(<content [^>]*>).*?(</content>)", lambda m: m.group(1) + text + m.group(2), forged, flags=re.S)
    assert gw.publish(cluster.node, forged).status_code == 200
    # a sentinel from the source after it: once it is here, the forged entry was handled
    assert src.put("docs:sentinel-intruded", "after the forged entry\n", "sentinel")
    wait_until(lambda: "docs:sentinel-intruded" in mir.page_list("docs"), 20, interval=0.3, what="the sentinel")

    assert mir.get(page) == "the source's text\n"
    html = mir.admin_page(mir.login())
    expected = (f"<b>ignored</b>: {page} from {intruder} ignored: it does not come from the source this site "
                "mirrors the namespace from (notFromSource)")
    assert expected in html, re.findall(r"<li><div class=\"li\">.*?</div></li>", html)
    assert re.search(r"Notifications ignored for a reason worth a look</th><td>[1-9]", html)
    # the node holds the forged item now: give the page back to its source
    assert src.put(page, "the source's text, published again\n", "republished")


# ------------------------------------------------------------------ discovery

def test_every_discovery_link_of_a_synced_page_answers(cluster):
    src, gw = cluster.source, cluster.gateway
    assert src.put("docs:discovered", "a page to discover\n", "created")
    links = plugin_links(requests.get(src.url + "doku.php", params={"id": "docs:discovered"}, timeout=20).text)
    ours = [link for link in links if link.get("href", "").startswith((gw.url, "xmpp:"))]
    by_rel = {}
    for link in ours:
        by_rel.setdefault(link["rel"], []).append(link)
    assert set(by_rel) == {"hub", "self", "alternate"}, ours

    # the node (dokupubsub style): a node the gateway serves, holding the page
    node = next(link["href"] for link in by_rel["alternate"] if link["href"].startswith("xmpp:"))
    assert node == cluster.node
    # every HTTP feed link answers 200 with the node's items as an Atom feed
    feeds = [link["href"] for link in ours if link["href"].startswith("http") and link["rel"] != "hub"]
    assert len(feeds) == 2
    for href in feeds:
        r = requests.get(href, timeout=20)
        assert r.status_code == 200, href
        assert r.headers["Content-Type"].startswith("application/atom+xml"), r.headers["Content-Type"]
        assert r.text.lstrip().startswith("<?xml") and "<feed" in r.text
        assert "<ws:page>docs:discovered</ws:page>" in r.text

    # the hub takes a WebSub subscription to the topic the page names (rel="self"), verifies
    # it, and delivers the namespace's next change to the subscriber
    hub = by_rel["hub"][0]["href"]
    assert hub == gw.url + "/hub"
    topic = by_rel["self"][0]["href"]
    listener = Listener()
    try:
        r = requests.post(hub, timeout=20, data={"hub.mode": "subscribe", "hub.topic": topic,
                                                 "hub.callback": listener.url, "hub.lease_seconds": "600"})
        assert r.status_code == 202, r.text
        verified = wait_until(lambda: listener.verifications, 20, what="the hub's verification")[0]
        assert verified["hub.mode"] == "subscribe" and verified["hub.topic"] == topic
        # a topic the hub does not have is a 4xx with a message, not a 404 of the endpoint
        r = requests.post(hub, timeout=20, data={"hub.mode": "subscribe", "hub.topic": src.url + "doku.php",
                                                 "hub.callback": listener.url})
        assert 400 <= r.status_code < 500 and r.status_code != 404 and ":" in r.text, (r.status_code, r.text)
        assert src.put("docs:discovered", "changed after the subscription\n", "changed")
        headers, body = wait_until(
            lambda: next((d for d in listener.deliveries if "changed after the subscription" in d[1]), None),
            20, what="the WebSub delivery")
        assert "<ws:page>docs:discovered</ws:page>" in body
        assert f"<{topic}>; rel=\"self\"" in headers["link"] and f"<{hub}>; rel=\"hub\"" in headers["link"]
    finally:
        listener.stop()


# ------------------------------------------------------------------ the conflict list

BASE = "First line.\nThe shared line.\nLast line.\n"


@pytest.fixture(scope="module")
def peers():
    root = Path(tempfile.mkdtemp(prefix="wikisync-e2e-admin-"))
    gateway = Gateway(root)
    a = b = None
    try:
        gateway.start()
        a, b = Wiki(root, "peerA", gateway), Wiki(root, "peerB", gateway)
        for wiki, site in ((a, "siteA"), (b, "siteB")):
            wiki.plugin_conf("site_id", site)
            wiki.start()
        node = a.cli("peer", "docs").stdout.strip().splitlines()[-1]
        b.cli("peer", "--node", node, "docs")
        yield gateway, a, b
    finally:
        tear_down(root, gateway, (a, b))


def conflicts(wiki) -> list[list[str]]:
    return [line.split("\t") for line in wiki.cli("conflicts").stdout.splitlines() if line]


def test_the_conflict_list_links_to_each_resolution_and_empties_once_resolved(peers):
    gateway, a, b = peers
    page = "docs:disputed"
    assert a.put(page, BASE, "created at A")
    wait_until(lambda: page in b.page_list("docs") and b.get(page) == BASE, 20, interval=0.3, what="the page at B")
    assert conflicts(a) == [] and conflicts(b) == []
    time.sleep(1.1)  # DokuWiki revisions are whole seconds
    # the same line changed at both sites while they could not hear each other
    gateway.stop()
    try:
        assert a.put(page, BASE.replace("shared line.", "shared line, as A wants it."), "at A")
        assert b.put(page, BASE.replace("shared line.", "shared line, as B wants it."), "at B")
    finally:
        gateway.start()
    a.cli("flush")
    b.cli("flush")
    wait_until(lambda: conflicts(a) == [[page, "siteB"]] and conflicts(b) == [[page, "siteA"]], 30,
               interval=0.5, what="the conflict listed on both sites")

    admin = a.login()
    html = a.admin_page(admin)
    section = html.split("Conflicts waiting for an editor", 1)[1].split("<h2", 1)[0]
    items = re.findall(r'<li><div class="li"><a href="([^"]*)"[^>]*>([^<]*)</a>(.*?)</div></li>', section, re.S)
    assert len(items) == 1, section
    href, label, rest = items[0]
    assert label == page and "siteB" in rest
    # the link opens the editor with the conflict: the diff of both versions and the choices
    editor = admin.get(urllib.parse.urljoin(a.url, htmllib.unescape(href)), timeout=20).text
    assert 'class="plugin_wikisync_conflict"' in editor
    words = htmllib.unescape(re.sub(r"<[^>]+>", "", editor)).replace("\xa0", " ")  # the diff marks words
    assert "as A wants it" in words and "as B wants it" in words
    for choice in ("mine", "theirs", "merge"):
        assert re.search(r'<button[^>]*name="choice"[^>]*value="%s"' % choice, editor), choice

    # resolved there (take theirs): the list empties on both sites
    sectok = re.search(r'name="sectok" value="([^"]*)"', editor).group(1)
    done = admin.post(a.url + "doku.php", data={"id": page, "do": "wikisync_conflict", "choice": "theirs",
                                                 "sectok": sectok}, timeout=20).text
    assert "Conflict resolved" in done
    wait_until(lambda: conflicts(a) == [] and conflicts(b) == [], 30, interval=0.5,
               what="the conflict list to empty on both sites")
    assert a.get(page) == b.get(page) == BASE.replace("shared line.", "shared line, as B wants it.")
    assert "No page has a conflict." in a.admin_page(admin)
    assert "No page has a conflict." in b.admin_page(b.login())
