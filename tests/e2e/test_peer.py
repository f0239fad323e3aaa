"""End-to-end: two DokuWiki sites that edit namespace `docs` together (the peer role) through
one real gateway node, driven over HTTP as their users drive them: log in, open the editor,
post the edit form, cancel, choose how to resolve a conflict."""

from __future__ import annotations

import hashlib
import html as htmllib
import re
import tempfile
import time
from pathlib import Path

import pytest
import requests

from harness import Gateway, Wiki, tear_down, wait_until

NS = "docs"


class Peers:
    """A gateway and two peer sites: A (site id siteA, user alice) and B (siteB, bob), with
    DokuWiki's lock time `locktime` (the lock wikisync's drafts hold)."""

    def __init__(self, locktime=60):
        self.root = Path(tempfile.mkdtemp(prefix="wikisync-e2e-peer-"))
        self.gateway = Gateway(self.root)
        self.a = self.b = None
        self.node = None
        self.locktime = locktime
        self.sentinels = 0

    def start(self):
        try:
            self.gateway.start()
            self.a = Wiki(self.root, "peerA", self.gateway)
            self.b = Wiki(self.root, "peerB", self.gateway)
            for wiki, site, user in ((self.a, "siteA", "alice"), (self.b, "siteB", "bob")):
                wiki.plugin_conf("site_id", site)
                wiki.dokuwiki_conf("locktime", self.locktime)
                wiki.add_user(user, f"{user}-pass", user.title())
                wiki.user = user
                wiki.start()
            self.node = self.a.cli("peer", NS).stdout.strip().splitlines()[-1]
            assert self.node.startswith("xmpp:")
            self.b.cli("peer", "--node", self.node, NS)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        tear_down(self.root, self.gateway, (self.a, self.b))


@pytest.fixture(scope="module")
def peers():
    p = Peers().start()
    try:
        yield p
    finally:
        p.stop()


# ------------------------------------------------------------------ helpers

def login(wiki: Wiki) -> requests.Session:
    s = wiki.login(wiki.user, f"{wiki.user}-pass")
    assert "do=logout" in s.get(wiki.url + "doku.php", params={"id": "start"}, timeout=20).text
    return s


def field(page_html: str, name: str) -> str:
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page_html)
    return htmllib.unescape(m.group(1)) if m else ""


def textarea(page_html: str):
    """(the editor's textarea tag, its text), or None when there is no editor."""
    m = re.search(r'(<textarea[^>]*name="wikitext"[^>]*>)(.*?)</textarea>', page_html, re.S)
    return (m.group(1), htmllib.unescape(m.group(2)).lstrip("\r\n").replace("\r\n", "\n")) if m else None


def open_editor(wiki: Wiki, s: requests.Session, page: str) -> str:
    return s.get(wiki.url + "doku.php", params={"id": page, "do": "edit"}, timeout=20).text


def save_editor(wiki: Wiki, s: requests.Session, page: str, editor_html: str, text: str, summary=""):
    data = {"id": page, "do[save]": "1", "wikitext": text, "summary": summary,
            "sectok": field(editor_html, "sectok"), "date": field(editor_html, "date"),
            "prefix": "", "suffix": "", "changecheck": field(editor_html, "changecheck"),
            "target": "section"}
    return s.post(wiki.url + "doku.php", data=data, timeout=20).text


def cancel_editor(wiki: Wiki, s: requests.Session, page: str, editor_html: str):
    data = {"id": page, "do[cancel]": "1", "sectok": field(editor_html, "sectok"),
            "wikitext": "", "prefix": "", "suffix": "", "target": "section"}
    return s.post(wiki.url + "doku.php", data=data, timeout=20).text


def refresh_lock(wiki: Wiki, s: requests.Session, page: str, text: str) -> dict:
    """What DokuWiki's editor does while the user types (at most every 30 s): the `lock`
    AJAX call, which refreshes the lock and saves a draft (DRAFT_SAVE). Returns its JSON."""
    r = s.post(wiki.url + "lib/exe/ajax.php",
               data={"call": "lock", "id": page, "prefix": ".", "wikitext": text, "suffix": "",
                     "date": "0"}, timeout=20)
    return r.json()


def lock_mtime(wiki: Wiki, page: str):
    """The mtime of DokuWiki's lock file of the page (it expires `locktime` after it)."""
    f = wiki.dir / "data/locks" / (hashlib.md5(page.encode()).hexdigest() + ".lock")
    return int(f.stat().st_mtime) if f.exists() else None


def view(wiki: Wiki, page: str, s=None) -> str:
    return (s or requests).get(wiki.url + "doku.php", params={"id": page}, timeout=20).text


def lock_holder(wiki: Wiki, page: str):
    """The content of DokuWiki's lock file of the page, or None."""
    f = wiki.dir / "data/locks" / (hashlib.md5(page.encode()).hexdigest() + ".lock")
    return f.read_text() if f.exists() else None


CONFLICT = "could not be merged with the text here"


def has_conflict(wiki: Wiki, page: str) -> bool:
    """Whether the page tells its readers that a conflict waits for an editor."""
    return CONFLICT in view(wiki, page)


def published_revision(peers, page: str):
    """(site, revision) of the page's item on the peers' node, as the gateway serves it."""
    feed = peers.gateway.items(peers.node)
    for entry in re.findall(r"<entry\b.*?</entry>", feed, re.S):
        if f"<ws:page>{page}</ws:page>" in entry:
            m = re.search(r'<ws:revision site="([^"]*)">(\d+)</ws:revision>', entry)
            return m.group(1), int(m.group(2))
    return None


def on_both(peers, page: str, text: str, timeout=20):
    wait_until(lambda: peers.a.raw(page) == text.encode() and peers.b.raw(page) == text.encode(),
               timeout, what=f"{page} = {text!r} on both sites")


def queues_empty(peers):
    return peers.a.queue_length() == 0 and peers.b.queue_length() == 0


def offline_edits(peers, edits: dict):
    """Saves {page: (text at A, text at B)} on both sites while the gateway is down (the
    edits are concurrent: neither site has seen the other's), then brings the gateway back
    and sends both queues, A's first."""
    peers.gateway.stop()
    try:
        for page, (text_a, text_b) in edits.items():
            assert peers.a.put(page, text_a, "offline at A", user=peers.a.user, password="alice-pass")
            assert peers.b.put(page, text_b, "offline at B", user=peers.b.user, password="bob-pass")
        assert peers.a.queue_length() >= len(edits) and peers.b.queue_length() >= len(edits)
    finally:
        peers.gateway.start()
    peers.a.cli("flush")
    peers.b.cli("flush")


def settle(peers, timeout=20):
    """Waits until everything either site published has reached the other, and what they
    answered too: each site publishes a sentinel page; the gateway delivers a node's items to
    each subscriber in order, so the other site's sentinel arriving proves that everything
    published before it has arrived. Two rounds: the second covers the answers (merges,
    conflict reports) to what the first round's sentinels followed."""
    for _ in range(2):
        wait_until(lambda: queues_empty(peers), timeout, what="both queues to drain")
        peers.sentinels += 1
        marks = {}
        for wiki, other in ((peers.a, peers.b), (peers.b, peers.a)):
            page = f"{NS}:sentinel-{wiki.name.lower()}"
            text = f"sentinel {peers.sentinels}\n"
            assert wiki.put(page, text, "sentinel", user=wiki.user, password=f"{wiki.user}-pass")
            marks[page] = (other, text.encode())
        for page, (other, text) in marks.items():
            wait_until(lambda: other.raw(page) == text, timeout, what=f"{page} at {other.name}")


# ------------------------------------------------------------------ 1. the editor lock

def test_opening_the_editor_locks_the_page_at_the_other_site(peers):
    a, b = peers.a, peers.b
    page = "docs:locked"
    assert a.put(page, "first version\n", "created at A")
    on_both(peers, page, "first version\n")

    alice = login(a)
    editor = open_editor(a, alice, page)
    tag, text = textarea(editor)
    assert "readonly" not in tag and text == "first version\n"
    # B writes DokuWiki's own lock file for the remote editor
    wait_until(lambda: lock_holder(b, page) == "alice @ siteA", 20, what="B's lock file")

    wait_until(lambda: "being edited at siteA by alice" in view(b, page), 10, what="B's notice")
    bob = login(b)
    refused = open_editor(b, bob, page)
    # DokuWiki's own "page locked" screen, naming alice and site A; the editor is read-only
    assert "This page is currently locked for editing by another user" in refused
    assert re.search(r"Currently locked by:</strong>\s*alice @ siteA", refused)
    tag, _ = textarea(refused)
    assert "readonly" in tag
    # the page says who edits it, where
    assert "being edited at siteA by alice" in view(b, page, bob)
    # a save posted anyway (the locked screen's own token) is refused by the core
    save_editor(b, bob, page, refused, "bob's text\n", "should be refused")
    assert b.raw(page) == b"first version\n"

    # alice saves: B gets her text, and the lock and the notice are gone
    save_editor(a, alice, page, editor, "alice's text\n", "alice edits")
    on_both(peers, page, "alice's text\n")
    wait_until(lambda: lock_holder(b, page) is None, 20, what="B's lock to go")
    assert "being edited" not in view(b, page, bob)
    assert [c["user"] for c in b.changes(page)][-1] == "alice"
    tag, _ = textarea(open_editor(b, bob, page))
    assert "readonly" not in tag
    # bob's editor now locks the page at A, and cancelling releases it
    bob_editor = open_editor(b, bob, page)
    wait_until(lambda: lock_holder(a, page) == "bob @ siteB", 20, what="A's lock file")
    cancel_editor(b, bob, page, bob_editor)
    wait_until(lambda: lock_holder(a, page) is None, 20, what="A's lock to go")


def test_cancelling_the_editor_releases_the_lock(peers):
    a, b = peers.a, peers.b
    page = "docs:cancelled"
    assert a.put(page, "text\n", "created at A")
    on_both(peers, page, "text\n")
    alice = login(a)
    editor = open_editor(a, alice, page)
    wait_until(lambda: lock_holder(b, page) == "alice @ siteA", 20, what="B's lock file")
    wait_until(lambda: "being edited at siteA by alice" in view(b, page), 10, what="B's notice")

    cancel_editor(a, alice, page, editor)
    wait_until(lambda: lock_holder(b, page) is None, 20, what="B's lock to go")
    assert "being edited" not in view(b, page)
    bob = login(b)
    tag, text = textarea(open_editor(b, bob, page))
    assert "readonly" not in tag and text == "text\n"
    assert a.raw(page) == b.raw(page) == b"text\n"


LOCK_LOST = "started editing this page at siteB (bob) at the same time as you"


def test_two_editors_starting_at_once_agree_on_one_winner(peers):
    """Both editors open before either draft has arrived (the gateway is down, so both drafts
    wait in the queues); when the drafts cross, both sites agree that the earlier session
    (B's) holds the page, A's editor is told, and A cannot save over B's edit."""
    a, b = peers.a, peers.b
    page = "docs:crossed"
    assert a.put(page, "base text\n", "created at A")
    on_both(peers, page, "base text\n")
    alice, bob = login(a), login(b)
    peers.gateway.stop()
    try:
        bob_editor = open_editor(b, bob, page)
        time.sleep(1.1)  # B's session starts a second earlier: B wins although siteA < siteB
        alice_editor = open_editor(a, alice, page)
        for wiki, s_html in ((a, alice_editor), (b, bob_editor)):
            tag, _ = textarea(s_html)
            assert "readonly" not in tag
            assert wiki.queue_length() >= 1  # the draft, not sent
        # each site's own DokuWiki lock (a logged-in user's holds the user name)
        assert lock_holder(a, page) == "alice" and lock_holder(b, page) == "bob"
    finally:
        peers.gateway.start()
    a.cli("flush")  # A's draft goes out first: the order of arrival does not matter
    b.cli("flush")

    # the same winner on both sites: B keeps its lock, A locks the page for bob
    wait_until(lambda: lock_holder(a, page) == "bob @ siteB", 20, what="A to give the lock to B")
    settle(peers)
    assert lock_holder(a, page) == "bob @ siteB"
    assert lock_holder(b, page) == "bob"  # bob's own DokuWiki lock, not alice's
    # (read anonymously at B: DokuWiki releases a user's own lock when that user views the page)
    assert "being edited at siteB by bob" in view(a, page, alice)
    assert "being edited at" not in view(b, page)

    # A's editor is told at its next lock refresh (shown under the edit box) and on the page
    refreshed = refresh_lock(a, alice, page, "alice is typing\n")
    assert refreshed["lock"] == "0"
    assert any("bob at siteB started editing this page first" in e for e in refreshed["errors"])
    assert LOCK_LOST in view(a, page, alice)
    assert LOCK_LOST not in view(b, page, bob)
    assert refresh_lock(b, bob, page, "bob is typing\n")["errors"] == []

    # A's save is refused before anything is written; alice's text stays in her editor
    refused = save_editor(a, alice, page, alice_editor, "alice's text\n", "alice edits")
    assert LOCK_LOST in refused
    tag, kept = textarea(refused)
    assert "readonly" in tag and kept == "alice's text\n"
    assert a.raw(page) == b.raw(page) == b"base text\n"
    assert a.queue_length() == 0 and not has_conflict(a, page)

    # B saves: both sites have bob's text, A's lock and notice are gone, A may edit again
    save_editor(b, bob, page, bob_editor, "bob's text\n", "bob edits")
    on_both(peers, page, "bob's text\n")
    wait_until(lambda: lock_holder(a, page) is None and "being edited" not in view(a, page),
               20, what="A's lock to go")
    assert LOCK_LOST not in view(a, page, alice)
    assert [c["user"] for c in a.changes(page)][-1] == "bob"
    # alice's old form cannot go over bob's text unseen: DokuWiki's own conflict screen
    stale = save_editor(a, alice, page, alice_editor, "alice's text\n", "alice edits")
    assert "A newer version of the document you edited exists" in stale
    assert a.raw(page) == b.raw(page) == b"bob's text\n"
    editor = open_editor(a, alice, page)
    tag, text = textarea(editor)
    assert "readonly" not in tag and text == "bob's text\n"
    cancel_editor(a, alice, page, editor)
    wait_until(lambda: lock_holder(b, page) is None, 20, what="B's lock to go")


# ------------------------------------------------------------------ 2. clean merges

def test_concurrent_edits_of_different_paragraphs_merge_on_both_sites(peers):
    a, b = peers.a, peers.b
    page = "docs:merged"
    base = "Paragraph one.\n\nParagraph two.\n\nParagraph three.\n"
    assert a.put(page, base, "created at A")
    on_both(peers, page, base)
    time.sleep(1.1)
    offline_edits(peers, {page: (base.replace("one.", "one, edited at A."),
                                 base.replace("three.", "three, edited at B."))})
    merged = "Paragraph one, edited at A.\n\nParagraph two.\n\nParagraph three, edited at B.\n"
    on_both(peers, page, merged, 30)
    settle(peers)
    assert a.raw(page) == b.raw(page) == merged.encode()
    assert not has_conflict(a, page) and not has_conflict(b, page)
    assert "could not be merged" not in view(a, page) + view(b, page)


# ------------------------------------------------------------------ 3. conflicts

BASE = "First line.\nThe shared line.\nLast line.\n"


def version(site):
    return BASE.replace("The shared line.", f"The shared line, as {site} wants it.")


@pytest.fixture(scope="module")
def conflicts(peers):
    """Three pages edited on the same line at A and B while the gateway was down."""
    pages = ["docs:c-theirs", "docs:c-mine", "docs:c-merge"]
    for p in pages:
        assert peers.a.put(p, BASE, "created at A")
    for p in pages:
        on_both(peers, p, BASE)
    time.sleep(1.1)
    offline_edits(peers, {p: (version("A"), version("B")) for p in pages})
    for p in pages:
        wait_until(lambda p=p: has_conflict(peers.a, p) and has_conflict(peers.b, p), 30,
                   what=f"the conflict of {p} on both sites")
    settle(peers)
    # nothing lost: each site keeps its own text (the other one is kept as the conflict: the
    # editor's panel shows it, test_conflict_is_shown_with_a_diff_and_three_choices)
    for p in pages:
        assert peers.a.raw(p) == version("A").encode()
        assert peers.b.raw(p) == version("B").encode()
    return pages


def choose(wiki, s, page, editor_html, choice, with_token=True):
    data = {"id": page, "do": "wikisync_conflict", "choice": choice}
    if with_token:
        data["sectok"] = field(editor_html, "sectok")
    return s.post(wiki.url + "doku.php", data=data, timeout=20).text


def test_conflict_is_shown_with_a_diff_and_three_choices(peers, conflicts):
    a = peers.a
    page = "docs:c-theirs"
    assert "A change of this page from siteB could not be merged" in view(a, page)
    assert "A change of this page from siteA could not be merged" in view(peers.b, page)
    alice = login(a)
    editor = open_editor(a, alice, page)
    assert 'class="diff diff_sidebyside"' in editor
    words = htmllib.unescape(re.sub(r"<[^>]+>", "", editor)).replace("\xa0", " ")  # marked words
    assert "Here (siteA)" in words and "From siteB" in words
    assert "as A wants it" in words and "as B wants it" in words
    for choice in ("mine", "theirs", "merge"):
        assert re.search(r'<button[^>]*name="choice"[^>]*value="%s"' % choice, editor), choice
    cancel_editor(a, alice, page, editor)


def test_a_forged_choice_changes_nothing(peers, conflicts):
    a = peers.a
    page = "docs:c-mine"
    before = a.changes(page)
    alice = login(a)
    editor = open_editor(a, alice, page)
    cancel_editor(a, alice, page, editor)
    # without the security token
    choose(a, alice, page, editor, "theirs", with_token=False)
    # anonymous (DokuWiki checks no token for anonymous users: the edit permission is what
    # stops it; anonymous users may only read here)
    anon = requests.Session()
    anon_html = anon.get(a.url + "doku.php", params={"id": page}, timeout=20).text
    choose(a, anon, page, anon_html, "theirs")
    assert a.raw(page) == version("A").encode()
    assert a.changes(page) == before
    assert has_conflict(a, page)
    assert peers.b.raw(page) == version("B").encode() and has_conflict(peers.b, page)


def test_take_theirs(peers, conflicts):
    a, b = peers.a, peers.b
    page = "docs:c-theirs"
    alice = login(a)
    editor = open_editor(a, alice, page)
    out = choose(a, alice, page, editor, "theirs")
    assert "Conflict resolved" in out
    on_both(peers, page, version("B"))
    wait_until(lambda: not has_conflict(a, page) and not has_conflict(b, page), 20,
               what="the conflict to clear on both sites")
    last = a.changes(page)[-1]
    assert last["user"] == "alice" and "took their version" in last["sum"]
    wait_until(lambda: lock_holder(b, page) is None, 20, what="B's lock to go")
    assert "could not be merged" not in view(a, page) + view(b, page)


def test_keep_mine(peers, conflicts):
    a, b = peers.a, peers.b
    page = "docs:c-mine"
    alice = login(a)
    editor = open_editor(a, alice, page)
    before = a.changes(page)
    out = choose(a, alice, page, editor, "mine")
    assert "Conflict resolved" in out
    on_both(peers, page, version("A"))
    wait_until(lambda: not has_conflict(a, page) and not has_conflict(b, page), 20,
               what="the conflict to clear on both sites")
    # the text did not change at A, yet the resolution is a real revision there (changelog,
    # attic), and that revision is the one B took
    after = a.changes(page)
    assert len(after) == len(before) + 1
    rev = after[-1]
    assert rev["user"] == "alice" and "kept this version" in rev["sum"] and rev["type"] == "E"
    assert (a.dir / "data/attic/docs" / f"c-mine.{rev['date']}.txt.gz").exists()
    # the revision published is that one
    wait_until(lambda: published_revision(peers, page) == ("siteA", int(rev["date"])), 20,
               what="the resolution's revision on the node")
    last_b = b.changes(page)[-1]
    assert last_b["user"] == "alice" and "kept this version" in last_b["sum"]
    assert b.raw(page) == version("A").encode()
    wait_until(lambda: lock_holder(b, page) is None, 20, what="B's lock to go")
    assert "could not be merged" not in view(a, page) + view(b, page)


def test_merge_by_hand(peers, conflicts):
    a, b = peers.a, peers.b
    page = "docs:c-merge"
    alice = login(a)
    editor = open_editor(a, alice, page)
    merging = choose(a, alice, page, editor, "merge")
    tag, text = textarea(merging)
    assert "readonly" not in tag
    # both versions in the editor between git-style conflict markers
    assert re.search(r"^<<<<<<< .+$", text, re.M) and re.search(r"^>>>>>>> .+$", text, re.M)
    assert "as A wants it" in text and "as B wants it" in text and "=======" in text
    assert has_conflict(a, page)  # nothing is decided until the editor saves
    resolved = BASE.replace("The shared line.", "The shared line, as A and B agreed.")
    save_editor(a, alice, page, merging, resolved, "merged by hand")
    on_both(peers, page, resolved)
    wait_until(lambda: not has_conflict(a, page) and not has_conflict(b, page), 20,
               what="the conflict to clear on both sites")
    assert "<<<<<<<" not in a.raw(page).decode()
    wait_until(lambda: lock_holder(b, page) is None, 20, what="B's lock to go")


# ------------------------------------------------------------------ 4. a save over a change made under the editor

def panel(page_html: str) -> str:
    """The words of the conflict panel (diff and choices), without the editor below it."""
    m = re.search(r'<div class="plugin_wikisync_conflict">(.*?)</form>', page_html, re.S)
    assert m, "no conflict panel"
    return htmllib.unescape(re.sub(r"<[^>]+>", "", m.group(1))).replace("\xa0", " ")


def test_a_save_over_a_change_made_while_the_editor_was_open(peers):
    """B's save (made offline, before B saw alice's draft) reaches A while alice's editor is
    open. DokuWiki's own edit-conflict screen catches alice's save first; "save" there hands
    her text to the core, which cannot merge it with B's change and refuses it: the panel
    shows her text against the page's, and "Keep mine" saves hers on both sites."""
    a, b = peers.a, peers.b
    page = "docs:changed-under"
    assert a.put(page, BASE, "created at A")
    on_both(peers, page, BASE)
    time.sleep(1.1)
    alice = login(a)
    peers.gateway.stop()
    try:
        editor = open_editor(a, alice, page)
        assert b.put(page, version("B"), "offline at B", user=b.user, password="bob-pass")
    finally:
        peers.gateway.start()
    b.cli("flush")  # B's revision first: A's text is unchanged, so A takes it under the editor
    on_both(peers, page, version("B"))
    a.cli("flush")  # then alice's draft
    wait_until(lambda: lock_holder(b, page) == "alice @ siteA", 20, what="B's lock file")

    # DokuWiki's own check (the page is newer than the editor's date) comes first
    mine = version("A")
    dw_conflict = save_editor(a, alice, page, editor, mine, "alice edits")
    assert "A newer version of the document you edited exists" in dw_conflict
    assert "plugin_wikisync_conflict" not in dw_conflict
    assert a.raw(page) == version("B").encode() and not has_conflict(a, page)

    # "save" on that screen (it posts no date): the core merges alice's text against the
    # version her editor opened, which conflicts with B's change: refused, nothing written
    refused = alice.post(a.url + "doku.php", data={
        "id": page, "do[save]": "1", "wikitext": field(dw_conflict, "wikitext"),
        "summary": field(dw_conflict, "summary"), "sectok": field(dw_conflict, "sectok")},
        timeout=20).text
    assert has_conflict(a, page)
    assert a.raw(page) == b.raw(page) == version("B").encode()
    tag, kept = textarea(refused)
    assert kept == mine  # nothing typed is lost
    words = panel(refused)
    # the two real sides: her text against the page's (B's), not the page against itself
    assert "Your text" in words and "The page now (siteB@" in words
    assert "as A wants it" in words and "as B wants it" in words
    assert re.search(r'class="diff-(deleted|added)line"', refused)
    # a later view of the editor still shows her side (kept when the save was refused)
    reopened = open_editor(a, alice, page)
    assert "as A wants it" in panel(reopened)

    # Keep mine: her text is saved and published; the conflict ends on both sites
    form = re.search(r'<form[^>]*plugin_wikisync_choices.*?</form>', refused, re.S).group(0)
    out = alice.post(a.url + "doku.php", data={
        "id": page, "do": "wikisync_conflict", "choice": "mine",
        "wikitext": field(form, "wikitext"), "sectok": field(form, "sectok")}, timeout=20).text
    assert "Conflict resolved" in out
    on_both(peers, page, mine)
    wait_until(lambda: not has_conflict(a, page) and not has_conflict(b, page), 20,
               what="the conflict to clear on both sites")
    assert a.changes(page)[-1]["user"] == "alice" and b.changes(page)[-1]["user"] == "alice"
    # the refused text kept for the panel went with the conflict
    again = open_editor(a, alice, page)
    assert "plugin_wikisync_conflict" not in again
    cancel_editor(a, alice, page, again)
    wait_until(lambda: lock_holder(b, page) is None, 20, what="B's lock to go")


# ------------------------------------------------------------------ 5. lock renewal and expiry

# When renewals are due and when a lapsed lock frees a page is the core's, tested with time
# advanced by hand (crates/wikisync-core/tests/simulation.rs, tests/vectors/locks.json). This
# checks the same on real sites with a 10-second lock: DokuWiki's editor refresh renews it at
# the other site, and without renewals it lapses there.

def test_a_renewed_lock_holds_and_a_lapsed_one_frees_the_page():
    peers = Peers(locktime=10).start()
    try:
        a, b = peers.a, peers.b
        page = "docs:renewed"
        assert a.put(page, "text\n", "created at A")
        on_both(peers, page, "text\n")
        alice = login(a)
        open_editor(a, alice, page)
        wait_until(lambda: lock_holder(b, page) == "alice @ siteA", 20, what="B's lock file")
        first = lock_mtime(b, page)  # DokuWiki's lock at B expires 10 s after it
        # past half of the lock, the editor's refresh renews it at B
        time.sleep(max(0.0, first + 5 - time.time()) + 0.5)
        assert refresh_lock(a, alice, page, "typing\n")["lock"] == "1"
        renewed = wait_until(lambda: (lock_mtime(b, page) or 0) > first and lock_mtime(b, page), 20,
                             what="B's lock to be renewed")
        # no renewal any more: once it lapses, bob may edit at B without hearing from A
        # (DokuWiki counts a lock expired a whole second after mtime + locktime)
        time.sleep(max(0.0, renewed + 11 - time.time()) + 0.5)
        bob = login(b)
        editor = open_editor(b, bob, page)
        tag, text = textarea(editor)
        assert "readonly" not in tag and text == "text\n"
        wait_until(lambda: lock_holder(a, page) == "bob @ siteB", 20, what="A's lock file for bob")
        save_editor(b, bob, page, editor, "bob after the lapse\n", "bob edits")
        on_both(peers, page, "bob after the lapse\n")
    finally:
        peers.stop()
