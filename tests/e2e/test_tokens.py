"""End-to-end: who needs the gateway's publisher token. A site that only mirrors needs none
(subscribing and reading are open; callbacks are authenticated by the subscription's secret),
and its admin page does not ask for one."""

from __future__ import annotations

import pytest

from harness import Cluster, Wiki, wait_until


@pytest.fixture(scope="module")
def cluster():
    c = Cluster().start("docs")
    try:
        yield c
    finally:
        c.stop()


def test_a_mirror_without_a_token_subscribes_and_receives_every_page(cluster):
    a = cluster.source
    bare = Wiki(cluster.root, "tokenless", cluster.gateway)
    bare.plugin_conf("gateway_token", "")
    bare.start()
    try:
        assert a.put("docs:before", "published before the mirror came\n", "before")
        bare.cli("mirror", "docs", cluster.node, a.url)
        assert bare.get("docs:before") == "published before the mirror came\n"
        assert a.put("docs:after", "published after\n", "after")
        wait_until(lambda: bare.get("docs:after") == "published after\n" or None, 20, what="a callback")
        status = bare.status()
        assert status["namespaces"]["docs"]["role"]["type"] == "mirror"
        assert status["namespaces"]["docs"].get("status") == "active", status["namespaces"]["docs"]
        failures = status["health"].get("failures", [])
        assert not [f for f in failures if "401" in f["message"] or "token" in f["message"]], failures
        # its own check of the subscription needs no token either
        assert "'docs': " in bare.cli("heal").stdout
        assert bare.rules()["docs"]["report"]["type"] == "active"
    finally:
        bare.stop()
