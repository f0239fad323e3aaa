//! Entry codec benchmarks: page → entry (encode), entry → page (decode), and the baseline
//! the decode target is measured against: a raw quick-xml event scan of the same bytes
//! (TARGETS.md: decode ≤ 2× the scan). The SHA-256 of the text, which decode must check, is
//! measured separately so its share can be read.
//!
//! Run briefly: `cargo bench -p wikisync-core --bench entry -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::Reader;
use quick_xml::events::Event;
use wikisync_core::entry::{
    DOKUWIKI_MEDIA_TYPE, DecodeOptions, Entry, EntryKind, RevisionRef, SiteId, decode, encode,
    page_atom_id,
};
use wikisync_core::hash::sha256_hex;
use wikisync_core::id::PageId;
use wikisync_core::time::Timestamp;

/// Realistic DokuWiki markup of about `size` bytes: headings, lists, tables, links, code,
/// with some `&`, `<` and CRLF line ends.
fn markup(size: usize) -> String {
    let block = "====== Installation & Setup ======\r\n\
        Some **bold** and //italic// text with a [[wiki:syntax|link]] and a footnote((see <here>)).\r\n\
        \r\n\
        ^ Option ^ Default ^ Meaning ^\r\n\
        | ''sepchar'' | ''_'' | separator for page names & ids |\r\n\
        | ''locktime'' | 900 | seconds a lock is kept |\r\n\
        \r\n\
          * first item with <del>removed</del> text\r\n\
          * second item: a < b && c > d\r\n\
        \r\n\
        <code php>\r\nif ($a < $b && $c) { echo \"&amp;\"; }\r\n</code>\r\n\
        A long paragraph line as DokuWiki stores them, without hard wraps, so that one line holds a whole paragraph of prose that people edit together. \n";
    let mut text = String::with_capacity(size + block.len());
    while text.len() < size {
        text.push_str(block);
    }
    text
}

fn entry(text: String) -> Entry {
    let page = PageId::clean("wiki:installation").expect("a clean id");
    let site = SiteId::new("https://wiki-a.example.org/");
    Entry {
        atom_id: page_atom_id(&page),
        page,
        title: "Installation".to_owned(),
        updated: Timestamp(1_795_255_200),
        author: Some("alice".to_owned()),
        summary: Some("updated the table".to_owned()),
        link: Some("https://wiki-a.example.org/doku.php?id=wiki:installation".to_owned()),
        revision: RevisionRef {
            revision: 1_795_255_200,
            site: site.clone(),
        },
        base: None,
        clock: vec![RevisionRef {
            revision: 1_795_255_200,
            site,
        }],
        minor: false,
        source: None,
        kind: EntryKind::Page {
            text,
            media_type: DOKUWIKI_MEDIA_TYPE.to_owned(),
        },
    }
}

/// The baseline: every event of the document read with a plain quick-xml reader, text
/// borrowed, nothing decoded.
fn raw_scan(xml: &[u8]) -> usize {
    let mut reader = Reader::from_reader(xml);
    let mut count = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return count,
            Ok(Event::Text(t)) => count += t.len(),
            Ok(_) => count += 1,
            Err(e) => panic!("the benchmark entry is well-formed: {e}"),
        }
    }
}

fn codec(c: &mut Criterion) {
    let sizes = [
        ("2KB", 2 * 1024),
        ("100KB", 100 * 1024),
        ("5MB", 5 * 1024 * 1024),
    ];
    let options = DecodeOptions::default();
    for (label, size) in sizes {
        let e = entry(markup(size));
        let text = e.text().expect("a page entry").to_owned();
        let xml = encode(&e);
        let mut group = c.benchmark_group(format!("entry/{label}"));
        group.throughput(Throughput::Bytes(xml.len() as u64));
        if size > 1024 * 1024 {
            group.sample_size(10);
        }
        group.bench_function(BenchmarkId::new("encode", label), |b| {
            b.iter(|| encode(black_box(&e)))
        });
        group.bench_function(BenchmarkId::new("decode", label), |b| {
            b.iter(|| decode(black_box(xml.as_bytes()), &options).expect("decodes"))
        });
        group.bench_function(BenchmarkId::new("raw_scan", label), |b| {
            b.iter(|| raw_scan(black_box(xml.as_bytes())))
        });
        group.bench_function(BenchmarkId::new("sha256", label), |b| {
            b.iter(|| sha256_hex(black_box(&text)))
        });
        group.finish();
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
