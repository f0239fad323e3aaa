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
import threading
import time
import urllib.parse
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
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


class Refused(Exception):
    """DokuWiki's XML-RPC server refused a call."""


def _remote_answer(answer, what: str):
    """An XML-RPC answer, or Refused: DokuWiki 2022-07-31's server answers the errors of
    `wiki.putAttachment`, `wiki.getAttachment`, … (RemoteException) with an **empty struct**
    and HTTP 200 (it returns the exception object instead of raising it), so the reason is lost
    on the way; permission errors come as HTTP 403 (xmlrpc.client.ProtocolError)."""
    if isinstance(answer, dict) and not answer:
        raise Refused(f"DokuWiki refused the {what}")
    return answer


class Gateway:
    """A gateway in `root/<name>` (log `root/<name>.log`) on a free port; `service`: the pubsub
    service JID in its node URIs (a second gateway gets its own, as a real one would). `tuned`
    (the default) adds quick retries and a high item limit for the tests; `tuned=False` runs it
    at its documented defaults (only the listen address, the data directory, the service and
    the publisher token are given). `args`: more options."""

    def __init__(self, root: Path, name="gateway", service="pubsub.localhost", args=(), tuned=True):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = root / name
        self.data.mkdir()
        self.log = root / f"{name}.log"
        self.service = service
        self.proc = None
        self.args = list(args)
        self.tuned = tuned

    def start(self):
        binary = os.environ.get("WIKISYNC_GATEWAY_BIN") or str(REPO / "target/release/wikisync-gateway")
        args = [binary, "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data),
                "--service", self.service, "--token", TOKEN]
        if self.tuned:
            args += [
                "--max-items-per-node", "100000",
                # a mirror that was down is retried quickly (the test waits for the catch-up)
                "--retry-base-ms", "200", "--retry-max-ms", "1000", "--callback-timeout-ms", "10000",
            ]
        args += self.args
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

    def publish(self, node: str, entry: str) -> requests.Response:
        """Publishes one Atom entry to a node with the publisher token (the gateway's API)."""
        return requests.post(self.url + "/publish", params={"uri": node}, data=entry.encode(), timeout=20,
                             headers={"Content-Type": "application/atom+xml;type=entry;charset=utf-8",
                                      "Authorization": f"Bearer {TOKEN}"})

    def subscription(self, node: str, callback: str, secret: str) -> requests.Response:
        """`GET /subscription`: what the gateway says about a subscription, asked as its
        subscriber (signed with its secret; see docs/gateway.md)."""
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
        # big media files arrive over XML-RPC as base64 in one POST (4/3 of the file)
        limits = ["-d", "upload_max_filesize=64M", "-d", "post_max_size=64M", "-d", "memory_limit=512M"]
        return limits + (["-d", f"extension={self.ext}"] if self.ext else [])

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

    # ------------------------------------------------------------------ media files (XML-RPC)

    def put_media(self, media: str, data: bytes, user="admin", password=None) -> str:
        """Uploads (or overwrites) a media file as `user`, as DokuWiki's XML-RPC does it;
        returns the media id, raises Refused when DokuWiki does not save it."""
        return _remote_answer(self.rpc(user, password).wiki.putAttachment(
            media, xmlrpc.client.Binary(data), {"ow": True}), f"upload of {media}")

    def delete_media(self, media: str, user="admin", password=None):
        """Deletes a media file as `user`; raises Refused (or xmlrpc's ProtocolError 403)."""
        return _remote_answer(self.rpc(user, password).wiki.deleteAttachment(media), f"deletion of {media}")

    def media(self, media: str):
        """A media file's bytes as the wiki serves them, or None when it does not exist."""
        answer = self.rpc().wiki.getAttachment(media)
        return answer.data if isinstance(answer, xmlrpc.client.Binary) else None

    def media_size(self, media: str) -> int:
        """The size `wiki.getAttachmentInfo` gives (0: no such file)."""
        return int(self.rpc().wiki.getAttachmentInfo(media)["size"])

    def media_history(self, media: str) -> list[dict]:
        """The media file's history as the media manager shows it, oldest first: date (the
        revision), user, sum."""
        html = requests.get(self.url + "doku.php", timeout=20, params={
            "do": "media", "tab_details": "history", "image": media, "ns": media.rpartition(":")[0]}).text
        form = re.search(r'<form id="page__revisions".*?</form>', html, re.S)
        out = []
        for li in re.findall(r"<li[^>]*>(.*?)</li>", form.group(0) if form else "", re.S):
            date = re.search(r'type="checkbox" value="(\d+)"', li)
            user = re.search(r'<span class="user"><bdi>([^<]*)</bdi>', li)
            summary = re.search(r'<span class="sum">(.*?)</span>', li, re.S)
            out.append({
                "date": int(date.group(1)) if date else 0,
                "user": user.group(1) if user else "",
                "sum": re.sub(r"^\s*–\s*", "", summary.group(1)).strip() if summary else "",
            })
        return out[::-1]

    def admin_page(self) -> str:
        """The plugin's admin page as the administrator sees it (HTML)."""
        return self.login().get(self.url + "doku.php", params={"do": "admin", "page": "wikisync"}, timeout=20).text

    def page_list(self, ns: str) -> dict:
        """Every page of a namespace as XML-RPC lists it: {id: (size in bytes, md5 of the
        trimmed text)}."""
        return {p["id"]: (p["size"], p["hash"])
                for p in self.rpc().dokuwiki.getPagelist(ns, {"hash": True})}

    def texts(self, pages) -> dict:
        """{page: its text} as XML-RPC's `wiki.getPage` serves it (DokuWiki serves every page
        with Unix line ends), asked by 4 clients at once (the server has 4 workers)."""
        local = threading.local()

        def get(page):
            if not hasattr(local, "rpc"):
                local.rpc = self.rpc()
            return page, local.rpc.wiki.getPage(page)

        with ThreadPoolExecutor(4) as pool:
            return dict(pool.map(get, list(pages)))

    def media_list(self, ns: str) -> dict:
        """Every media file of a namespace as XML-RPC lists it: {id: (size, md5 of the bytes)}."""
        return {m["id"]: (m["size"], m["hash"])
                for m in self.rpc().wiki.getAttachments(ns, {"hash": True})}

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

    def callback_url(self, ns: str) -> str:
        """The callback URL this site subscribes for namespace `ns` (docs/dokuwiki.md)."""
        return self.url + "lib/exe/ajax.php?call=wikisync&ns=" + urllib.parse.quote(ns, safe="")

    def run_tasks(self):
        """What a visitor's browser does on every page view: load DokuWiki's task runner."""
        r = requests.get(self.url + "lib/exe/taskrunner.php", params={"id": "start"}, timeout=60)
        assert r.status_code == 200, r.status_code

    # ------------------------------------------------------------------ the browser path

    def login(self, user="admin", password=None) -> requests.Session:
        s = requests.Session()
        page = s.get(self.url + "doku.php", params={"do": "login"}, timeout=20).text
        tok = re.search(r'name="sectok" value="([^"]*)"', page).group(1)
        s.post(self.url + "doku.php", data={"do": "login", "u": user, "p": password or self.password,
                                            "sectok": tok, "id": "start"}, timeout=20)
        return s

    def admin_page(self, s: requests.Session) -> str:
        """The plugin's admin page (`doku.php?do=admin&page=wikisync`) as a logged-in admin sees it."""
        r = s.get(self.url + "doku.php", params={"do": "admin", "page": "wikisync"}, timeout=30)
        r.raise_for_status()
        assert "plugin_wikisync_admin" in r.text, "not the wikisync admin page (logged in as admin?)"
        return r.text

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

    def __init__(self, gateway_args=(), tuned=True):
        self.root = Path(tempfile.mkdtemp(prefix="wikisync-e2e-"))
        self.gateway = Gateway(self.root, args=gateway_args, tuned=tuned)
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
