//! # larder
//!
//! The `larder` binary: one command-line front end for Larder's four faces over one engine
//! (`larder-engine`). It is a thin layer: it parses arguments with clap, hands typed
//! configuration to the crates that do the work, and turns their outcome into an exit status.
//!
//! ## Subcommands
//!
//! | subcommand | what it will do | today |
//! |---|---|---|
//! | `serve` | Redis-compatible cache server | works: RESP2/RESP3 on 127.0.0.1:6379 ([`serve`]) |
//! | `edge` | HTTP caching proxy | works: RFC 9111 shared cache, coalescing, tiers, cache keys ([`edge`]) |
//! | `sim` | replay traces through the engine's eviction policies, beside Belady's OPT | works: hit-ratio tables, CSV, JSON, miss-ratio curves and SVG plots ([`sim`]) |
//! | `bench` | benchmarks against the anchors | not present yet |
//!
//! A subcommand that is not implemented says so and fails; it never pretends to work.
//!
//! ## Exit status
//!
//! Decided in one place, [`exit_code`]:
//!
//! * `0` — success (including `--help` and `--version`);
//! * `1` — a runtime error (printed as `larder: <error>: <cause>...` on stderr);
//! * `2` — a usage error, or a subcommand that is not implemented yet.
//!
//! Errors travel as [`anyhow::Error`] up to `main`; a usage problem is marked by wrapping it
//! in [`UsageError`], which is how [`exit_code`] tells it from a runtime failure.

mod edge;
mod serve;
mod sim;
mod sim_claims;

/// jemalloc: less fragmentation than the system allocator for many small values, and the
/// allocation statistics behind `INFO memory`.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{Parser, Subcommand};
use std::fmt;
use std::process::ExitCode;

/// Larder: a caching system — cache server, HTTP caching proxy, in-process library and
/// trace simulator over one engine.
#[derive(Debug, Parser)]
#[command(name = "larder", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Redis-compatible cache server (127.0.0.1:6379 by default).
    Serve(Box<serve::ServeArgs>),
    /// Run the HTTP caching reverse proxy (CDN edge node or origin shield) in front of an origin.
    Edge(Box<edge::EdgeArgs>),
    /// Replay a cache trace through eviction policies: hit ratios beside Belady's optimum,
    /// miss-ratio curves, SVG plots.
    Sim(Box<sim::SimArgs>),
}

/// A problem with how `larder` was invoked, or a request for something that does not exist
/// yet: exits with status 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let result = Cli::try_parse().map_err(anyhow::Error::from).and_then(run);
    let code = exit_code(&result);
    if let Err(err) = &result {
        report(err);
    }
    ExitCode::from(code)
}

/// Runs a parsed command line.
fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Edge(args) => edge::run(*args),
        Command::Sim(args) => sim::run(*args),
    }
}

/// The exit status for an outcome: the one place where statuses are decided.
fn exit_code(result: &anyhow::Result<()>) -> u8 {
    const OK: u8 = 0;
    const RUNTIME_ERROR: u8 = 1;
    const USAGE: u8 = 2;
    let Err(err) = result else {
        return OK;
    };
    if let Some(clap_err) = err.downcast_ref::<clap::Error>() {
        // `--help` and `--version` arrive as "errors" that are really successes.
        return if clap_err.use_stderr() { USAGE } else { OK };
    }
    if err.downcast_ref::<UsageError>().is_some() {
        return USAGE;
    }
    RUNTIME_ERROR
}

/// Prints an error the way its kind asks for.
fn report(err: &anyhow::Error) {
    if let Some(clap_err) = err.downcast_ref::<clap::Error>() {
        // Help and version go to stdout, usage errors to stderr, formatted by clap.
        // If even that fails (a closed pipe), there is nowhere left to say so.
        let _ = clap_err.print();
    } else if let Some(usage) = err.downcast_ref::<UsageError>() {
        eprintln!("{usage}");
    } else {
        eprintln!("larder: {err:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(&Ok(())), 0);
        assert_eq!(exit_code(&Err(anyhow::anyhow!("disk on fire"))), 1);
        assert_eq!(exit_code(&Err(UsageError("nope".into()).into())), 2);
        let help = Cli::try_parse_from(["larder", "--help"]).map(|_| ());
        assert_eq!(exit_code(&help.map_err(anyhow::Error::from)), 0);
        let bad = Cli::try_parse_from(["larder", "--no-such-flag"]).map(|_| ());
        assert_eq!(exit_code(&bad.map_err(anyhow::Error::from)), 2);
        let none = Cli::try_parse_from(["larder"]).map(|_| ());
        assert_eq!(exit_code(&none.map_err(anyhow::Error::from)), 2);
    }

    #[test]
    fn serve_rejects_a_bad_policy_as_a_usage_error() {
        let cli = Cli::try_parse_from(["larder", "serve", "--maxmemory-policy", "allkeys-magic"])
            .expect("flags parse");
        let result = run(cli);
        assert_eq!(exit_code(&result), 2);
        let message = result.expect_err("refused").to_string();
        assert!(message.contains("maxmemory-policy"), "{message}");
    }
}
