"""End-to-end: subscriptions that heal. A real gateway with a short failure budget drops a
mirror that was down; the mirror learns it from the gateway (`GET /subscription`), shows it,
and mends it by itself from DokuWiki's task runner (a visitor's page view) or from
`cli.php heal` (cron): it subscribes again and catches up from `/items`, with nothing lost and
nothing twice. A lease near its end is renewed the same way.

When a lease is renewed and what each report leads to is the core's (`check_subscription`,
tests/vectors/hosts.json, with time given by hand); here the real sites carry it out."""

from __future__ import annotations

import re
import struct
import time
import zlib
from datetime import datetime

import pytest
import requests

from harness import Cluster, wait_until

NS = "docs"
HEAL_INTERVAL = 2  # seconds, the mirror's `heal_interval` here (default 3600)


def png(r: int, g: int, b: int) -> bytes:
    """A valid 1×1 PNG of one colour (DokuWiki checks an uploaded image's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes([0, r, g, b]))) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def cluster():
    # dropped after 2 s of failed deliveries (documented: --failure-budget-secs)
    c = Cluster(gateway_args=["--failure-budget-secs", "2"]).start(NS)
    try:
        c.mirror.plugin_conf("heal_interval", HEAL_INTERVAL)
        yield c
    finally:
        c.stop()


def subscription(cluster) -> dict:
    """What the gateway says about the mirror's subscription, asked as the mirror asks it."""
    rule = cluster.mirror.rules()[NS]
    r = cluster.gateway.subscription(rule["node"], cluster.mirror.callback_url(NS), rule["secret"])
    assert r.status_code == 200, r.text
    return r.json()


def wait_dropped(cluster) -> dict:
    """Waits until the gateway says it dropped the mirror's subscription; its answer."""
    return wait_until(lambda: (lambda s: s["state"] == "dropped" and s)(subscription(cluster)), 30,
                      interval=0.5, what="the gateway to drop the mirror")


def rfc3339(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def same_namespace(cluster):
    """Whether the mirror holds exactly the source's pages (size, hash and text) and media files."""
    src, mir = cluster.source, cluster.mirror
    pages = src.page_list(NS)
    if mir.page_list(NS) != pages or mir.media_list(NS) != src.media_list(NS):
        return False
    return mir.texts(sorted(pages)) == src.texts(sorted(pages))


def namespace_row(html: str) -> str:
    """The admin page's table row of the namespace."""
    m = re.search(r"<tr><td><code>%s</code></td>.*?</tr>" % re.escape(NS), html, re.S)
    assert m, "no row for the namespace on the admin page"
    return m.group(0)


def test_a_dropped_mirror_shows_it_and_heals_by_itself_with_nothing_lost_or_twice(cluster):
    src, mir = cluster.source, cluster.mirror
    assert src.put("docs:kept", "unchanged all along\n", "kept")
    assert src.put("docs:edited", "version 1\n", "v1")
    assert src.put("docs:deleted", "deleted while the mirror is away\n", "created")
    assert src.put_media("docs:replaced.png", png(255, 0, 0))
    assert src.put_media("docs:removed.png", png(0, 255, 0))
    wait_until(lambda: same_namespace(cluster), 30, interval=0.5, what="the mirror to have the namespace")
    assert subscription(cluster)["state"] == "active"
    before = {p: [v["sum"] for v in mir.versions(p)] for p in ("docs:kept", "docs:edited")}

    mir.stop()
    try:
        time.sleep(1.1)  # DokuWiki revisions are whole seconds
        assert src.put("docs:edited", "version 2\n", "v2")
        time.sleep(1.1)
        assert src.put("docs:edited", "version 3\n", "v3")
        assert src.put("docs:deleted", "", "deleted")
        assert src.put("docs:new", "written while the mirror was away\n", "new")
        assert src.put_media("docs:replaced.png", png(0, 0, 255))
        assert src.put_media("docs:new.png", png(9, 9, 9))
        src.delete_media("docs:removed.png")
        assert "docs:removed.png" not in src.media_list(NS)
        # the gateway gives up on the mirror once its deliveries failed for the budget
        assert wait_dropped(cluster)["dropped"]["reason"] == "failure_budget"

        # cron runs `cli.php heal` while the mirror's web server is still down: the gateway
        # cannot verify a new subscription, and heal says so (non-zero exit, the reason)
        r = mir.cli("heal", check=False)
        out = r.stdout + r.stderr
        assert r.returncode != 0, out
        assert "'docs': resubscribe failed" in out and "verification_failed" in out, out
        rule = mir.status()["namespaces"][NS]
        assert rule["report"]["type"] == "dropped" and rule["report"]["reason"] == "failureBudget", rule
    finally:
        mir.start()

    # the administrator sees it: dropped, since when, why; and the failed attempt
    admin = mir.login()
    html = mir.admin_page(admin)
    row = namespace_row(html)
    assert "dropped by the gateway since" in row and "failure budget (failureBudget)" in row, row
    assert "subscription of &#039;docs&#039;" in html and "verification_failed" in html

    # nobody acts: visitors' page views run DokuWiki's task runner, which mends it within
    # heal_interval seconds of the last check (subscribe again, catch up from /items)
    t = time.monotonic()

    def healed():
        mir.run_tasks()
        return mir.status()["namespaces"][NS].get("report", {}).get("type") == "active"
    wait_until(healed, 10 * HEAL_INTERVAL + 30, interval=0.5, what="the task runner to heal the subscription")
    print(f"\nhealed {time.monotonic() - t:.1f} s after the mirror came back (heal_interval {HEAL_INTERVAL} s)")
    state = subscription(cluster)
    assert state["state"] == "active"

    # everything the source did meanwhile is there: pages created, edited, deleted; media
    # files added, replaced, deleted
    assert same_namespace(cluster)
    assert "docs:deleted" not in mir.page_list(NS) and "docs:new" in mir.page_list(NS)
    assert mir.get("docs:edited") == "version 3\n"
    assert set(mir.media_list(NS)) == {"docs:replaced.png", "docs:new.png"}
    assert mir.media("docs:replaced.png") == png(0, 0, 255)
    # nothing twice: each revision the mirror has is one of the source's, once. (The node
    # holds the newest item of each page, so a catch-up after a drop brings the newest
    # revision; "v2", made and superseded while the mirror was dropped, stays in the
    # source's history only.)
    history = [v["sum"] for v in mir.versions("docs:edited")]
    assert history == ["v3", "v1"], history
    assert [v["sum"] for v in src.versions("docs:edited")] == ["v3", "v2", "v1"]
    assert [v["sum"] for v in mir.versions("docs:kept")] == before["docs:kept"] == ["kept"]
    assert [v["user"] for v in mir.versions("docs:new")] == ["admin"]

    # the admin page says so
    html = mir.admin_page(admin)
    row = namespace_row(html)
    assert 'class="wikisync_good">active until' in row, row
    assert "dropped by the gateway" not in row
    assert re.search(r"<b>healed</b>: &#039;docs&#039;: dropped by the gateway at [^<]*\(failureBudget\); "
                     r"subscribed again and caught up", html)

    # and it stays mended: a new page arrives as a callback, a further heal does nothing
    assert src.put("docs:after", "after the heal\n", "after")
    wait_until(lambda: "docs:after" in mir.page_list(NS), 20, interval=0.3, what="docs:after on the mirror")
    r = mir.cli("heal")
    assert "'docs': nothing" in r.stdout, r.stdout


def test_cron_heals_a_dropped_mirror_with_cli_heal(cluster):
    """The same drop on a wiki nobody visits: `cli.php heal` (what cron runs) mends it."""
    src, mir = cluster.source, cluster.mirror
    mir.stop()
    try:
        time.sleep(1.1)  # a new revision of docs:edited
        assert src.put("docs:edited", "version 4, while nobody visits\n", "v4")
        assert src.put("docs:quiet", "a page made while nobody visits\n", "quiet")
        assert src.put("docs:new", "", "deleted while nobody visits")
        wait_dropped(cluster)
    finally:
        mir.start()
    assert mir.status()["namespaces"][NS]["report"]["type"] == "active"  # not checked since

    r = mir.cli("heal")
    assert "'docs': resubscribe\n" in r.stdout and "1 namespaces checked" in r.stdout + r.stderr, r.stdout
    assert subscription(cluster)["state"] == "active"
    assert mir.status()["namespaces"][NS]["report"]["type"] == "active"
    assert same_namespace(cluster)
    assert "docs:new" not in mir.page_list(NS) and mir.get("docs:quiet") == "a page made while nobody visits\n"
    assert [v["sum"] for v in mir.versions("docs:edited")] == ["v4", "v3", "v1"]


def test_a_lease_near_its_end_is_renewed(cluster):
    """The gateway is told (with the mirror's own secret, as the gateway's API allows) that the
    mirror's lease is 2 minutes, far less than half of the mirror's 10 days: the next check
    renews it; one more check finds nothing to do."""
    src, mir, gw = cluster.source, cluster.mirror, cluster.gateway
    rule = mir.rules()[NS]
    r = requests.post(gw.url + "/subscribe", timeout=20, json={
        "uri": rule["node"], "callback": mir.callback_url(NS), "secret": rule["secret"], "lease_seconds": 120})
    assert r.status_code == 200, r.text
    assert rfc3339(subscription(cluster)["expires"]) < time.time() + 130

    out = mir.cli("heal").stdout
    assert "'docs': renew" in out, out
    expires = rfc3339(subscription(cluster)["expires"])
    lease = 10 * 86400  # lease_days, default 10
    assert time.time() + lease - 120 < expires <= time.time() + lease + 5
    # what the admin sees is the renewed lease
    report = mir.status()["namespaces"][NS]["report"]
    assert (report["type"], report["expires"]) == ("active", int(expires)), report
    assert report["sourceSeen"] <= time.time(), report  # the source's last sign of life

    out = mir.cli("heal").stdout
    assert "'docs': nothing" in out, out
    assert rfc3339(subscription(cluster)["expires"]) == expires

    # the same from the admin page's button
    r = requests.post(gw.url + "/subscribe", timeout=20, json={
        "uri": rule["node"], "callback": mir.callback_url(NS), "secret": rule["secret"], "lease_seconds": 120})
    assert r.status_code == 200, r.text
    admin = mir.login()
    form = re.search(r'<form[^>]*>(?:(?!</form>).)*name="wikisync_do" value="heal".*?</form>',
                     mir.admin_page(admin), re.S).group(0)
    sectok = re.search(r'name="sectok" value="([^"]*)"', form).group(1)
    done = admin.post(mir.url + "doku.php", params={"do": "admin", "page": "wikisync"}, timeout=30,
                      data={"wikisync_do": "heal", "ns": "", "sectok": sectok}).text
    assert "Done: &#039;docs&#039;: renew" in done
    assert rfc3339(subscription(cluster)["expires"]) > time.time() + lease - 120
    # the renewed subscription still delivers
    assert src.put("docs:renewed", "after the renewal\n", "renewed")
    wait_until(lambda: "docs:renewed" in mir.page_list(NS), 20, interval=0.3, what="docs:renewed on the mirror")
