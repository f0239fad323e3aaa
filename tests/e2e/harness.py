"""Real processes for the end-to-end tests and the benchmark: a wikisync gateway and
independent DokuWiki instances (Debian's DokuWiki under `php -S`, the plugin installed, the
extension loaded), on free loopback ports in a temporary directory. Everything started here
runs in its own process group and is stopped by `Cluster.stop()`.

Environment (set by scripts/test-e2e):
  WIKISYNC_GATEWAY_BIN  the wikisync-gateway binary
  WIKISYNC_PHP_EXT      the wikisync PHP extension (.so), absolute path
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import xmlrpc.client
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugin-dokuwiki"
SEED = Path(__file__).resolve().parent / "seed_pages.php"
TOKEN = "e2e-publisher-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=20.0, interval=0.05, what="condition"):
    """Polls `predicate` until it returns a truthy value; raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def stop_process(proc: subprocess.Popen | None):
    """Stops a process started in its own session (and its children) by its process group:
    SIGTERM, then SIGKILL after 10 s."""
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def tear_down(root: Path, gateway: "Gateway", wikis, keep=False):
    """Stops the wikis (best effort) and the gateway, and removes `root` unless kept
    (`keep`, or WIKISYNC_E2E_KEEP=1)."""
    for w in wikis:
        if w is not None:
            try:
                w.stop()
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
    gateway.stop()
    if not keep and os.environ.get("WIKISYNC_E2E_KEEP") != "1":
        shutil.rmtree(root, ignore_errors=True)


def _bash(script: str, *args: str) -> str:
    """Runs a function of scripts/lib/dokuwiki.sh."""
    cmd = f'source "{REPO}/scripts/lib/common.sh"; source "{REPO}/scripts/lib/dokuwiki.sh"; {script}'
    out = subprocess.run(["bash", "-c", cmd, "_", *args], check=True, capture_output=True, text=True)
    return out.stdout


class Gateway:
    """A gateway in `root/<name>` (log `root/<name>.log`); `service`: the pubsub service JID in
    its node URIs (a second gateway gets its own, as a real one would); `extra`: more options."""

    def __init__(self, root: Path, name="gateway", service="pubsub.localhost", extra=()):
        self.extra = list(extra)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = root / name
        self.data.mkdir()
        self.log = root / f"{name}.log"
        self.service = service
        self.proc = None

    def start(self):
        binary = os.environ.get("WIKISYNC_GATEWAY_BIN") or str(REPO / "target/release/wikisync-gateway")
        args = [
            binary, "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data),
            "--service", self.service, "--token", TOKEN, "--max-items-per-node", "100000",
            # a mirror that was down is retried quickly (the test waits for the catch-up)
            "--retry-base-ms", "200", "--retry-max-ms", "1000", "--callback-timeout-ms", "10000",
            *self.extra,
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self.healthy, 20, what="gateway /healthz")

    def healthy(self):
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def items(self, node: str) -> str:
        r = requests.get(self.url + "/items", params={"uri": node, "max_items": 100000}, timeout=30)
        r.raise_for_status()
        return r.text

    def subscription(self, node: str, callback: str, secret: str) -> requests.Response:
        """`GET /subscription`: what the gateway says about a subscription, asked as its
        subscriber (signed with its secret)."""
        ts = str(int(time.time()))
        key = hashlib.sha256(secret.encode()).digest()
        sig = hmac.new(key, f"GET\n/subscription\n{node}\n{callback}\n{ts}".encode(), hashlib.sha256).hexdigest()
        return requests.get(self.url + "/subscription", params={"uri": node, "callback": callback, "timestamp": ts},
                            headers={"X-Hub-Signature": f"sha256={sig}"}, timeout=10)

    def stop(self):
        stop_process(self.proc)


class Wiki:
    def __init__(self, root: Path, name: str, gateway: Gateway, password="e2e-admin-pass"):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.dir = root / name
        self.password = password
        _bash('dw_create "$1" "$2" "$3" "$4" && dw_install_plugin "$1" "$5"',
              str(self.dir), self.url, password, f"Wiki {name}", str(PLUGIN))
        with open(self.dir / "conf/local.php", "a") as f:
            f.write(f"$conf['plugin']['wikisync']['gateway_url'] = '{gateway.url}';\n")
            f.write(f"$conf['plugin']['wikisync']['gateway_token'] = '{TOKEN}';\n")
        self.ext = os.environ.get("WIKISYNC_PHP_EXT", "")

    def plugin_conf(self, key: str, value: str):
        """Sets one of the plugin's settings in conf/local.php (before start)."""
        with open(self.dir / "conf/local.php", "a") as f:
            f.write(f"$conf['plugin']['wikisync']['{key}'] = {value!r};\n")

    def dokuwiki_conf(self, key: str, value):
        """Sets one of DokuWiki's own settings in conf/local.php (before start)."""
        with open(self.dir / "conf/local.php", "a") as f:
            f.write(f"$conf[{key!r}] = {value!r};\n")

    def add_user(self, login: str, password: str, name: str, groups="user"):
        _bash('dw_add_user "$@"', str(self.dir), login, password, name, groups)

    def php_args(self) -> list[str]:
        return ["-d", f"extension={self.ext}"] if self.ext else []

    # ------------------------------------------------------------------ processes

    def start(self):
        _bash('dw_serve "$@"', str(self.dir), str(self.port), *self.php_args())

    def stop(self):
        _bash('dw_stop "$1"', str(self.dir))

    def cli(self, *args: str, check=True) -> subprocess.CompletedProcess:
        r = subprocess.run(["php", *self.php_args(), str(self.dir / "bin/plugin.php"), "wikisync", *args],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"cli {args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def seed(self, ns: str, count: int, user="seeder"):
        subprocess.run(["php", *self.php_args(), str(SEED), str(self.dir), ns, str(count), user],
                       check=True, capture_output=True)

    # ------------------------------------------------------------------ XML-RPC

    def rpc(self, user="admin", password=None):
        password = password or self.password
        url = f"http://{user}:{urllib.parse.quote(password)}@127.0.0.1:{self.port}/lib/exe/xmlrpc.php"
        return xmlrpc.client.ServerProxy(url, allow_none=True)

    def put(self, page: str, text: str, summary="", minor=False, user="admin", password=None):
        return self.rpc(user, password).wiki.putPage(page, text, {"sum": summary, "minor": minor})

    def get(self, page: str) -> str:
        return self.rpc().wiki.getPage(page)

    def versions(self, page: str):
        return self.rpc().wiki.getPageVersions(page, 0)

    # ------------------------------------------------------------------ files (for assertions)

    def page_file(self, page: str) -> Path:
        return self.dir / "data/pages" / (page.replace(":", "/") + ".txt")

    def raw(self, page: str):
        """The page's bytes on disk, or None when it does not exist."""
        f = self.page_file(page)
        return f.read_bytes() if f.exists() else None

    def changes(self, page: str) -> list[dict]:
        """The page's changelog lines (date, ip, type, id, user, sum, extra, sizechange)."""
        f = self.dir / "data/meta" / (page.replace(":", "/") + ".changes")
        if not f.exists():
            return []
        keys = ["date", "ip", "type", "id", "user", "sum", "extra", "sizechange"]
        return [dict(zip(keys, line.split("\t"))) for line in f.read_text().splitlines() if line]

    def status(self, secrets=False) -> dict:
        """The plugin's status as its administrator sees it (`cli.php status --json`)."""
        args = ["status", "--json"] + (["--secrets"] if secrets else [])
        return json.loads(self.cli(*args).stdout)

    def rules(self) -> dict:
        """The synced namespaces (role, node, status, secret)."""
        return self.status(secrets=True)["namespaces"]

    def queue_length(self) -> int:
        return self.status()["queue"]

    # ------------------------------------------------------------------ the browser path

    def login(self, user="admin", password=None) -> requests.Session:
        s = requests.Session()
        page = s.get(self.url + "doku.php", params={"do": "login"}, timeout=20).text
        tok = re.search(r'name="sectok" value="([^"]*)"', page).group(1)
        s.post(self.url + "doku.php", data={"do": "login", "u": user, "p": password or self.password,
                                            "sectok": tok, "id": "start"}, timeout=20)
        return s

    def form_edit(self, s: requests.Session, page: str, text: str, summary="", minor=False):
        """Saves through the edit form; returns the edit page HTML (None: no edit form)."""
        html = s.get(self.url + "doku.php", params={"id": page, "do": "edit"}, timeout=20).text
        area = re.search(r'<textarea[^>]*name="wikitext"[^>]*>', html)
        if area is None or "readonly" in area.group(0):
            return None
        def field(name):
            m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html)
            return m.group(1) if m else ""
        data = {"id": page, "do[save]": "1", "wikitext": text, "summary": summary, "sectok": field("sectok"),
                "date": field("date"), "prefix": "", "suffix": "", "changecheck": field("changecheck"),
                "target": "section"}
        if minor:
            data["minor"] = "1"
        s.post(self.url + "doku.php", data=data, timeout=20)
        return html


class Cluster:
    """A gateway, a source wiki and a mirror wiki, configured for namespace `docs`."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="wikisync-e2e-"))
        self.gateway = Gateway(self.root)
        self.source = None
        self.mirror = None
        self.node = None

    def start(self, ns="docs"):
        try:
            self.gateway.start()
            self.source = Wiki(self.root, "source", self.gateway)
            self.mirror = Wiki(self.root, "mirror", self.gateway)
            self.source.start()
            self.mirror.start()
            self.node = self.source.cli("source", ns).stdout.strip().splitlines()[-1]
            self.mirror.cli("mirror", ns, self.node, self.source.url)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, keep=False):
        tear_down(self.root, self.gateway, (self.source, self.mirror), keep)
