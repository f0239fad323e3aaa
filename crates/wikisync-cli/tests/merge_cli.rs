//! `wikisync merge` against `git merge-file -p` on the same files: same stdout, same exit code;
//! and the error paths.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn wikisync() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wikisync"));
    cmd.arg("merge");
    cmd
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wikisync-merge-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

fn write(dir: &Path, base: &str, ours: &str, theirs: &str) {
    std::fs::write(dir.join("ours.txt"), ours).expect("write");
    std::fs::write(dir.join("base.txt"), base).expect("write");
    std::fs::write(dir.join("theirs.txt"), theirs).expect("write");
}

fn run(mut cmd: Command, dir: &Path, args: &[&str]) -> Output {
    cmd.current_dir(dir)
        .args(args)
        .args(["ours.txt", "base.txt", "theirs.txt"])
        .output()
        .expect("command runs")
}

/// Runs both tools with `args` and checks stdout and exit code agree; returns the exit code.
fn same_as_git(dir: &Path, wikisync_args: &[&str], git_args: &[&str]) -> i32 {
    let ours = run(wikisync(), dir, wikisync_args);
    let mut git = Command::new("git");
    git.args(["merge-file", "-p"]);
    let theirs = run(git, dir, git_args);
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    assert_eq!(ours.status.code(), theirs.status.code());
    assert!(
        ours.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    ours.status.code().expect("exit code")
}

#[test]
fn clean_merge_matches_git() {
    let dir = scratch("clean");
    write(&dir, "a\nb\nc\nd\ne\n", "A\nb\nc\nd\ne\n", "a\nb\nc\nd\nE");
    assert_eq!(same_as_git(&dir, &[], &[]), 0);
}

#[test]
fn conflicts_match_git_with_file_name_labels() {
    let dir = scratch("conflict");
    write(&dir, "a\nb\nc\n", "a\nB\nc\n", "a\nX\nc");
    assert_eq!(same_as_git(&dir, &["--no-words"], &[]), 1);
}

#[test]
fn labels_diff3_and_marker_size_match_git() {
    let dir = scratch("labels");
    write(
        &dir,
        "1\n2\n3\n4\n5\n6\n7\n8\n",
        "1\nX\n3\n4\n5\n6\nY\n8\n",
        "1\nx\n3\n4\n5\n6\ny\n8\n",
    );
    let labels = ["-L", "mine", "-L", "old", "-L", "yours"];
    assert_eq!(same_as_git(&dir, &labels, &labels), 2);
    let mut with_diff3 = labels.to_vec();
    with_diff3.push("--diff3");
    assert_eq!(same_as_git(&dir, &with_diff3, &with_diff3), 2);
    let sized = ["--marker-size", "10"];
    assert_eq!(same_as_git(&dir, &sized, &sized), 2);
}

#[test]
fn word_pass_merges_what_git_cannot() {
    let dir = scratch("words");
    write(
        &dir,
        "The cat sat on the mat. The dog ran away.\n",
        "The black cat sat on the mat. The dog ran away.\n",
        "The cat sat on the mat. The dog ran home.\n",
    );
    let out = run(wikisync(), &dir, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "The black cat sat on the mat. The dog ran home.\n"
    );
    // Line-level only, it is git's conflict.
    assert_eq!(same_as_git(&dir, &["--no-words"], &[]), 1);
}

#[test]
fn conflict_count_is_capped_at_127() {
    let dir = scratch("many");
    let base: String = (0..200)
        .map(|i| format!("line {i}\nkeep\nkeep\nkeep\nkeep\n"))
        .collect();
    let ours = base.replace("line", "ours");
    let theirs = base.replace("line", "theirs");
    write(&dir, &base, &ours, &theirs);
    assert_eq!(same_as_git(&dir, &[], &[]), 127);
}

#[test]
fn missing_file_is_one_sentence_and_255() {
    let dir = scratch("missing");
    write(&dir, "a\n", "a\n", "a\n");
    std::fs::remove_file(dir.join("base.txt")).expect("remove");
    let out = run(wikisync(), &dir, &[]);
    assert_eq!(out.status.code(), Some(255));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "wikisync: cannot read 'base.txt': No such file or directory\n"
    );
}

#[test]
fn non_utf8_input_is_refused_with_255() {
    let dir = scratch("binary");
    write(&dir, "a\n", "a\n", "a\n");
    std::fs::write(dir.join("theirs.txt"), b"ok\n\xff\xfe\n").expect("write");
    let out = run(wikisync(), &dir, &[]);
    assert_eq!(out.status.code(), Some(255));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        "wikisync: cannot merge 'theirs.txt': it is not UTF-8 text (invalid byte at offset 3)\n"
    );
}

#[test]
fn too_many_labels_is_an_error() {
    let dir = scratch("labels4");
    write(&dir, "a\n", "a\n", "a\n");
    let out = run(
        wikisync(),
        &dir,
        &["-L", "a", "-L", "b", "-L", "c", "-L", "d"],
    );
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("wikisync: "));
}

#[test]
fn bad_command_lines_exit_255_not_a_conflict_count() {
    let dir = scratch("usage");
    write(&dir, "a\n", "a\n", "a\n");
    // Two files instead of three, and an unknown option: both are trouble (255), never a
    // small number a script could read as a conflict count.
    for args in [
        &["ours.txt", "base.txt"][..],
        &["--bogus", "ours.txt", "base.txt", "theirs.txt"],
    ] {
        let out = wikisync()
            .current_dir(&dir)
            .args(args)
            .output()
            .expect("command runs");
        assert_eq!(out.status.code(), Some(255), "args {args:?}");
        assert!(!out.stderr.is_empty(), "an error message for {args:?}");
        assert!(out.stdout.is_empty());
    }
}
