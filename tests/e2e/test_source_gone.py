"""End-to-end: a source that goes away without deleting its node. The source sends the gateway
heartbeats while it checks its subscriptions (`cli.php heal`, the task runner); the mirror reads
the node's last sign of life in its subscription check and, once its source has been silent for
longer than `source_grace_days`, applies its when-gone policy and says so on its admin page."""

from __future__ import annotations

import time

import pytest

from harness import Cluster, wait_until


@pytest.fixture(scope="module")
def cluster():
    c = Cluster().start("docs")
    try:
        yield c
    finally:
        c.stop()


def test_a_silent_source_is_gone_after_the_grace_and_the_delete_policy_applies(cluster):
    a, m = cluster.source, cluster.mirror
    node = a.cli("source", "quiet").stdout.strip().splitlines()[-1]
    m.cli("mirror", "--when-gone", "delete", "quiet", node, a.url)
    assert a.put("quiet:page", "from a source that will fall silent\n", "created")
    wait_until(lambda: m.get("quiet:page") == "from a source that will fall silent\n" or None, 20,
               what="the page on the mirror")

    # The source beats: its own check sends a heartbeat for the namespace it is the source of.
    before = int(time.time())
    done = a.cli("heal").stdout
    assert "'quiet': heartbeat" in done, done
    assert a.rules()["quiet"]["heartbeat"] >= before

    # The mirror's check reads when the source was last seen; within the grace nothing happens.
    m.cli("heal")
    report = m.rules()["quiet"]["report"]
    assert report["type"] == "active", report
    assert report["sourceSeen"] >= before, report
    assert m.rules()["quiet"].get("status") != "gone"
    html = m.login().get(m.url + "doku.php", params={"do": "admin", "page": "wikisync"}, timeout=20).text
    assert "source last heard of" in html

    # The source falls silent (shut down without retiring its node). The mirror's grace is made
    # short (5 s); once that much time has passed since the last sign of life, its next check
    # takes the source for gone and deletes the copies (its policy).
    seen = report["sourceSeen"]
    a.stop()
    try:
        m.plugin_conf("source_grace_days", 5 / 86400)
        wait_until(lambda: time.time() > seen + 6 or None, 20, interval=0.5, what="the grace to pass")
        done = m.cli("heal").stdout
    finally:
        a.start()
    assert "'quiet': sourceGone" in done, done
    rule = m.rules()["quiet"]
    assert rule["status"] == "gone" and rule["gone"]["silentSince"] == seen, rule
    assert m.rpc().wiki.getPage("quiet:page") == ""  # deleted: the policy was "delete"
    html = m.login().get(m.url + "doku.php", params={"do": "admin", "page": "wikisync"}, timeout=20).text
    assert "source gone: not heard of since" in html
    # The check does not come back to a namespace whose source is gone.
    assert "quiet" not in m.cli("heal").stdout
