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
fn serve_answers_ping_and_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut server = Command::new(env!("CARGO_BIN_EXE_larder"))
        .args(["serve", "--port", "0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the larder binary runs");
    let mut stderr = BufReader::new(server.stderr.take().expect("piped"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("a ready line");
    let addr = line
        .trim_end()
        .rsplit(' ')
        .next()
        .expect("the address ends the line")
        .to_owned();
    assert!(
        line.contains("ready to accept connections on 127.0.0.1:"),
        "{line}"
    );
    let mut client = std::net::TcpStream::connect(&addr).expect("connects");
    client.write_all(b"PING\r\n").expect("writes");
    let mut reply = [0u8; 7];
    client.read_exact(&mut reply).expect("reads");
    assert_eq!(&reply, b"+PONG\r\n");
    let terminated = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let status = server.wait().expect("the server exits");
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
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
