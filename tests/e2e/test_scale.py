"""End-to-end: every page of a big namespace reaches a new mirror, with the gateway at its
documented defaults (every item kept, `/items` served in pages of 256 linked by
`Link: rel="next"`). Compared over XML-RPC only, on both sites: the page list with each
file's exact size in bytes and the MD5 of its text, and a sample of the texts themselves."""

from __future__ import annotations

import re
import time

import pytest
import requests

from harness import Cluster

PAGES = 2000


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(tuned=False).start("docs")
    try:
        yield c
    finally:
        c.stop()


def test_first_sync_of_2000_pages_at_the_gateways_defaults_matches_byte_for_byte(cluster):
    src, mir, gw = cluster.source, cluster.mirror, cluster.gateway
    t0 = time.monotonic()
    src.seed("big", PAGES)  # an existing namespace, not published yet
    node = src.cli("source", "big").stdout.strip().splitlines()[-1]
    src.cli("publish", "big")
    assert src.queue_length() == 0
    t_published = time.monotonic()

    # the gateway keeps every page (default: no item limit) and serves them in linked pages
    first = requests.get(gw.url + "/items", params={"uri": node}, timeout=30)
    assert first.status_code == 200
    assert first.text.count("<entry") == 256
    assert 'rel="next"' in first.headers.get("Link", "")

    t = time.monotonic()
    out = mir.cli("mirror", "big", node, src.url)
    t_mirror = time.monotonic() - t
    report = out.stdout + out.stderr
    # the subscription also delivers the node's newest item, which may win the race for its page
    counts = dict((k, int(v)) for k, v in re.findall(r"([a-z:A-Z]+): (\d+)", report.split("synced", 1)[1]))
    assert counts.get("create", 0) in (PAGES - 1, PAGES), report
    assert counts.get("create", 0) + counts.get("ignore:duplicate", 0) == PAGES, report
    assert not [k for k in counts if k.startswith("error")], report

    # the same pages, each file of the same size in bytes (CRs included) and hash ...
    t = time.monotonic()
    listed = src.page_list("big")
    assert len(listed) == PAGES
    assert len({h for _, h in listed.values()}) == PAGES  # every page has its own text
    assert mir.page_list("big") == listed
    # ... and the same text, character for character, as every reader gets it: the first 21
    # pages (every variant the seed writes) and every 20th after them (reading all 4,000
    # pages one request each would take minutes; the sizes and hashes above cover them all)
    sample = sorted({f"big:page{i:04d}" for i in range(21)} | {f"big:page{i:04d}" for i in range(0, PAGES, 20)})
    theirs = src.texts(sample)
    ours = mir.texts(sample)
    t_compare = time.monotonic() - t
    for page in sample:
        assert ours[page] == theirs[page], page
    assert theirs["big:page0003"].endswith("No final newline  ")  # the seeds' variants survive
    assert "Grüße aus Köln – 日本語" in theirs["big:page1980"]
    # with the source's authors
    assert {v["user"] for v in mir.versions("big:page1234")} == {"seeder"}
    print(f"\n{PAGES} pages: seeded and published in {t_published - t0:.1f} s, mirrored (subscribe, "
          f"{PAGES // 256 + 1} pages of /items, write, index) in {t_mirror:.1f} s, compared in {t_compare:.1f} s"
          f"\n{next(line for line in report.splitlines() if 'synced' in line)}")
