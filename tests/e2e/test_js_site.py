"""End-to-end: the JS example site (bindings-js/examples/mirror-site, `node main.js`) between
real DokuWiki instances through the real gateway.

- A DokuWiki site is the source of namespace `docs`; the Node site mirrors it: pages created,
  edited and deleted on DokuWiki (XML-RPC and the edit form) arrive as files, byte for byte
  the source's page files, with the source's author and summary in the site's history.
- The Node site is the source of namespace `blog`; a DokuWiki mirror subscribed to it receives
  an edit saved on the Node site, with its author and summary.

Needs Node and the example's npm dependencies (scripts/test-e2e installs them and builds the
wasm package when it is missing)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest
import requests

from harness import REPO, TOKEN, Cluster, free_port, stop_process, wait_until

EXAMPLE = REPO / "bindings-js" / "examples" / "mirror-site"


class NodeSite:
    """The example site as a subprocess (its own process group), on a free loopback port."""

    def __init__(self, root, gateway, namespaces):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.site = f"{self.url}/"
        self.dir = root / "js-site"
        self.dir.mkdir()
        self.log = root / "js-site.log"
        self.config = self.dir / "config.json"
        self.config.write_text(json.dumps({
            "dir": str(self.dir / "data"), "site": self.site, "port": self.port, "host": "127.0.0.1",
            "gateway": gateway.url, "token": TOKEN, "namespaces": namespaces,
        }))
        self.proc = None

    def start(self):
        node = shutil.which("node")
        assert node, "node is needed for the JS example site"
        assert (EXAMPLE / "node_modules" / "wikisync").exists(), \
            "the example's npm dependencies are missing (scripts/test-e2e installs them)"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([node, "main.js", str(self.config)], cwd=EXAMPLE, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        # main.js prints its nodes once it has created and subscribed them
        wait_until(lambda: self.proc.poll() is not None or "listening on" in self.log.read_text(), 20,
                   what="the Node site to start")
        assert self.proc.poll() is None, f"the Node site exited:\n{self.log.read_text()}"

    def published_node(self, namespace: str) -> str:
        nodes = json.loads((self.dir / "data" / "nodes.json").read_text())
        return nodes[namespace]["node"]

    def raw(self, page: str):
        f = self.dir / "data" / "pages" / (page.replace(":", "/") + ".txt")
        return f.read_bytes() if f.exists() else None

    def page(self, page: str) -> dict:
        r = requests.get(f"{self.url}/pages/{page}", headers={"accept": "application/json"}, timeout=10)
        r.raise_for_status()
        return r.json()

    def save(self, page: str, text: str, user: str, summary: str) -> requests.Response:
        return requests.put(f"{self.url}/pages/{page}", params={"user": user, "summary": summary},
                            data=text.encode(), timeout=20)

    def stop(self):
        stop_process(self.proc)


@pytest.fixture(scope="module")
def setup():
    """A gateway, DokuWiki `source` (source of `docs`), DokuWiki `mirror`, and the Node site:
    mirror of `docs`, source of `blog` (which the DokuWiki mirror mirrors)."""
    cluster = Cluster().start("docs")
    js = None
    try:
        js = NodeSite(cluster.root, cluster.gateway, [
            {"namespace": "docs", "node": cluster.node,
             "role": {"type": "mirror", "source": cluster.source.url, "whenGone": "keep"}},
            {"namespace": "blog", "role": {"type": "source"}},
        ])
        js.start()
        cluster.mirror.cli("mirror", "blog", js.published_node("blog"), js.site)
        yield cluster, js
    finally:
        if js is not None:
            js.stop()
        cluster.stop()


def arrived(js, page, expected, timeout=20):
    """Waits until the Node site has exactly these bytes for the page (None: no page)."""
    return wait_until(lambda: js.raw(page) == expected or None, timeout, what=f"{page} on the Node site")


def test_js_site_mirrors_a_dokuwiki_namespace_byte_for_byte(setup):
    cluster, js = setup
    src = cluster.source
    page = "docs:js-guide"
    text = "====== Guide ======\n\nGrüße – 日本語 – <tag> & ]]> **bold**\n"
    assert src.put(page, text, "first version")
    source_bytes = src.raw(page)
    assert source_bytes == text.encode()
    arrived(js, page, source_bytes)
    history = js.page(page)["history"]
    assert [(h["author"], h["summary"]) for h in history] == [("admin", "first version")]

    # an edit through DokuWiki's edit form
    time.sleep(1.1)  # DokuWiki revisions are whole seconds
    edited = text + "\nA second paragraph, saved in the editor.\n"
    s = src.login()
    assert src.form_edit(s, page, edited, summary="via the form") is not None
    wait_until(lambda: src.raw(page) == edited.encode() or None, 10, what="the source's save")
    arrived(js, page, src.raw(page))
    assert [(h["author"], h["summary"]) for h in js.page(page)["history"]] == \
        [("admin", "first version"), ("admin", "via the form")]

    # the mirror is read-only on the Node site
    refused = js.save(page, "local change\n", "carol", "should be refused")
    assert refused.status_code == 409
    assert refused.json()["outcome"] == {"type": "refuse", "reason": "mirror"}
    assert js.raw(page) == edited.encode()

    # a deletion at the source removes the file
    time.sleep(1.1)
    assert src.put(page, "", "removed")
    assert src.raw(page) is None
    arrived(js, page, None)
    # The site removes the file before it records the deletion in the page's history.
    wait_until(lambda: js.page(page)["history"][-1].get("deleted") or None, 10,
               what="the deletion in the Node site's history")
    last = js.page(page)["history"][-1]
    assert (last["author"], last["summary"], last.get("deleted")) == ("admin", "removed", True)


def test_edit_on_the_js_site_reaches_a_dokuwiki_mirror(setup):
    cluster, js = setup
    mir = cluster.mirror
    page = "blog:hello"
    post = "A post written on the JS site.\n\nÜnïcödé & <xml> ]]>\n"
    saved = js.save(page, post, "dave", "first post")
    assert saved.status_code == 200, saved.text
    assert saved.json()["outcome"] == {"type": "publish"}
    assert js.raw(page) == post.encode()
    wait_until(lambda: mir.raw(page) == post.encode() or None, 20, what=f"{page} on the DokuWiki mirror")
    wait_until(lambda: [(c["type"], c["user"], c["sum"]) for c in mir.changes(page)] == [("C", "dave", "first post")],
               10, what="the DokuWiki mirror's changelog")
    # and the DokuWiki mirror refuses local edits of the mirrored page
    with pytest.raises(Exception):
        mir.put(page, "local change\n", "should be refused")
    assert mir.raw(page) == post.encode()
