//! Snapshot tests: the encoding of one fixed entry of each kind is compared with the files in
//! `tests/snapshots/` (which are also the examples of `docs/protocol.md`). Run with
//! `WIKISYNC_UPDATE_SNAPSHOTS=1` to rewrite them after an intended format change, and review
//! the diff.

use wikisync_core::entry::{
    DOKUWIKI_MEDIA_TYPE, DecodeOptions, Entry, EntryKind, RevisionRef, SiteId, decode, encode,
    page_atom_id,
};
use wikisync_core::id::PageId;
use wikisync_core::time::Timestamp;

const SITE_A: &str = "https://wiki-a.example.org/";
const SITE_B: &str = "https://wiki-b.example.org/";

fn rev(revision: u64, site: &str) -> RevisionRef {
    RevisionRef {
        revision,
        site: SiteId::new(site),
    }
}

fn base_entry(kind: EntryKind) -> Entry {
    let page = PageId::clean("wiki:syntax").expect("a clean id");
    Entry {
        atom_id: page_atom_id(&page),
        page,
        title: "Formatting Syntax".to_owned(),
        updated: Timestamp(1_795_255_200),
        author: Some("alice".to_owned()),
        summary: Some("typo fixed in \"Links\" & <tables>".to_owned()),
        link: Some("https://wiki-a.example.org/doku.php?id=wiki:syntax&rev=1795255200".to_owned()),
        revision: rev(1_795_255_200, SITE_A),
        base: Some(rev(1_795_250_000, SITE_A)),
        clock: vec![rev(1_795_255_200, SITE_A), rev(1_795_240_000, SITE_B)],
        minor: false,
        source: Some(SiteId::new(SITE_A)),
        kind,
    }
}

/// The fixed entries, by snapshot file name.
fn fixtures() -> Vec<(&'static str, Entry)> {
    let page = base_entry(EntryKind::Page {
        text: "====== Syntax ======\n\n**bold** & <del>gone</del> ]]> \tend  \n  no final newline"
            .to_owned(),
        media_type: DOKUWIKI_MEDIA_TYPE.to_owned(),
    });
    let mut minimal = base_entry(EntryKind::Page {
        text: String::new(),
        media_type: "text/markdown".to_owned(),
    });
    minimal.author = None;
    minimal.summary = None;
    minimal.link = None;
    minimal.base = None;
    minimal.clock = vec![rev(1_795_255_200, SITE_A)];
    minimal.source = None;
    minimal.minor = true;
    let mut base64 = base_entry(EntryKind::Page {
        text: "CR LF line ends\r\nand a form feed \u{c} travel as base64".to_owned(),
        media_type: DOKUWIKI_MEDIA_TYPE.to_owned(),
    });
    base64.summary = None;
    let mut draft = base_entry(EntryKind::Draft {
        lock_expires: Timestamp(1_795_256_100),
        conflict_with: Some(rev(1_795_255_300, SITE_B)),
    });
    draft.summary = None;
    let mut unlock = base_entry(EntryKind::Unlock);
    unlock.summary = None;
    let deleted = base_entry(EntryKind::Deleted {
        when: Timestamp(1_795_255_200),
        by: Some("bob".to_owned()),
        comment: Some("moved to wiki:formatting".to_owned()),
    });
    vec![
        ("page.xml", page),
        ("page-minimal.xml", minimal),
        ("page-base64.xml", base64),
        ("draft.xml", draft),
        ("unlock.xml", unlock),
        ("deleted.xml", deleted),
    ]
}

#[test]
fn snapshots() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");
    let update = std::env::var_os("WIKISYNC_UPDATE_SNAPSHOTS").is_some();
    for (name, entry) in fixtures() {
        let xml = encode(&entry);
        let path = format!("{dir}/{name}");
        if update {
            std::fs::write(&path, &xml).expect("the snapshot directory is writable");
        }
        let want = std::fs::read_to_string(&path).expect("the snapshot is checked in");
        assert_eq!(xml, want, "{name} differs from its snapshot");
        assert_eq!(
            decode(want.as_bytes(), &DecodeOptions::default()),
            Ok(entry),
            "{name} does not decode back to its entry"
        );
    }
}
