"""End-to-end: a bare retraction (`Event: RETRACTED`: an XMPP client, or anyone holding the
publisher token, removed a page's item from the node) is decided by the core, not ignored. A
mirror removes its copy; peers, for whom the page is alive, put it back on the node."""

from __future__ import annotations

import pytest
import requests

from harness import TOKEN, Cluster, wait_until


@pytest.fixture(scope="module")
def cluster():
    c = Cluster().start("docs")
    try:
        yield c
    finally:
        c.stop()


def retract(gateway, node: str, item: str):
    r = requests.post(gateway.url + "/publish", params={"uri": node, "item": item}, data=b"",
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20)
    assert r.status_code == 200, r.text


def test_a_retracted_page_leaves_the_mirror_and_peers_put_theirs_back(cluster):
    a, m, gateway = cluster.source, cluster.mirror, cluster.gateway
    # Mirror: the item of a mirrored page is retracted; the mirror's copy goes.
    assert a.put("docs:retracted", "soon retracted from the node\n", "created")
    assert a.put("docs:kept", "stays\n", "created")
    wait_until(lambda: m.get("docs:retracted") == "soon retracted from the node\n" or None, 20,
               what="the page on the mirror")
    retract(gateway, cluster.node, "urn:x-wikisync:page:docs:retracted")
    wait_until(lambda: m.get("docs:retracted") == "" or None, 20, what="the retraction at the mirror")
    assert m.get("docs:kept") == "stays\n"
    assert a.get("docs:retracted") == "soon retracted from the node\n"  # the source keeps its page

    # Peers: A and M edit `team` together; a retracted page is republished by the peers.
    node = a.cli("peer", "team").stdout.strip().splitlines()[-1]
    m.cli("peer", "--node", node, "team")
    assert a.put("team:alive", "a page both peers hold\n", "created")
    wait_until(lambda: m.get("team:alive") == "a page both peers hold\n" or None, 20, what="the peer page")
    retract(gateway, node, "urn:x-wikisync:page:team:alive")
    wait_until(lambda: "urn:x-wikisync:page:team:alive" in gateway.items(node) or None, 20,
               what="the page back on the node")
    for w in (a, m):
        assert w.get("team:alive") == "a page both peers hold\n"
    # A lock announcement's retraction changes nothing: an editor opened at A announces its
    # lock (a draft item), the item is retracted, and a sentinel published after it arrives
    # with both pages unchanged.
    session = a.login()
    session.get(a.url + "doku.php", params={"id": "team:alive", "do": "edit"}, timeout=20)
    wait_until(lambda: "urn:x-wikisync:draft:team:alive" in gateway.items(node) or None, 20,
               what="the lock announcement")
    retract(gateway, node, "urn:x-wikisync:draft:team:alive")
    assert a.put("team:sentinel", "after the draft retraction\n", "sentinel")
    wait_until(lambda: m.get("team:sentinel") == "after the draft retraction\n" or None, 20, what="the sentinel")
    assert m.get("team:alive") == "a page both peers hold\n"
