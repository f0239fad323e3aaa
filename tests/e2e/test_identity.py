"""End-to-end: who may write, and as whom. Each site publishes with its own site credential
(`--site SITE_ID=TOKEN`), the gateway reports the authenticated publisher to subscribers
(signed), and the mirror's core decides: a site granted publish rights on the source's node,
or a stranger, cannot feed the mirror pages claiming to be the source's."""

from __future__ import annotations

import hashlib
import hmac
import re
import tempfile
from pathlib import Path

import pytest
import requests

from harness import Gateway, Wiki, tear_down, wait_until

TOKEN_A = "e2e-site-a-token"
TOKEN_B = "e2e-site-b-token"
TOKEN_C = "e2e-site-c-token"
ENTRY_TYPE = "application/atom+xml;type=entry;charset=utf-8"


class Sites:
    """A gateway with site credentials for A (the source of `docs`), B (granted publish rights
    on A's node by A) and C (a stranger), and a mirror M of A."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="wikisync-e2e-identity-"))
        self.gateway = Gateway(self.root)
        self.a = self.m = None
        self.node = None

    def start(self):
        try:
            self.a = Wiki(self.root, "siteA", self.gateway)
            self.m = Wiki(self.root, "mirror", self.gateway)
            self.b_id = "http://siteb.example/"
            self.c_id = "http://sitec.example/"
            self.gateway.args += ["--site", f"{self.a.url}={TOKEN_A}", "--site", f"{self.b_id}={TOKEN_B}",
                                  "--site", f"{self.c_id}={TOKEN_C}"]
            self.gateway.start()
            self.a.plugin_conf("gateway_token", TOKEN_A)
            self.a.start()
            self.m.start()
            self.node = self.a.cli("source", "docs").stdout.strip().splitlines()[-1]
            self.m.cli("mirror", "docs", self.node, self.a.url)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        tear_down(self.root, self.gateway, (self.a, self.m))

    def call(self, method: str, path: str, token: str | None, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.gateway.url + path, headers=headers, timeout=20, **kw)

    def publish_as(self, token: str | None, entry: str) -> requests.Response:
        return self.call("POST", "/publish", token, params={"uri": self.node}, data=entry.encode(),
                         headers={"Content-Type": ENTRY_TYPE})


@pytest.fixture(scope="module")
def sites():
    s = Sites().start()
    try:
        yield s
    finally:
        s.stop()


def forged_from(feed: str, page: str, text: str) -> str:
    """The source's entry for `page` in `feed`, rewritten with another text and a newer
    revision, still claiming to come from the source."""
    entry = next(e for e in re.findall(r"<entry\b.*?</entry>", feed, re.S) if f"<ws:page>{page}</ws:page>" in e)
    # what the gateway added (the publisher it authenticated) is not part of the entry
    entry = re.sub(r'<publisher xmlns="urn:x-wikisync:gateway:1">[^<]*</publisher>', "", entry)
    entry = re.sub(r"(<ws:revision [^>]*>)\d+", r"\g<1>4000000000", entry)
    entry = re.sub(r"<ws:sha256>[0-9a-f]+</ws:sha256>",
                   f"<ws:sha256>{hashlib.sha256(text.encode()).hexdigest()}</ws:sha256>", entry)
    return re.sub(r"(<content [^>]*>).*?(</content>)", lambda m: m.group(1) + text + m.group(2), entry,
                  flags=re.S)


def test_the_source_node_belongs_to_site_a_and_items_name_their_publisher(sites):
    a, gw = sites.a, sites.gateway
    listed = sites.call("GET", "/publishers", TOKEN_A, params={"uri": sites.node})
    assert listed.status_code == 200, listed.text
    assert listed.json()["owner"] == {"site": a.url}
    assert f"owner: {a.url}" in a.cli("publishers", "docs").stdout
    assert a.put("docs:owned", "by the source\n", "first")
    wait_until(lambda: "docs:owned" in sites.m.page_list("docs") or None, 20, interval=0.3, what="the page on the mirror")
    feed = gw.items(sites.node)
    assert f'<publisher xmlns="urn:x-wikisync:gateway:1">{a.url}</publisher>' in feed
    # the other credentials may not touch A's node
    assert sites.call("GET", "/publishers", TOKEN_B, params={"uri": sites.node}).status_code == 403
    assert sites.call("POST", "/delete", TOKEN_B, params={"uri": sites.node}).status_code == 403


def test_a_granted_peer_or_a_stranger_cannot_feed_the_mirror_as_the_source(sites):
    a, m, gw = sites.a, sites.m, sites.gateway
    page = "docs:claimed"
    assert a.put(page, "the source's text\n", "by the source")
    wait_until(lambda: page in m.page_list("docs") or None, 20, interval=0.3, what=f"{page} on the mirror")
    forged = forged_from(gw.items(sites.node), page, "not the source's text\n")

    # a stranger's credential (and none at all) is refused by the gateway
    refused = sites.publish_as(TOKEN_C, forged)
    assert refused.status_code == 403 and refused.json()["error"] == "not_owner", refused.text
    assert sites.publish_as(None, forged).status_code == 401

    # B, granted by A, may publish to A's node: what it publishes is reported as B's
    a.cli("grant", "docs", sites.b_id)  # the admin of A, with A's own credential
    assert f"granted: {sites.b_id}" in a.cli("publishers", "docs").stdout
    assert sites.call("POST", "/grant", TOKEN_B, params={"uri": sites.node, "site": sites.c_id}).status_code == 403
    published = sites.publish_as(TOKEN_B, forged)
    assert published.status_code == 200, published.text
    # a legit publish from A after it: once it is on the mirror, B's entry was handled
    assert a.put("docs:sentinel-claimed", "after B's entry\n", "sentinel")
    wait_until(lambda: "docs:sentinel-claimed" in m.page_list("docs") or None, 20, interval=0.3, what="the sentinel")

    assert m.get(page) == "the source's text\n"
    assert m.get("docs:sentinel-claimed") == "after B's entry\n"
    html = m.admin_page(m.login())
    expected = (f"<b>ignored</b>: {page} from {a.url} ignored: it does not come from the source this site "
                "mirrors the namespace from (notFromSource)")
    assert expected in html, re.findall(r"<li><div class=\"li\">.*?</div></li>", html)

    # revoked, B is a stranger again
    a.cli("revoke", "docs", sites.b_id)
    assert "granted:" not in a.cli("publishers", "docs").stdout
    assert sites.publish_as(TOKEN_B, forged).status_code == 403
    # revoking again is an error the admin reads
    again = a.cli("revoke", "docs", sites.b_id, check=False)
    assert again.returncode != 0 and "no_grant" in again.stdout + again.stderr, again
    # the node holds B's item now: give the page back to its source
    assert a.put(page, "the source's text, published again\n", "republished")


def test_a_publisher_header_without_its_signature_is_refused(sites):
    """A delivery correctly signed over its body (X-Hub-Signature) but naming a publisher
    without a valid X-Wikisync-Signature changes nothing, and the admin sees why."""
    a, m = sites.a, sites.m
    page = "docs:unsigned-publisher"
    assert a.put(page, "the source's text\n", "by the source")
    wait_until(lambda: page in m.page_list("docs") or None, 20, interval=0.3, what=f"{page} on the mirror")
    entry = forged_from(sites.gateway.items(sites.node), page, "changed in transit\n")
    secret = m.rules()["docs"]["secret"]
    body = entry.encode()
    headers = {
        "Content-Type": ENTRY_TYPE,
        "Referer": sites.node,
        "X-Hub-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "X-Wikisync-Publisher": a.url,
    }
    for signature in (None, "sha256=" + "0" * 64,
                      # signed over the body alone: does not vouch for the publisher
                      "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()):
        h = dict(headers)
        if signature:
            h["X-Wikisync-Signature"] = signature
        r = requests.post(m.callback_url("docs"), data=body, headers=h, timeout=20)
        assert r.status_code == 403, (signature, r.status_code, r.text)
        assert r.json()["reason"] == "bad_publisher_signature"
    assert m.get(page) == "the source's text\n"
    html = m.admin_page(m.login())
    assert f"naming publisher &#039;{a.url}&#039; without a valid X-Wikisync-Signature" in html, \
        re.findall(r"<li><div class=\"li\">.*?</div></li>", html)
