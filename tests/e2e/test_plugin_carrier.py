"""The DokuWiki plugin's action carrier, fed the actions of the conformance vectors
(tests/vectors/decisions.json and locks.json) in a real DokuWiki instance: pages, changelog,
lock files and the outgoing queue must be what each action says (tests/e2e/plugin_carrier.php).
No server is needed: the script runs DokuWiki on the command line."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from harness import REPO, Gateway, Wiki, tear_down


def test_every_vector_action_is_carried_out_into_dokuwiki():
    root = Path(tempfile.mkdtemp(prefix="wikisync-e2e-carrier-"))
    gateway = Gateway(root)  # not started: the carrier only queues
    try:
        wiki = Wiki(root, "carrier", gateway)
        r = subprocess.run(["php", *wiki.php_args(), str(REPO / "tests/e2e/plugin_carrier.php"), str(wiki.dir),
                            str(REPO / "tests/vectors")], capture_output=True, text=True)
    finally:
        tear_down(root, gateway, [])
    assert r.returncode in (0, 1), r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["failures"] == []
    assert report["checks"] >= 100, report
