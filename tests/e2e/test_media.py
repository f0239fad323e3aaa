"""End-to-end: media files (images, attachments) mirrored between real DokuWiki sites through a
real gateway, driven over XML-RPC (`wiki.putAttachment`, `wiki.deleteAttachment`) the way a
user or a script uploads them, and checked as a reader sees them: `wiki.getAttachment`, the
media manager's history, the admin page, and the mirrored page in headless Chromium.

Sites (one gateway):
  source  the source of `docs` (media_max_mb 11); users alice and bob
  mirror  a mirror of `docs` (default limit, 32 MB); users alice and bob
  small   another mirror of `docs` whose limit is 1 MB (media_max_mb 1)
and in namespace `team` source and mirror edit together (peers).
Files up to 64 KiB travel inside their entry, larger ones by reference (the receiver fetches
them from the publishing site and checks their SHA-256 and size before writing)."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import tempfile
import time
import xmlrpc.client
import zlib
from pathlib import Path

import pytest
import requests

from harness import REPO, Gateway, Refused, Wiki, tear_down, wait_until

HERE = Path(__file__).resolve().parent
INLINE_MAX = 64 * 1024  # the core's default mediaInlineMax


def payload(size: int, seed: int) -> bytes:
    """`size` random bytes, the same for the same seed (reproducible runs)."""
    return random.Random(seed).randbytes(size)


def png(width: int, height: int) -> bytes:
    """A real RGB PNG: a red → blue gradient across, green growing downwards; the corners are
    (255,0,0), (0,0,255), (255,255,0), (0,255,255)."""
    rows = b""
    for y in range(height):
        g = round(255 * y / (height - 1))
        rows += b"\x00" + b"".join(
            bytes((round(255 * (1 - x / (width - 1))), g, round(255 * x / (width - 1)))) for x in range(width))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Sites:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="wikisync-e2e-media-"))
        self.gateway = Gateway(self.root)
        self.source = self.mirror = self.small = None
        self.node = None
        self.sentinels = 0

    def start(self):
        try:
            self.gateway.start()
            self.source = Wiki(self.root, "source", self.gateway)
            self.mirror = Wiki(self.root, "mirror", self.gateway)
            self.small = Wiki(self.root, "small", self.gateway)
            self.source.plugin_conf("media_max_mb", "11")
            self.small.plugin_conf("media_max_mb", "1")
            for w in (self.source, self.mirror):
                w.add_user("alice", "alice-pass", "Alice")
                w.add_user("bob", "bob-pass", "Bob")
            for w in (self.source, self.mirror, self.small):
                w.start()
            self.node = self.source.cli("source", "docs").stdout.strip().splitlines()[-1]
            self.mirror.cli("mirror", "docs", self.node, self.source.url)
            self.small.cli("mirror", "docs", self.node, self.source.url)
            team = self.source.cli("peer", "team").stdout.strip().splitlines()[-1]
            self.mirror.cli("peer", "--node", team, "team")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        tear_down(self.root, self.gateway, (self.source, self.mirror, self.small))

    def sentinel(self, ns: str, publisher: Wiki, *receivers: Wiki):
        """Publishes a new page at `publisher` and waits until every receiver has it: whatever
        the publisher published before has been delivered by then."""
        self.sentinels += 1
        page, text = f"{ns}:sentinel{self.sentinels}", f"sentinel {self.sentinels}\n"
        assert publisher.put(page, text, "sentinel")
        for w in receivers:
            wait_until(lambda: w.raw(page) == text.encode() or None, 30, what=f"{page} at {w.name}")


@pytest.fixture(scope="module")
def sites():
    s = Sites().start()
    try:
        yield s
    finally:
        s.stop()


def has_media(wiki: Wiki, media: str, data: bytes | None, timeout=60):
    """Waits until `wiki` serves exactly these bytes for the media file (None: no file)."""
    def check():
        size = wiki.media_size(media)
        if data is None:
            return size == 0 and wiki.media(media) is None
        return size == len(data) and wiki.media(media) == data
    return wait_until(check, timeout, interval=0.2, what=f"{media} at {wiki.name}")


def history(wiki: Wiki, media: str, length: int) -> list[dict]:
    """The media file's history once it has `length` revisions (DokuWiki writes the media
    changelog line just after the file)."""
    def enough():
        h = wiki.media_history(media)
        return h if len(h) >= length else None
    return wait_until(enough, 10, what=f"{length} revisions of {media} at {wiki.name}")


def same_history(a: list[dict], b: list[dict]):
    """b repeats a: the same authors and summaries in the same order, each revision written
    no earlier than the one it copies, in increasing time."""
    assert [(r["user"], r["sum"]) for r in b] == [(r["user"], r["sum"]) for r in a]
    assert all(rb["date"] >= ra["date"] for ra, rb in zip(a, b)), (a, b)
    assert [r["date"] for r in b] == sorted({r["date"] for r in b}), b


# 1 ------------------------------------------------------------------------------------------

def test_create_overwrite_delete_reach_the_mirror_byte_for_byte_with_authors_and_times(sites):
    src, mir = sites.source, sites.mirror
    media = "docs:report.pdf"
    v1 = payload(20_000, 1)  # inside its entry
    v2 = payload(300_000, 2)  # by reference
    assert len(v1) <= INLINE_MAX < len(v2)

    assert src.put_media(media, v1, "alice", "alice-pass") == media
    has_media(mir, media, v1)
    time.sleep(1.1)  # DokuWiki revisions are whole seconds
    src.put_media(media, v2, "bob", "bob-pass")
    has_media(mir, media, v2)
    time.sleep(1.1)
    assert src.delete_media(media) == 0
    has_media(mir, media, None)

    theirs = history(src, media, 3)
    assert [(r["user"], r["sum"]) for r in theirs] == [("alice", "created"), ("bob", ""), ("admin", "removed")]
    same_history(theirs, history(mir, media, 3))
    # the old versions are in the mirror's media history, readable like the source's
    s = mir.login()
    for rev, data in zip(history(mir, media, 3)[:2], (v1, v2)):
        r = s.get(mir.url + "lib/exe/fetch.php", params={"media": media, "rev": rev["date"]}, timeout=20)
        assert r.status_code == 200 and r.content == data


def test_peers_sync_media_both_ways(sites):
    a, b = sites.source, sites.mirror  # peers in `team`
    logo, sheet = "team:logo.png", "team:sheet.zip"
    v1, v2 = png(20, 10), png(30, 15)
    big = payload(200_000, 3)  # by reference, served by the peer that uploaded it

    a.put_media(logo, v1, "alice", "alice-pass")
    has_media(b, logo, v1)
    time.sleep(1.1)
    b.put_media(logo, v2, "bob", "bob-pass")
    has_media(a, logo, v2)
    b.put_media(sheet, big, "bob", "bob-pass")
    has_media(a, sheet, big)
    time.sleep(1.1)
    a.delete_media(logo)
    has_media(b, logo, None)

    expected = [("alice", "created"), ("bob", ""), ("admin", "removed")]
    for w in (a, b):
        assert [(r["user"], r["sum"]) for r in history(w, logo, 3)] == expected
    # each revision was written first where it was made, then at the other peer
    ha, hb = history(a, logo, 3), history(b, logo, 3)
    assert ha[0]["date"] <= hb[0]["date"] and hb[1]["date"] <= ha[1]["date"] and ha[2]["date"] <= hb[2]["date"]
    assert [(r["user"], r["sum"]) for r in history(a, sheet, 1)] == [("bob", "created")]
    # neither peer is read-only for the other's files
    time.sleep(1.1)
    a.put_media(sheet, big[::-1], "alice", "alice-pass")
    has_media(b, sheet, big[::-1])


# 2 ------------------------------------------------------------------------------------------

def test_a_10_mb_file_travels_by_reference_and_arrives_intact(sites):
    src, mir = sites.source, sites.mirror
    media = "docs:dataset.zip"
    data = payload(10 * 1024 * 1024, 4)
    src.put_media(media, data, "alice", "alice-pass")
    has_media(mir, media, data, 120)
    assert [(r["user"], r["sum"]) for r in history(mir, media, 1)] == [("alice", "created")]
    # the entry named it by reference: the bytes are not in the node, the source serves them
    feed = sites.gateway.items(sites.node)
    assert "urn:x-wikisync:media:docs:dataset.zip" in feed
    assert len(feed) < 1024 * 1024
    assert "call=wikisync_media" in feed


# 3 ------------------------------------------------------------------------------------------

def test_a_file_over_the_source_limit_is_not_published_and_the_admin_page_says_so(sites):
    src, mir = sites.source, sites.mirror
    media = "docs:huge.zip"
    data = payload(11 * 1024 * 1024 + 512 * 1024, 5)  # 11.5 MB, the source allows 11
    assert src.put_media(media, data) == media  # the upload itself stays at the source
    assert src.media(media) == data
    sites.sentinel("docs", src, mir)

    assert mir.media_size(media) == 0 and mir.media(media) is None
    assert "urn:x-wikisync:media:docs:huge.zip" not in sites.gateway.items(sites.node)
    assert src.queue_length() == 0  # nothing waiting either: refused, not pending
    html = src.admin_page()
    assert "docs:huge.zip: A media file of 11.5 MB is over the limit of 11 MB (setting media_max_mb)" in html


def test_a_file_over_the_mirror_limit_is_not_written_and_its_admin_page_says_why(sites):
    src, mir, small = sites.source, sites.mirror, sites.small
    media = "docs:scan.pdf"
    data = payload(1536 * 1024, 6)  # 1.5 MB: within the source's and the mirror's limits, not small's
    src.put_media(media, data)
    has_media(mir, media, data, 60)
    # the refusal is recorded as the entry arrives; the sentinel then proves nothing came after
    wait_until(lambda: "docs:scan.pdf" in small.admin_page() or None, 30, what="the refusal at small")
    sites.sentinel("docs", src, small)

    assert small.media_size(media) == 0 and small.media(media) is None
    html = small.admin_page()
    assert "docs:scan.pdf: A media file of 1.5 MB is over the limit of 1 MB (setting media_max_mb)" in html
    # a file within the limit still arrives there
    ok = payload(50_000, 7)
    src.put_media("docs:fits.zip", ok)
    has_media(small, "docs:fits.zip", ok)


# 4 ------------------------------------------------------------------------------------------

def test_mirrored_media_is_read_only_on_the_mirror(sites):
    src, mir = sites.source, sites.mirror
    media = "docs:frozen.png"
    data = png(8, 8)
    src.put_media(media, data)
    has_media(mir, media, data)
    before = history(mir, media, 1)

    for user, password in (("admin", None), ("alice", "alice-pass")):
        with pytest.raises(Refused):
            mir.put_media(media, png(9, 9), user, password)
        with pytest.raises(xmlrpc.client.ProtocolError, match="403"):
            mir.delete_media(media, user, password)
        with pytest.raises(Refused):  # no new file in the mirrored namespace
            mir.put_media("docs:local.png", png(9, 9), user, password)
    # the media manager offers no upload there, for the administrator either
    html = mir.login().get(mir.url + "doku.php", params={"do": "media", "ns": "docs", "tab_files": "upload"},
                           timeout=20).text
    assert "have enough rights to upload files" in html
    assert mir.media(media) == data
    assert mir.media_history(media) == before
    assert mir.media("docs:local.png") is None
    # outside the mirrored namespace uploads work as usual
    assert mir.put_media("local:mine.png", png(9, 9)) == "local:mine.png"


# 5 ------------------------------------------------------------------------------------------

def test_media_in_the_first_sync_and_in_the_catch_up_after_the_mirror_was_down(sites):
    src, mir = sites.source, sites.mirror
    files = {f"archive:file{i}.zip": payload(size, 10 + i)
             for i, size in enumerate((1_000, 60_000, 70_000, 400_000))}
    files["archive:logo.png"] = png(16, 16)
    for media, data in files.items():  # before the namespace is published
        src.put_media(media, data, "alice", "alice-pass")
    node = src.cli("source", "archive").stdout.strip().splitlines()[-1]
    out = src.cli("publish", "archive")
    assert src.queue_length() == 0, out.stdout + out.stderr

    mir.cli("mirror", "archive", node, src.url)  # first sync: one /items, then each file
    for media, data in files.items():
        assert mir.media(media) == data, media
        assert [r["user"] for r in history(mir, media, 1)] == ["alice"]

    # the mirror goes down; the source creates, overwrites and deletes meanwhile
    fresh, replaced, gone = "archive:fresh.zip", "archive:file3.zip", "archive:file0.zip"
    mir.stop()
    try:
        src.put_media(fresh, payload(100_000, 20), "bob", "bob-pass")
        time.sleep(1.1)
        src.put_media(replaced, payload(80_000, 21), "bob", "bob-pass")
        time.sleep(1.1)
        src.put_media(replaced, payload(30_000, 22), "alice", "alice-pass")
        src.delete_media(gone)
    finally:
        mir.start()
    has_media(mir, fresh, payload(100_000, 20), 60)
    has_media(mir, replaced, payload(30_000, 22), 60)
    has_media(mir, gone, None, 60)
    # every revision exactly once, in order
    same_history(history(src, replaced, 3), history(mir, replaced, 3))
    same_history(history(src, gone, 2), history(mir, gone, 2))
    # a catch-up pull of the whole node afterwards changes nothing
    before = {m: mir.media_history(m) for m in (fresh, replaced, gone, "archive:logo.png")}
    out = mir.cli("sync", "archive")
    assert "create" not in out.stdout + out.stderr and "update" not in out.stdout + out.stderr
    assert {m: mir.media_history(m) for m in before} == before


def test_media_follow_a_source_move_and_a_retired_source_leaves_kept_or_deleted_files(sites):
    a, m, b = sites.source, sites.mirror, sites.small  # b becomes the new source
    node = a.cli("source", "moving").stdout.strip().splitlines()[-1]
    m.cli("mirror", "moving", node, a.url)
    b.cli("mirror", "moving", node, a.url)
    icon, manual = "moving:icon.png", "moving:manual.pdf"
    a.put_media(icon, png(12, 12))
    a.put_media(manual, payload(150_000, 30))
    for w in (m, b):
        has_media(w, icon, png(12, 12))
        has_media(w, manual, payload(150_000, 30))

    a.cli("move", "moving", b.url)
    b.cli("source", "--node", node, "moving")
    time.sleep(1.1)
    b.put_media(manual, payload(160_000, 31))  # served by the new source now
    for w in (m, a):
        has_media(w, manual, payload(160_000, 31))
    with pytest.raises(Refused):  # the old source is a mirror now
        a.put_media(icon, png(13, 13))

    # the new source retires the namespace: the mirrors keep their files (default policy)
    b.cli("retire", "moving")
    wait_until(lambda: m.rules()["moving"].get("status") == "gone", 30, what="source gone at the mirror")
    assert m.media(icon) == png(12, 12) and m.media(manual) == payload(160_000, 31)
    with pytest.raises(Refused):  # kept read-only
        m.put_media(icon, png(13, 13))
    assert m.media(icon) == png(12, 12)

    # a mirror with the delete policy deletes its files when the source goes away
    node = a.cli("source", "ephemeral").stdout.strip().splitlines()[-1]
    m.cli("mirror", "--when-gone", "delete", "ephemeral", node, a.url)
    a.put_media("ephemeral:tmp.zip", payload(90_000, 32))
    has_media(m, "ephemeral:tmp.zip", payload(90_000, 32))
    a.cli("retire", "ephemeral")
    has_media(m, "ephemeral:tmp.zip", None)
    assert [r["sum"] for r in history(m, "ephemeral:tmp.zip", 2)][-1] != ""
    assert a.media("ephemeral:tmp.zip") == payload(90_000, 32)  # the source keeps its own


# 6 ------------------------------------------------------------------------------------------

def artifacts() -> Path:
    d = Path(os.environ.get("WIKISYNC_ARTIFACTS") or REPO / "target/e2e-artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_a_mirrored_page_shows_its_mirrored_image_in_chromium(sites):
    src, mir = sites.source, sites.mirror
    if shutil.which("node") is None or not (HERE / "node_modules/playwright-core").is_dir():
        pytest.fail("node and tests/e2e/node_modules (npm install in tests/e2e) are needed: scripts/test-e2e installs them")
    image = png(37, 23)
    src.put_media("docs:logo.png", image)
    text = "====== Gallery ======\n\n{{docs:logo.png}}\n"
    assert src.put("docs:gallery", text, "with the logo")
    has_media(mir, "docs:logo.png", image)
    wait_until(lambda: mir.raw("docs:gallery") == text.encode() or None, 30, what="the page at the mirror")

    shot = artifacts() / "mirrored-image.png"
    r = subprocess.run(["node", str(HERE / "page_images.mjs"), mir.url + "doku.php?id=docs:gallery", str(shot)],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout)
    assert seen["status"] == 200
    logos = [i for i in seen["images"] if "docs:logo.png" in requests.utils.unquote(i["src"])]
    assert len(logos) == 1, seen
    img = logos[0]
    # served by the mirror itself, decoded by the browser, the very pixels the source uploaded
    assert img["src"].startswith(mir.url), img
    assert img["complete"] and img["naturalWidth"] == 37 and img["naturalHeight"] == 23, img
    assert img["pixels"] == [[255, 0, 0, 255], [0, 0, 255, 255], [255, 255, 0, 255], [0, 255, 255, 255]], img
    assert shot.stat().st_size > 0
