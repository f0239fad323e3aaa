//! The `wikisync-gateway` binary itself: its startup log and its `--help`.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Starts the binary with `args` (on a free loopback port, in a temporary data directory) and
/// returns its log up to and including the "started" line, then kills it.
fn startup_log(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wikisync-gateway"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(args)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if line.contains("wikisync-gateway started") {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("no startup line within 20 s; log so far:\n{log}");
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    log
}

const NO_VERIFY_LINE: &str = "verification of intent is OFF";
const OPEN_LINE: &str = "no publisher tokens or site credentials configured";

#[test]
fn no_verify_and_open_publishing_are_announced_at_startup() {
    let log = startup_log(&["--no-verify"]);
    let warning = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no '{needle}' line in:\n{log}"))
            .to_owned()
    };
    assert!(warning(NO_VERIFY_LINE).contains("WARN"), "{log}");
    assert!(warning(OPEN_LINE).contains("WARN"), "{log}");
}

#[test]
fn a_verifying_gateway_with_tokens_starts_without_those_warnings() {
    let log = startup_log(&["--token", "alpha"]);
    assert!(!log.contains(NO_VERIFY_LINE), "{log}");
    assert!(!log.contains(OPEN_LINE), "{log}");
    assert!(
        log.contains("127.0.0.1:"),
        "the listen address is logged: {log}"
    );
}

#[test]
fn help_lists_the_flags_with_examples() {
    let out = Command::new(env!("CARGO_BIN_EXE_wikisync-gateway"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--data-dir",
        "--config",
        "--no-verify",
        "--token",
        "--callback-ca",
        "--max-body-bytes",
        "--max-items-per-node",
        "--max-subscriptions-per-node",
        "--callback-timeout-ms",
        "--public-url",
        "Examples:",
        "WIKISYNC_GATEWAY_LISTEN",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

#[test]
fn a_bad_configuration_exits_with_status_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_wikisync-gateway"))
        .args(["--max-subscriptions-per-node", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 1"));
}

#[test]
fn docs_name_every_flag() {
    use clap::CommandFactory;
    let docs = include_str!("../../../docs/gateway.md");
    for arg in wikisync_gateway::config::Args::command().get_arguments() {
        if let Some(long) = arg.get_long()
            && long != "help"
            && long != "version"
        {
            let flag = format!("--{long}");
            let named = docs.match_indices(&flag).any(|(at, _)| {
                docs[at + flag.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-'))
            });
            assert!(named, "docs/gateway.md does not document {flag}");
        }
    }
}
