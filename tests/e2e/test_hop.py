"""End-to-end: sources that hop (issue #11), with real gateways and real DokuWiki sites.

1. A source moves its namespace to a node on a second gateway (`cli.php relocate --gateway`):
   every page is published there and the old node is deleted with a redirect to the new node's
   feed URL. A DokuWiki mirror and the JS example site follow it: they subscribe at gateway 2,
   keep every page byte for byte, leave the old node, and a later edit at the source reaches
   them through gateway 2; then roles reverse there (B becomes the source on gateway 2).
2. Roles reverse: A is the source and B mirrors it; A hands the source role to B
   (`cli.php move`) and B takes it (`cli.php source`): edits at B reach A, A's copies are
   read-only, no page is lost at either site, and both sites say so (`status --json`, the
   admin page, the page itself).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from harness import TOKEN, Gateway, Wiki, tear_down, wait_until
from test_js_site import NodeSite


def callback(wiki: Wiki, ns: str) -> str:
    """The callback URL the plugin subscribes for namespace `ns`."""
    return wiki.url + "lib/exe/ajax.php?call=wikisync&ns=" + urllib.parse.quote(ns, safe="")


def page_files(wiki: Wiki, ns: str) -> dict[str, bytes]:
    """The namespace's pages as DokuWiki stores them: page id -> bytes."""
    base = wiki.dir / "data/pages" / ns.replace(":", "/")
    return {f"{ns}:" + str(p.relative_to(base).with_suffix("")).replace("/", ":"): p.read_bytes()
            for p in sorted(base.rglob("*.txt"))}


@pytest.fixture
def root():
    path = Path(tempfile.mkdtemp(prefix="wikisync-e2e-hop-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


# 1 ------------------------------------------------------------------------------------------

def test_a_source_hops_to_a_node_on_a_second_gateway_and_its_mirrors_follow(root):
    one = Gateway(root, "gateway1", "pubsub.localhost")
    two = Gateway(root, "gateway2", "pubsub2.localhost")
    a = b = js = None
    try:
        one.start()
        two.start()
        a = Wiki(root, "a", one)
        b = Wiki(root, "b", one)
        a.start()
        b.start()
        old = a.cli("source", "hop").stdout.strip().splitlines()[-1]
        b.cli("mirror", "hop", old, a.url)
        js = NodeSite(root, one, [{"namespace": "hop", "node": old,
                                   "role": {"type": "mirror", "source": a.url, "whenGone": "keep"}}])
        js.start()

        texts = {
            "hop:start": "====== Start ======\n\nGrüße – 日本語 – <tag> & ]]> **bold**\n",
            "hop:guide": "".join(f"  * line {i}: Ünïcödé ✓\n" for i in range(500)),
            "hop:sub:deep": "A page in a sub-namespace.\n",
            "hop:gone": "deleted before the hop\n",
        }
        for page, text in texts.items():
            assert a.put(page, text, "before the hop")
        time.sleep(1.1)  # DokuWiki revisions are whole seconds
        assert a.put("hop:gone", "", "deleted")
        del texts["hop:gone"]
        at_a = page_files(a, "hop")
        assert set(at_a) == set(texts)
        for page, data in at_a.items():
            wait_until(lambda: b.raw(page) == data or None, 20, what=f"{page} on B")
            wait_until(lambda: js.raw(page) == data or None, 20, what=f"{page} on the JS site")
        wait_until(lambda: b.raw("hop:gone") is None and js.raw("hop:gone") is None or None, 20,
                   what="the deletion on the mirrors")
        b_before = b.rules()["hop"]

        # A moves the namespace to a node created on gateway 2
        out = a.cli("relocate", "--gateway", two.url, "--token", TOKEN, "hop")
        new = out.stdout.strip().splitlines()[-1]
        assert new.startswith("xmpp:pubsub2.localhost?;node="), out.stdout + out.stderr
        rule = a.rules()["hop"]
        assert (rule["node"], rule["gateway"], rule["role"]) == (new, two.url, {"type": "source"})
        assert a.status()["namespaces"]["hop"].get("token") is None  # only with --secrets
        assert rule["token"] == TOKEN
        # gateway 2's node carries every page (the deletion too); gateway 1's node is gone
        for page in list(texts) + ["hop:gone"]:
            assert f"<ws:page>{page}</ws:page>" in two.items(new), page
        assert requests.get(one.url + "/items", params={"uri": old}, timeout=10).status_code == 404

        # B follows to gateway 2: subscribed there, every page as it was
        wait_until(lambda: (lambda r: r.get("gateway") == two.url and r["node"] == new
                            and r.get("status") == "active" or None)(b.rules()["hop"]), 30,
                   what="B on gateway 2")
        b_rule = b.rules()["hop"]
        assert b_rule["role"] == {"type": "mirror", "source": a.url, "whenGone": "keep"}
        assert b_rule["secret"] != b_before["secret"]
        assert page_files(b, "hop") == at_a
        # its subscription is gateway 2's now; gateway 1 dropped the old one with the node
        state = two.subscription(new, callback(b, "hop"), b_rule["secret"])
        assert state.status_code == 200 and state.json()["state"] == "active", state.text
        gone = one.subscription(old, callback(b, "hop"), b_before["secret"])
        assert gone.status_code == 200, gone.text
        assert gone.json()["state"] == "dropped"
        assert gone.json()["dropped"]["reason"] == "node_deleted"
        assert gone.json()["dropped"]["redirect"].startswith(two.url + "/items?uri=")
        # the follow was not a failure at B (the old node's end is no error)
        failures = [f["message"] for f in b.status()["health"].get("failures", []) if f["kind"] == "failure"]
        assert failures == []

        # the JS site followed too
        wait_until(lambda: (lambda n: n.get("gateway") == two.url and n["node"] == new or None)(
            json.loads((js.dir / "data" / "nodes.json").read_text())["hop"]), 30,
            what="the JS site on gateway 2")
        for page, data in at_a.items():
            assert js.raw(page) == data, page

        # a later edit at A goes to gateway 2 and reaches both mirrors from there
        time.sleep(1.1)
        edited = texts["hop:start"] + "\nEdited after the hop.\n"
        assert a.put("hop:start", edited, "after the hop")
        wait_until(lambda: b.raw("hop:start") == edited.encode() or None, 20, what="the edit on B")
        wait_until(lambda: js.raw("hop:start") == edited.encode() or None, 20, what="the edit on the JS site")
        assert a.queue_length() == 0
        assert [c["sum"] for c in b.changes("hop:start")] == ["before the hop", "after the hop"]
        assert b.rpc().wiki.aclCheck("hop:start") == 1  # still a read-only mirror
        status = b.cli("status").stdout
        assert f"node {new} on {two.url}, mirrored from {a.url}" in status, status
        html = b.login().get(b.url + "doku.php", params={"do": "admin", "page": "wikisync"}, timeout=20).text
        assert two.url in html

        # then roles reverse on gateway 2: B takes the source role there, with gateway 2's token
        a.cli("move", "hop", b.url)
        b.cli("source", "--token", TOKEN, "hop")
        assert (b.rules()["hop"]["gateway"], b.rules()["hop"]["token"]) == (two.url, TOKEN)
        time.sleep(1.1)
        assert b.put("hop:guide", "Rewritten at B, published to gateway 2.\n", "B is the source")
        wait_until(lambda: a.raw("hop:guide") == b"Rewritten at B, published to gateway 2.\n" or None, 20,
                   what="B's edit at A")
        wait_until(lambda: js.raw("hop:guide") == b"Rewritten at B, published to gateway 2.\n" or None, 20,
                   what="B's edit at the JS site")
        assert b.queue_length() == 0
        assert a.rules()["hop"]["role"] == {"type": "mirror", "source": b.url, "whenGone": "keep"}
    finally:
        if js is not None:
            js.stop()
        two.stop()
        tear_down(root, one, (a, b), keep=True)


def test_a_mirror_away_during_the_hop_follows_at_its_next_subscription_check(root):
    """The deletion's callback never reached B (down until gateway 1 gave up on it): B's
    subscription check finds the deleted node's redirect to gateway 2 and follows it."""
    one = Gateway(root, "gateway1", "pubsub.localhost", args=["--failure-budget-secs", "1"])
    two = Gateway(root, "gateway2", "pubsub2.localhost")
    a = b = None
    try:
        one.start()
        two.start()
        a = Wiki(root, "a", one)
        b = Wiki(root, "b", one)
        a.start()
        b.start()
        old = a.cli("source", "away").stdout.strip().splitlines()[-1]
        b.cli("mirror", "away", old, a.url)
        assert a.put("away:page", "before the hop\n", "v1")
        wait_until(lambda: b.raw("away:page") == b"before the hop\n" or None, 20, what="the page on B")

        b.stop()
        try:
            new = a.cli("relocate", "--gateway", two.url, "--token", TOKEN, "away").stdout.strip().splitlines()[-1]
            # gateway 1 gives the deletion's delivery up (its failure budget is 1 s)
            wait_until(lambda: requests.get(one.url + "/healthz", timeout=5).json()["outbox"] == 0 or None, 30,
                       what="gateway 1 to give the delivery up")
            assert b.rules()["away"]["node"] == old  # B heard nothing
        finally:
            b.start()
        out = b.cli("heal")
        assert "'away': follow" in out.stdout, out.stdout + out.stderr
        rule = b.rules()["away"]
        assert (rule["node"], rule.get("gateway"), rule["status"]) == (new, two.url, "active")
        assert b.raw("away:page") == b"before the hop\n"
        time.sleep(1.1)
        assert a.put("away:page", "after the hop\n", "v2")
        wait_until(lambda: b.raw("away:page") == b"after the hop\n" or None, 20, what="the edit on B")
        # the next check finds the new subscription well
        assert "'away': nothing" in b.cli("heal").stdout
    finally:
        two.stop()
        tear_down(root, one, (a, b), keep=True)


def test_relocate_refuses_what_it_cannot_do_with_a_sentence(root):
    gw = Gateway(root)
    a = None
    try:
        gw.start()
        a = Wiki(root, "a", gw)
        a.start()
        node = a.cli("source", "docs").stdout.strip().splitlines()[-1]
        for args, said in [
            (["relocate", "--gateway", "gw2.example", "docs"], "not a gateway's URL"),
            (["relocate", "--node", node, "docs"], "published to that node already"),
            (["relocate", "--node", "http://gw2.example/feed?uri=x", "docs"], "ends in /items"),
            (["relocate", "nothere"], "not the source"),
        ]:
            r = a.cli(*args, check=False)
            assert r.returncode != 0, args
            assert said in r.stdout + r.stderr, (args, r.stdout, r.stderr)
        assert a.rules()["docs"]["node"] == node
        assert "gateway" not in a.rules()["docs"]
    finally:
        tear_down(root, gw, (a,), keep=True)


# 2 ------------------------------------------------------------------------------------------

def test_roles_reverse_the_mirror_becomes_the_source_and_the_source_its_mirror(root):
    gw = Gateway(root)
    a = b = None
    try:
        gw.start()
        a = Wiki(root, "a", gw)
        b = Wiki(root, "b", gw)
        a.start()
        b.start()
        node = a.cli("source", "rev").stdout.strip().splitlines()[-1]
        b.cli("mirror", "rev", node, a.url)
        assert a.put("rev:one", "one, from A\n", "one")
        assert a.put("rev:two", "two, from A\n", "two")
        assert a.put("rev:deleted", "deleted at A\n", "created")
        time.sleep(1.1)
        assert a.put("rev:deleted", "", "deleted")
        for page in ("rev:one", "rev:two"):
            wait_until(lambda: b.raw(page) == a.raw(page) or None, 20, what=f"{page} on B")
        wait_until(lambda: b.changes("rev:deleted") and b.raw("rev:deleted") is None or None, 20,
                   what="the deletion on B")
        with pytest.raises(Exception):
            b.put("rev:one", "B may not edit yet\n", "refused")

        # the reversal: A hands the role to B (A mirrors B now), then B takes it on the same node
        out = a.cli("move", "rev", b.url)
        assert b.url in out.stdout + out.stderr
        b.cli("source", "rev")
        a_rule, b_rule = a.status()["namespaces"]["rev"], b.status()["namespaces"]["rev"]
        assert a_rule["role"] == {"type": "mirror", "source": b.url, "whenGone": "keep"}
        assert a_rule["readOnly"] is True and a_rule["node"] == node
        assert b_rule["role"] == {"type": "source"} and b_rule["readOnly"] is False
        assert b_rule["node"] == node and b_rule["status"] == "active"

        # edits at B reach A; A's copies are read-only
        time.sleep(1.1)
        assert b.put("rev:one", "one, edited at B\n", "edited at B")
        assert b.put("rev:three", "three, new at B\n", "new at B")
        wait_until(lambda: a.raw("rev:one") == b"one, edited at B\n" or None, 20, what="B's edit at A")
        wait_until(lambda: a.raw("rev:three") == b"three, new at B\n" or None, 20, what="B's new page at A")
        assert a.rpc().wiki.aclCheck("rev:one") == 1
        with pytest.raises(Exception):
            a.put("rev:two", "A may not edit any more\n", "refused")
        with pytest.raises(Exception):
            a.put("rev:four", "nor create\n", "refused")
        assert a.raw("rev:four") is None
        # a page deleted before the reversal comes back from B when B recreates it
        assert b.put("rev:deleted", "recreated at B\n", "recreated")
        wait_until(lambda: a.raw("rev:deleted") == b"recreated at B\n" or None, 20, what="the recreated page")

        # no page is lost at either site: the same pages, byte for byte, with their history
        assert page_files(a, "rev") == page_files(b, "rev")
        assert set(page_files(a, "rev")) == {"rev:one", "rev:two", "rev:three", "rev:deleted"}
        assert a.raw("rev:two") == b"two, from A\n"
        assert [c["sum"] for c in a.changes("rev:one")] == ["one", "edited at B"]
        assert [c["sum"] for c in b.changes("rev:one")] == ["one", "edited at B"]

        # both sites show the new roles
        html = requests.get(a.url + "doku.php", params={"id": "rev:one"}, timeout=20).text
        assert "mirrored from" in html and b.url in html
        admin = a.login().get(a.url + "doku.php", params={"do": "admin", "page": "wikisync"}, timeout=20).text
        row = re.search(r"<tr><td><code>rev</code></td>(.*?)</tr>", admin, re.S).group(1)
        assert "mirrored from" in row and b.url in row
        admin = b.login().get(b.url + "doku.php", params={"do": "admin", "page": "wikisync"}, timeout=20).text
        row = re.search(r"<tr><td><code>rev</code></td>(.*?)</tr>", admin, re.S).group(1)
        assert "<td>source</td>" in row and "mirrored from" not in row
        assert f"mirrored from {b.url}" in a.cli("status").stdout
        assert "mirrored from" not in [l for l in b.cli("status").stdout.splitlines() if "'rev'" in l][0]
        assert a.queue_length() == 0 and b.queue_length() == 0
    finally:
        tear_down(root, gw, (a, b), keep=True)
