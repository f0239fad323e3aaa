//! Differential test against `git merge-file -p`: seeded random base/ours/theirs triples
//! (line edits over a small alphabet, so that conflicts and near-conflicts are frequent, with
//! and without final newlines, LF and mixed LF/CR LF) are merged by both; where git merges cleanly the output must be
//! byte-identical, and where git conflicts the conflict count and rendered text are compared.

use std::path::{Path, PathBuf};
use std::process::Command;

use wikisync_core::merge::{Markers, MergeOptions, merge3};

/// A small deterministic generator (xorshift64*), so that failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ALPHABET: &[&str] = &["a", "b", "c", "d", "e", "}", "", "x y"];

/// A random line, ending in CR LF if `crlf`, else in LF.
fn random_line(rng: &mut Rng, crlf: bool) -> String {
    let eol = if crlf { "\r\n" } else { "\n" };
    format!("{}{eol}", ALPHABET[rng.below(ALPHABET.len())])
}

fn edit(rng: &mut Rng, base: &[String], crlf: bool) -> Vec<String> {
    let mut lines = base.to_vec();
    for _ in 0..rng.below(4) {
        let at = rng.below(lines.len() + 1);
        match rng.below(3) {
            0 => lines.insert(at, random_line(rng, crlf)),
            1 if at < lines.len() => {
                lines.remove(at);
            }
            _ if at < lines.len() => lines[at] = random_line(rng, crlf),
            _ => lines.insert(at, random_line(rng, crlf)),
        }
    }
    lines
}

fn finish(rng: &mut Rng, lines: &[String]) -> String {
    let mut s: String = lines.concat();
    if rng.below(5) == 0 && s.ends_with('\n') {
        s.pop();
        // A CR LF file loses its whole last line break.
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wikisync-merge-git-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

/// Runs `git merge-file -p` and returns (stdout, exit code).
fn git_merge(dir: &Path, base: &str, ours: &str, theirs: &str, diff3: bool) -> (String, i32) {
    std::fs::write(dir.join("ours"), ours).expect("write");
    std::fs::write(dir.join("base"), base).expect("write");
    std::fs::write(dir.join("theirs"), theirs).expect("write");
    let mut cmd = Command::new("git");
    cmd.current_dir(dir).args([
        "merge-file",
        "-p",
        "-L",
        "ours",
        "-L",
        "base",
        "-L",
        "theirs",
    ]);
    if diff3 {
        cmd.arg("--diff3");
    }
    let out = cmd
        .args(["ours", "base", "theirs"])
        .output()
        .expect("git is installed");
    let code = out.status.code().expect("git exits normally");
    assert!((0..=127).contains(&code), "git failed: {out:?}");
    (String::from_utf8(out.stdout).expect("utf-8"), code)
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    git_clean: usize,
    clean_identical: usize,
    git_conflict: usize,
    count_agrees: usize,
    text_agrees: usize,
    first_mismatch: Option<String>,
}

fn run(seed: u64, cases: usize, diff3: bool, crlf: bool) -> Tally {
    let dir = scratch().join(format!("{diff3}-{crlf}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    for _ in 0..cases {
        let base: Vec<String> = (0..rng.below(10))
            .map(|_| random_line(&mut rng, crlf))
            .collect();
        let ours = edit(&mut rng, &base, crlf);
        let theirs = edit(&mut rng, &base, crlf);
        let (base, ours, theirs) = (
            finish(&mut rng, &base),
            finish(&mut rng, &ours),
            finish(&mut rng, &theirs),
        );
        let (git_text, git_code) = git_merge(&dir, &base, &ours, &theirs, diff3);
        let options = MergeOptions::default().with_words(false).with_diff3(diff3);
        let merged = merge3(&base, &ours, &theirs, &options);
        let text = merged.render(&Markers::default().with_diff3(diff3));
        tally.cases += 1;
        if git_code == 0 {
            tally.git_clean += 1;
            // With the word pass on, nothing changes where git is clean.
            let with_words = merge3(&base, &ours, &theirs, &options.clone().with_words(true));
            if text == git_text && merged.is_clean() && with_words == merged {
                tally.clean_identical += 1;
                continue;
            }
        } else {
            tally.git_conflict += 1;
            let count = merged.conflict_count() as i32 == git_code;
            tally.count_agrees += usize::from(count);
            tally.text_agrees += usize::from(text == git_text);
            if count && text == git_text {
                continue;
            }
        }
        if tally.first_mismatch.is_none() {
            tally.first_mismatch = Some(format!(
                "base={base:?}\nours={ours:?}\ntheirs={theirs:?}\ngit ({git_code}):\n{git_text}\nwikisync ({}):\n{text}",
                merged.conflict_count()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    tally
}

fn check(tally: &Tally) {
    eprintln!("{tally:#?}");
    assert!(
        tally.git_clean > tally.cases / 5,
        "generator makes clean cases"
    );
    assert!(
        tally.git_conflict > tally.cases / 5,
        "generator makes conflicts"
    );
    assert_eq!(
        tally.clean_identical,
        tally.git_clean,
        "identical output wherever git is clean; first mismatch:\n{}",
        tally.first_mismatch.as_deref().unwrap_or("")
    );
    assert_eq!(
        tally.count_agrees,
        tally.git_conflict,
        "same conflict count where git conflicts; first mismatch:\n{}",
        tally.first_mismatch.as_deref().unwrap_or("")
    );
    assert_eq!(tally.text_agrees, tally.git_conflict);
}

#[test]
fn agrees_with_git_merge_file() {
    check(&run(0x9E37_79B9_7F4A_7C15, 3000, false, false));
}

#[test]
fn agrees_with_git_merge_file_crlf() {
    check(&run(0x5851_F42D_4C95_7F2D, 1500, false, true));
}

#[test]
fn agrees_with_git_merge_file_diff3() {
    check(&run(0x0123_4567_89AB_CDEF, 1500, true, false));
}
