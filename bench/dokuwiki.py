"""Benchmark (not a test): the DokuWiki plugin with a real gateway and two real wikis.

1. save → visible: a page saved on the source (XML-RPC wiki.putPage) until its bytes are on the
   mirror's disk, N times; p50 / p99.
2. first sync of a 1,000-page namespace: the source's bulk publish (`cli.php publish`), the
   mirror's first sync (`cli.php mirror`: subscribe + one GET /items + local saves), against
   copying the same pages one by one over XML-RPC (wiki.getPage on the source, wiki.putPage
   on the target: what the old sync plugin does), in one run on the same machine.

Run: bench/dokuwiki.sh (builds, sets the environment) or, with WIKISYNC_GATEWAY_BIN and
WIKISYNC_PHP_EXT set, python bench/dokuwiki.py [--saves N] [--pages N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests/e2e"))
from harness import Cluster, wait_until  # noqa: E402


def percentile(values, p):
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--saves", type=int, default=100)
    ap.add_argument("--pages", type=int, default=1000)
    args = ap.parse_args()

    c = Cluster().start("docs")
    try:
        src, mir = c.source, c.mirror
        # warm-up (opcode-less php -S: first requests load more files)
        src.put("docs:warmup", "warm\n", "warm-up")
        wait_until(lambda: mir.raw("docs:warmup") == b"warm\n", 20)

        latencies = []
        for i in range(args.saves):
            text = f"latency probe {i}\n"
            t0 = time.perf_counter()
            src.put(f"docs:lat{i:03d}", text, f"probe {i}")
            wait_until(lambda: mir.raw(f"docs:lat{i:03d}") == text.encode(), 20, interval=0.002)
            latencies.append(time.perf_counter() - t0)
        save_ms = [x * 1000 for x in latencies]

        n = args.pages
        t0 = time.perf_counter()
        src.seed("bulk", n)
        seed_s = time.perf_counter() - t0
        node = src.cli("source", "bulk").stdout.strip().splitlines()[-1]
        t0 = time.perf_counter()
        src.cli("publish", "bulk")
        publish_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = mir.cli("mirror", "bulk", node, src.url)
        first_sync_s = time.perf_counter() - t0
        text = out.stdout + out.stderr
        write_s = float(re.search(r"synced 'bulk' in ([0-9.]+) s", text).group(1))
        index_s = float(re.search(r"indexed \d+ pages in ([0-9.]+) s", text).group(1))
        same = all(
            (mir.dir / "data/pages/bulk" / p.name).read_bytes() == p.read_bytes()
            for p in (src.dir / "data/pages/bulk").glob("*.txt")
        )

        # the old way: page by page over XML-RPC into a namespace the mirror does not mirror
        rs, rm = src.rpc(), mir.rpc()
        ids = [f"bulk:page{i:04d}" for i in range(n)]
        t0 = time.perf_counter()
        for pid in ids:
            rm.wiki.putPage("xcopy:" + pid, rs.wiki.getPage(pid), {"sum": "copied"})
        xmlrpc_s = time.perf_counter() - t0

        print(f"## DokuWiki plugin ({time.strftime('%Y-%m-%d')})\n")
        print(f"save on source → visible on mirror, {args.saves} saves: "
              f"p50 {statistics.median(save_ms):.0f} ms, p99 {percentile(save_ms, 99):.0f} ms, "
              f"max {max(save_ms):.0f} ms\n")
        print("| step | pages | seconds | pages/s |")
        print("|---|---|---|---|")
        print(f"| seed the source namespace (saveWikiText, in process) | {n} | {seed_s:.2f} | {n / seed_s:.0f} |")
        print(f"| source bulk publish (`cli.php publish`) | {n} | {publish_s:.2f} | {n / publish_s:.0f} |")
        print(f"| mirror first sync, pages written (GET /items + saveWikiText with history) | {n} | "
              f"{write_s:.2f} | {n / write_s:.0f} |")
        print(f"| mirror first sync, search index (DokuWiki's idx_addPage) | {n} | {index_s:.2f} | {n / index_s:.0f} |")
        print(f"| mirror first sync, whole command (`cli.php mirror`: subscribe, fetch, write, index) | {n} | "
              f"{first_sync_s:.2f} | {n / first_sync_s:.0f} |")
        print(f"| XML-RPC page by page (getPage + putPage) | {n} | {xmlrpc_s:.2f} | {n / xmlrpc_s:.0f} |")
        print(f"\npages written: {xmlrpc_s / write_s:.1f}× faster than XML-RPC; "
              f"whole first sync incl. index: {xmlrpc_s / first_sync_s:.1f}× faster; "
              f"publish + first sync vs XML-RPC: {xmlrpc_s / (publish_s + first_sync_s):.1f}×; "
              f"byte-identical: {same}")
    finally:
        c.stop()


if __name__ == "__main__":
    main()
