"""Benchmark (not a test): a mirror's first sync of a namespace with pages and media files,
against copying the same content over XML-RPC one by one, in the same run.

Sites (real gateway, Debian's DokuWiki under `php -S`, as in tests/e2e): a source with
`--pages` pages (seeded through saveWikiText, with history) and `--media` media files of
random bytes whose sizes are spread evenly on a log scale from `--min-kb` to `--max-kb`; a
mirror; a plain wiki (the plugin removed). Measured:

* the source's bulk publish (`cli.php publish`: every page and file through the core; files
  over 64 KiB are published by reference);
* the mirror's first sync (`cli.php mirror`: subscribe, the node's items, every page and file
  through the core and DokuWiki's own saveWikiText()/media_save(), files by reference fetched
  from the source and checked against their SHA-256, then the search index);
* the baseline: wiki.getPage on the source + wiki.putPage on the plain wiki for every page,
  then wiki.getAttachment + wiki.putAttachment for every file (one client, HTTP Basic auth on
  every call, as a copy script or the old sync plugin does).

Both copies are compared byte for byte with the source. Run: scripts/bench-first-sync.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests/e2e"))
from harness import Gateway, Wiki, tear_down  # noqa: E402

NS = "bench"


def sizes(count: int, min_kb: int, max_kb: int) -> list[int]:
    """`count` sizes spread evenly on a log scale from min_kb to max_kb (KB = 1000 bytes)."""
    if count == 1:
        return [min_kb * 1000]
    ratio = math.log(max_kb / min_kb)
    return [round(min_kb * 1000 * math.exp(ratio * i / (count - 1))) for i in range(count)]


def machine() -> str:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores ({cpu or platform.machine()}), load average {load:.1f} at the start"


def tree(root: Path) -> dict[str, str]:
    """relative path → SHA-256 of every file under root."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def main():
    ap = argparse.ArgumentParser(description="first sync with media files against XML-RPC one by one")
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--media", type=int, default=100)
    ap.add_argument("--min-kb", type=int, default=10)
    ap.add_argument("--max-kb", type=int, default=2000)
    args = ap.parse_args()
    host = machine()
    print(f"machine: {host}", file=sys.stderr)

    root = Path(tempfile.mkdtemp(prefix="wikisync-bench-first-sync-"))
    gateway = Gateway(root)
    src = mir = plain = None
    try:
        gateway.start()
        src = Wiki(root, "source", gateway)
        mir = Wiki(root, "mirror", gateway)
        plain = Wiki(root, "plain", gateway)
        shutil.rmtree(plain.dir / "lib/plugins/wikisync")  # a wiki without wikisync
        for w in (src, mir, plain):
            w.start()

        # the source's content, before the namespace is published
        t0 = time.perf_counter()
        src.seed(NS, args.pages)
        rng = random.Random(2026)
        files = {f"{NS}:file{i:03d}.zip": rng.randbytes(n)
                 for i, n in enumerate(sizes(args.media, args.min_kb, args.max_kb))}
        rpc = src.rpc()
        for media, data in files.items():
            rpc.wiki.putAttachment(media, xmlrpc.client.Binary(data), {"ow": True})
        seed_s = time.perf_counter() - t0
        page_bytes = sum(p.stat().st_size for p in (src.dir / "data/pages" / NS).glob("*.txt"))
        media_bytes = sum(len(d) for d in files.values())
        mb = (page_bytes + media_bytes) / 1e6
        print(f"seeded {args.pages} pages ({page_bytes / 1e6:.2f} MB) and {len(files)} files "
              f"({media_bytes / 1e6:.1f} MB) in {seed_s:.1f} s", file=sys.stderr)

        node = src.cli("source", NS).stdout.strip().splitlines()[-1]
        t0 = time.perf_counter()
        out = src.cli("publish", NS)
        publish_s = time.perf_counter() - t0
        assert src.queue_length() == 0, out.stdout + out.stderr

        t0 = time.perf_counter()
        out = mir.cli("mirror", NS, node, src.url)
        sync_s = time.perf_counter() - t0
        text = out.stdout + out.stderr
        write_s = float(re.search(r"synced '[^']*' in ([0-9.]+) s", text).group(1))
        index_s = float(re.search(r"indexed \d+ pages in ([0-9.]+) s", text).group(1))
        print("first sync: " + re.search(r"synced '[^\n]*", text).group(0), file=sys.stderr)

        # the baseline: one page, then one file, at a time over XML-RPC
        rs, rp = src.rpc(), plain.rpc()
        t0 = time.perf_counter()
        for i in range(args.pages):
            pid = f"{NS}:page{i:04d}"
            rp.wiki.putPage(pid, rs.wiki.getPage(pid), {"sum": "copied"})
        pages_rpc_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        for media in files:
            answer = rp.wiki.putAttachment(media, rs.wiki.getAttachment(media), {"ow": True})
            assert answer == media, f"the plain wiki refused {media}"
        media_rpc_s = time.perf_counter() - t1
        rpc_s = time.perf_counter() - t0

        expected_pages = tree(src.dir / "data/pages" / NS)
        expected_media = tree(src.dir / "data/media" / NS)
        same_mirror = (tree(mir.dir / "data/pages" / NS) == expected_pages
                       and tree(mir.dir / "data/media" / NS) == expected_media)
        # putPage cleans the text (CR LF becomes LF): the seeded pages with CR LF differ there
        plain_pages = tree(plain.dir / "data/pages" / NS)
        plain_same_pages = sum(plain_pages.get(k) == v for k, v in expected_pages.items())
        same_plain_media = tree(plain.dir / "data/media" / NS) == expected_media

        n, m = args.pages, len(files)
        print(f"## First sync with media files ({time.strftime('%Y-%m-%d')})\n")
        print(f"{n} pages ({page_bytes / 1e6:.2f} MB) and {m} media files ({media_bytes / 1e6:.1f} MB, "
              f"{args.min_kb} KB to {args.max_kb / 1000:g} MB); machine: {host}, "
              f"{os.getloadavg()[0]:.1f} at the end\n")
        print("| step | seconds | pages/s | MB/s |")
        print("|---|---|---|---|")
        print(f"| source bulk publish (`cli.php publish`) | {publish_s:.2f} | {n / publish_s:.0f} | "
              f"{mb / publish_s:.1f} |")
        print(f"| mirror first sync, pages and files written | {write_s:.2f} | {n / write_s:.0f} | {mb / write_s:.1f} |")
        print(f"| mirror first sync, search index | {index_s:.2f} | | |")
        print(f"| **mirror first sync, whole command** (`cli.php mirror`) | **{sync_s:.2f}** | **{n / sync_s:.0f}** | "
              f"**{mb / sync_s:.1f}** |")
        print(f"| XML-RPC one by one, pages (getPage + putPage) | {pages_rpc_s:.2f} | {n / pages_rpc_s:.0f} | "
              f"{page_bytes / 1e6 / pages_rpc_s:.2f} |")
        print(f"| XML-RPC one by one, files (getAttachment + putAttachment) | {media_rpc_s:.2f} | | "
              f"{media_bytes / 1e6 / media_rpc_s:.1f} |")
        print(f"| **XML-RPC one by one, whole copy** | **{rpc_s:.2f}** | **{n / rpc_s:.0f}** | **{mb / rpc_s:.1f}** |")
        print(f"\nratio (XML-RPC whole copy ÷ mirror first sync whole command): **{rpc_s / sync_s:.1f}×**; "
              f"pages and files written: {rpc_s / write_s:.1f}×; publish + first sync: "
              f"{rpc_s / (publish_s + sync_s):.1f}×")
        print(f"byte-identical to the source: the mirror's pages and files {same_mirror}; the XML-RPC copy's "
              f"files {same_plain_media}, pages {plain_same_pages} of {n} (wiki.putPage turns CR LF into LF)")
        if not (same_mirror and same_plain_media):
            sys.exit("a copy differs from the source")
    finally:
        tear_down(root, gateway, (src, mir, plain))


if __name__ == "__main__":
    main()
