//! Runs the built `larder` binary and checks what a user sees: help, version, exit statuses.

use std::process::{Command, Output};

fn larder(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_larder"))
        .args(args)
        .output()
        .expect("the larder binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_usage_and_subcommands() {
    let out = larder(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Usage: larder"), "{stdout}");
    assert!(stdout.contains("serve"), "{stdout}");
    assert!(stdout.contains("--version"), "{stdout}");
}

#[test]
fn version_is_the_crate_version() {
    let out = larder(&["--version"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout).trim_end(), "larder 0.1.0");
    assert_eq!(
        text(&out.stdout).trim_end(),
        format!("larder {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn serve_says_it_is_not_implemented_and_exits_2() {
    let out = larder(&["serve"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(
        text(&out.stderr).trim_end(),
        "larder serve: not implemented yet \u{2014} the Redis-compatible server arrives with issue #4"
    );
}

#[test]
fn no_subcommand_is_a_usage_error() {
    let out = larder(&[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("Usage: larder"), "{out:?}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = larder(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("--no-such-flag"), "{out:?}");
}
