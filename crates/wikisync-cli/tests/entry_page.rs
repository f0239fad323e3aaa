//! `wikisync entry` and `wikisync page` run as a built binary: byte-exact round trips and
//! every bad-input path (exit code 2 and one sentence on stderr).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wikisync"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    // The command may exit (refusing its arguments) before reading its input.
    if let Err(e) = input.write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(input);
    child.wait_with_output().expect("the binary finishes")
}

fn entry_xml(text: &[u8]) -> Vec<u8> {
    let out = run(
        &[
            "entry",
            "--id",
            "wiki:start",
            "--updated",
            "1795255200",
            "-",
        ],
        text,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Asserts exit code 2 and a one-line `wikisync: ` message containing `needle`.
fn assert_input_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.starts_with("wikisync: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(needle),
        "{stderr:?} should mention {needle:?}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn entry_then_page_is_byte_exact() {
    let texts: [&[u8]; 8] = [
        b"",
        b"no final newline",
        b"a\r\nb\rc\n\r\n",
        b"  leading and trailing whitespace \t ",
        b"]]> & < > &amp; <![CDATA[",
        "Größe 🙂 漢字 \u{2028}".as_bytes(),
        b"bell \x07 and form feed \x0c",
        b"\n\n\n",
    ];
    for text in texts {
        let xml = entry_xml(text);
        let out = run(&["page"], &xml);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, text, "{:?}", String::from_utf8_lossy(text));
    }
}

#[test]
fn entry_reads_a_file_and_page_prints_json() {
    let dir = std::env::temp_dir().join(format!("wikisync-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let page_file = dir.join("start.txt");
    std::fs::write(&page_file, b"hello\r\n").expect("write page");
    let out = run(
        &[
            "entry",
            "--id",
            "Wiki:Start Page",
            "--author",
            "alice",
            "--summary",
            "first",
            "--site",
            "https://a.example/",
            "--rev",
            "42",
            "--base",
            "41",
            "--updated",
            "2026-11-21T10:00:00Z",
            "--minor",
            page_file.to_str().expect("utf-8 temp path"),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    let entry_file = dir.join("start.atom");
    std::fs::write(&entry_file, &out.stdout).expect("write entry");
    let out = run(
        &[
            "page",
            "--json",
            entry_file.to_str().expect("utf-8 temp path"),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(json["page"], "wiki:start_page");
    assert_eq!(json["author"], "alice");
    assert_eq!(json["summary"], "first");
    assert_eq!(json["updated"], 1_795_255_200);
    assert_eq!(json["revision"]["revision"], 42);
    assert_eq!(json["revision"]["site"], "https://a.example/");
    assert_eq!(json["base"]["revision"], 41);
    assert_eq!(json["minor"], true);
    assert_eq!(json["bytes"], 7);
    assert_eq!(json["sha256"], wikisync_core::hash::sha256_hex("hello\r\n"));
    assert_eq!(json["kind"]["type"], "page");
    assert!(
        json["kind"].get("text").is_none(),
        "--json leaves out the text"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn drafts_have_no_text() {
    let out = run(
        &[
            "entry",
            "--id",
            "wiki:start",
            "--draft",
            "--updated",
            "1795255200",
            "--author",
            "bob",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    let page = run(&["page"], &out.stdout);
    assert_eq!(page.status.code(), Some(3));
    assert!(page.stdout.is_empty());
    let json = run(&["page", "--json"], &out.stdout);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON output");
    assert_eq!(json["kind"]["type"], "draft");
    assert_eq!(json["kind"]["lockExpires"], 1_795_255_200 + 900);
}

#[test]
fn bad_page_ids_are_refused() {
    for (id, code) in [
        ("wiki:..:etc", "path_traversal"),
        ("a/b", "path_separator"),
        ("/etc", "absolute_path"),
        ("::", "empty"),
        ("a\u{1}b", "control_character"),
    ] {
        let out = run(&["entry", "--id", id, "-"], b"text");
        assert_input_error(&out, code);
    }
}

#[test]
fn bad_entries_are_refused() {
    let good = String::from_utf8(entry_xml(b"hello")).expect("UTF-8 entry");
    let cases = [
        ("<entry", "malformed_xml"),
        (
            &*format!("<!DOCTYPE entry [<!ENTITY x \"y\">]>{good}"),
            "doctype",
        ),
        (&*good.replace(">hello<", ">hellO<"), "hash_mismatch"),
        (&*good.replace(">hello<", ">&nbsp;<"), "unknown_entity"),
        (
            &*good.replace("<ws:page>wiki:start", "<ws:page>Wiki:Start"),
            "unclean_page_id",
        ),
        (
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"/>",
            "not_an_entry",
        ),
    ];
    for (xml, code) in cases {
        let out = run(&["page"], xml.as_bytes());
        assert_input_error(&out, &format!("invalid entry ({code})"));
    }
    let out = run(&["page", "--max-bytes", "10"], good.as_bytes());
    assert_input_error(&out, "invalid entry (too_large)");
}

#[test]
fn unreadable_and_non_utf8_input_is_refused() {
    let out = run(&["page", "/nonexistent/wikisync/entry.atom"], b"");
    assert_input_error(&out, "cannot read /nonexistent/wikisync/entry.atom");
    let out = run(
        &["entry", "--id", "a", "/nonexistent/wikisync/page.txt"],
        b"",
    );
    assert_input_error(&out, "cannot read /nonexistent/wikisync/page.txt");
    let out = run(&["entry", "--id", "a"], b"caf\xe9 latin-1");
    assert_input_error(&out, "not UTF-8 text (invalid byte at offset 3)");
    let out = run(&["page"], b"<entry>\xff</entry>");
    assert_input_error(&out, "invalid entry (malformed_xml)");
    let out = run(&["entry", "--id", "a", "--updated", "yesterday"], b"");
    assert_input_error(&out, "--updated");
}

#[test]
fn page_stops_reading_stdin_at_max_bytes() {
    const LIMIT: usize = 4096;
    // Far more than the limit and any pipe buffer: a command that read all of it before
    // checking the size would take all 64 MiB (and hold it in memory).
    const STREAM: usize = 64 * 1024 * 1024;
    let mut child = Command::new(env!("CARGO_BIN_EXE_wikisync"))
        .args(["page", "--max-bytes", &LIMIT.to_string(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        let mut written = 0;
        while written < STREAM {
            match input.write(&chunk) {
                Ok(n) => written += n,
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
                    return written;
                }
            }
        }
        written
    });
    let out = child.wait_with_output().expect("the binary finishes");
    let written = writer.join().expect("the writer thread");
    assert_input_error(&out, "invalid entry (too_large)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stdin holds more than the limit of 4096 bytes (--max-bytes)"),
        "{stderr}"
    );
    assert!(
        written < STREAM,
        "the command read the whole {STREAM}-byte stream before refusing it"
    );
}
