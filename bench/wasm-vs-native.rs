//! The native half of `bench/wasm-vs-native.sh`: writes the benchmark inputs to a folder (so
//! the WebAssembly half in Node times the very same bytes) and times the core operations
//! called directly from Rust. Prints one JSON object: operation → nanoseconds per call.
//!
//! Run through the script: `bench/wasm-vs-native.sh`. Alone:
//! `cargo run --release -p wikisync-js --example wasm-vs-native -- DIR`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use wikisync_core::entry::{
    DOKUWIKI_MEDIA_TYPE, DecodeOptions, Entry, EntryKind, RevisionRef, SiteId, decode, encode,
    page_atom_id,
};
use wikisync_core::id::PageId;
use wikisync_core::merge::{Markers, MergeOptions, merge3};
use wikisync_core::sync::{Input, LocalEdit, PageState, Role, SiteConfig, handle};
use wikisync_core::time::Timestamp;

/// xorshift64*, so both halves see the same pseudo-random inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "wiki",
    "page",
    "sync",
    "mirror",
    "source",
    "edit",
    "draft",
    "lock",
    "merge",
    "conflict",
    "namespace",
    "revision",
    "author",
    "summary",
    "entry",
    "atom",
    "node",
    "publish",
    "site",
];

/// One line of about 100 bytes of prose.
fn line(rng: &mut Rng, label: &str, i: usize) -> String {
    let mut s = format!("{label} {i}:");
    while s.len() < 100 {
        s.push(' ');
        s.push_str(WORDS[rng.below(WORDS.len())]);
    }
    s.push('\n');
    s
}

/// DokuWiki-like markup of about `size` bytes, with markup characters XML must escape.
fn markup(size: usize) -> String {
    let mut rng = Rng(0x5EED_0000_0000_0100);
    let mut text = String::with_capacity(size + 200);
    let mut i = 0;
    while text.len() < size {
        text.push_str(match i % 5 {
            0 => "====== Section & <notes> ======\n",
            1 => "  * an item with ''code'' and a [[wiki:link|link]]\n",
            2 => "| a < b && c > d | \"quoted\" |\r\n",
            _ => "",
        });
        text.push_str(&line(&mut rng, "Line", i));
        i += 1;
    }
    text
}

fn entry(text: String, revision: u64, site: &str) -> Entry {
    let page = PageId::clean("wiki:bench").expect("a clean id");
    let site = SiteId::new(site);
    let rev = RevisionRef { revision, site };
    Entry {
        atom_id: page_atom_id(&page),
        page,
        title: "Bench".to_owned(),
        updated: Timestamp(i64::try_from(revision).expect("small")),
        author: Some("alice".to_owned()),
        summary: Some("bench edit".to_owned()),
        link: None,
        revision: rev.clone(),
        base: None,
        clock: vec![rev],
        minor: false,
        source: None,
        kind: EntryKind::Page {
            text,
            media_type: DOKUWIKI_MEDIA_TYPE.to_owned(),
        },
    }
}

/// Base, ours, theirs: 12,000 lines (about 1.3 MB), 200 + 200 scattered edits, a clean merge.
fn big_merge() -> (String, String, String) {
    let mut rng = Rng(0x5EED_1234_ABCD_0002);
    let base: Vec<String> = (0..12_000).map(|i| line(&mut rng, "Line", i)).collect();
    let (mut ours, mut theirs) = (base.clone(), base.clone());
    for _ in 0..200 {
        let i = rng.below(3_000) * 4;
        ours[i] = line(&mut rng, "Ours", i);
        let j = rng.below(3_000) * 4 + 2;
        theirs[j] = line(&mut rng, "Theirs", j);
    }
    (base.concat(), ours.concat(), theirs.concat())
}

/// Median nanoseconds per call: batches of about 100 ms after a warm-up.
fn time<T>(mut f: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < Duration::from_millis(200) || calls < 2 {
        black_box(f());
        calls += 1;
    }
    let per_batch = (f64::from(calls) / start.elapsed().as_secs_f64() * 0.1)
        .ceil()
        .max(1.0) as u32;
    let mut samples: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                black_box(f());
            }
            t.elapsed().as_nanos() as f64 / f64::from(per_batch)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn write(dir: &Path, name: &str, data: &str) {
    std::fs::write(dir.join(name), data).unwrap_or_else(|e| panic!("writing {name}: {e}"));
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: wasm-vs-native DIR");
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("the output folder can be created");

    // Inputs, written for the WebAssembly half.
    let page = entry(markup(100 * 1024), 1_795_255_200, "https://b.example/");
    let xml = encode(&page);
    let (base, ours, theirs) = big_merge();
    let config = SiteConfig::new(SiteId::new("https://a.example/")).rule("", Role::peer());
    // A synced 100 KB page, then local saves that alternate between two 100 KB texts: each is
    // a new revision, so the state moves on from call to call (and its merge-base history fills
    // up) as it does on a site.
    let now = Timestamp(1_795_255_200);
    let first = handle(
        &config,
        PageState::new(page.page.clone()),
        Input::Notification {
            local_text: None,
            entry: Box::new(page.clone()),
            namespace: None,
            publisher: None,
        },
        now,
    );
    let state = first.state;
    let text = page.text().unwrap_or_default();
    let saves = [format!("{text}one more line\n"), text.to_owned()].map(|text| Input::LocalSave {
        edit: LocalEdit::text(text, 1_795_255_300).by("alice"),
    });
    write(dir, "entry.json", &json(&page));
    write(dir, "entry.xml", &xml);
    write(
        dir,
        "merge.json",
        &serde_json::json!({"base": base, "ours": ours, "theirs": theirs}).to_string(),
    );
    write(dir, "config.json", &json(&config));
    write(dir, "state.json", &json(&state));
    write(dir, "inputs.json", &json(&saves));

    // Native timings: the core called directly, and the binding's functions (the very code of
    // the WebAssembly exports, JSON text in and out) compiled natively.
    let options = DecodeOptions::default();
    let merge_options = MergeOptions::default();
    let markers = Markers::default();
    let entry_json = json(&page);
    let (config_json, state_json) = (json(&config), json(&state));
    let save_json = saves.each_ref().map(json);
    let core_handle = {
        let (mut state, mut n) = (state.clone(), 0);
        time(|| {
            n += 1;
            let blank = PageState::new(state.page().clone());
            let input = saves[n % 2].clone();
            let d = handle(&config, std::mem::replace(&mut state, blank), input, now);
            state = d.state;
            d.actions
        })
    };
    let core = serde_json::json!({
        "sha256": time(|| wikisync_core::hash::sha256_hex(text)),
        "decode": time(|| decode(xml.as_bytes(), &options).expect("decodes")),
        "encode": time(|| encode(&page)),
        "merge": time(|| merge3(&base, &ours, &theirs, &merge_options).render(&markers)),
        "handle": core_handle,
    });
    let binding_handle = {
        let mut state = wikisync_js::PageState::from_json(&state_json).expect("a state");
        let (ms, mut n) = (1_795_255_200_000.0, 0);
        time(|| {
            n += 1;
            wikisync_js::handle(&config_json, &mut state, &save_json[n % 2], ms).expect("handles")
        })
    };
    let binding = serde_json::json!({
        "sha256": time(|| wikisync_js::sha256_hex(text)),
        "decode": time(|| wikisync_js::decode_entry_text(&xml, None).expect("decodes")),
        "encode": time(|| wikisync_js::encode_entry(&entry_json).expect("encodes")),
        "merge": time(|| wikisync_js::merge(&base, &ours, &theirs, None).expect("merges")),
        "handle": binding_handle,
    });
    let results = serde_json::json!({
        "core": core,
        "binding": binding,
        "sizes": {"xml": xml.len(), "merge_base": base.len(), "state_json": state_json.len()},
    });
    println!("{results}");
}

/// A value as serde JSON (the wire shape, as in `tests/vectors`).
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("the core's types serialize to JSON")
}
