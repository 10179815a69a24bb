//! `larder sim`: replay a trace through eviction policies at several cache sizes and print hit
//! ratios beside Belady's optimum, or a miss-ratio curve.
//!
//! The work is done by [`larder_sim::run`]; this module turns arguments into a grid, decides
//! what is a usage error (exit 2) and what is a runtime error (exit 1), and prints.

use crate::UsageError;
use crate::sim_claims::{self, ClaimCommand};
use clap::builder::TypedValueParser as _;
use clap::{Args, ValueEnum};
use larder_sim::replay::SimPolicy;
use larder_sim::run::{
    self, Column, DEFAULT_MRC_MAX_PERCENT, DEFAULT_MRC_MIN_PERCENT, DEFAULT_MRC_POINTS, Footprint,
    RunError, RunOptions, SizeSpec,
};
use larder_sim::{TraceError, TraceFormat, open, open_as};
use std::fmt;
use std::io::{IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::str::FromStr;

/// Shown after `larder sim --help`.
const EXAMPLES: &str = "\
Every miss inserts the key (demand fill); the cache counts entries, or bytes with --sized. OPT is
Belady's optimum under demand fill: the ceiling for every other policy. Runs of (policy, size) are
spread over threads; a progress bar shows on stderr when it is a terminal.

Examples:
  larder sim --trace OLTP.lis.zst --policy lru,arc,s3fifo,opt --size 1000,2000,5000
  larder sim --trace OLTP.lis.zst --size 1%,10% --format csv
  larder sim --trace cloudPhysicsIO.oracleGeneral.bin --sized --size 128MiB,1GiB --timing
  larder sim --trace OLTP.lis.zst --policy lru,s3fifo,opt --mrc --plot oltp.svg

Exit status: 0 on success, 1 if the trace cannot be read or the plot written, 2 for a usage
error.";

/// The arguments of `larder sim` (a hit-ratio grid or a miss-ratio curve).
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = EXAMPLES
)]
pub struct SimArgs {
    /// The trace file to replay. Its format is guessed from the name (*.lis, *.csv,
    /// *oracleGeneral*, lirs, corda, scarab, web07, adaptsize, ...) unless --trace-format is
    /// given; zstd, gzip and xz are decompressed transparently.
    #[arg(long, value_name = "FILE", required = true)]
    pub trace: Option<PathBuf>,

    /// The trace's format, when its name does not tell: arc-lis, lirs, caffeine-i64,
    /// cache2k-i32, oracle-general, adaptsize, csv.
    #[arg(long, value_name = "NAME")]
    pub trace_format: Option<TraceFormat>,

    /// Policies to replay, comma-separated: lru, fifo, lfu, random, arc, sieve, wtinylfu,
    /// wtinylfu-ghost, s3fifo, s3fifo-adaptive (the engine's default), opt (Belady's optimum;
    /// also `belady`), or `all` for every one.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "all"
    )]
    pub policy: Vec<PolicyChoice>,

    /// Cache sizes, comma-separated: entries (`1000`), a percentage of the trace's unique keys
    /// (`1%`, `0.5%`), or with --sized bytes (`4096`, `128MiB`, `1GiB`, `1.5GB`) or a
    /// percentage of the unique bytes. With --mrc, two sizes give the curve's range (default
    /// 0.1% to 100%).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        required_unless_present = "mrc"
    )]
    pub size: Vec<SizeSpec>,

    /// Count the cache in bytes: each object weighs its size from the trace, and an object
    /// larger than the cache is never admitted. Without it every object weighs 1.
    #[arg(long)]
    pub sized: bool,

    /// Compute a miss-ratio curve: --mrc-points sizes spread log-uniformly over a range (the
    /// two --size values, or 0.1% to 100% of the unique keys or bytes). The table then has one
    /// row per size and one column per policy, and shows miss ratios.
    #[arg(long)]
    pub mrc: bool,

    /// Number of sizes on the miss-ratio curve (at least 2).
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_MRC_POINTS,
        requires = "mrc",
        value_parser = clap::value_parser!(u16).range(2..).map(usize::from)
    )]
    pub mrc_points: usize,

    /// Also draw the results as an SVG plot at this path: x = cache size, y = miss ratio, one
    /// line per policy.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Output format on stdout: an aligned table, CSV (one line per run), or JSON (the whole
    /// report).
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Add each run's speed to the table (millions of requests per second on one thread). CSV
    /// and JSON always carry it.
    #[arg(long)]
    pub timing: bool,

    /// Worker threads; each (policy, size) run is one task [default: the available cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,

    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,

    /// A claim to reproduce by simulation instead of replaying a trace.
    #[command(subcommand)]
    pub claim: Option<ClaimCommand>,
}

/// What `--format` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned text table.
    Table,
    /// Comma-separated values with a header line, one line per (policy, size).
    Csv,
    /// One JSON object: the trace, the sizes and every run.
    Json,
}

/// One item of `--policy`: a policy, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyChoice {
    /// Every policy, OPT included.
    All,
    /// One policy.
    One(SimPolicy),
}

impl FromStr for PolicyChoice {
    type Err = larder_sim::replay::UnknownSimPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().eq_ignore_ascii_case("all") {
            Ok(PolicyChoice::All)
        } else {
            s.parse().map(PolicyChoice::One)
        }
    }
}

impl fmt::Display for PolicyChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyChoice::All => f.write_str("all"),
            PolicyChoice::One(policy) => policy.fmt(f),
        }
    }
}

/// Runs `larder sim` with its arguments: a claim subcommand, or a trace replay.
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let usage = |message: String| anyhow::Error::new(UsageError(message));
    if let Some(claim) = args.claim {
        return sim_claims::run(claim).map_err(|e| {
            if e.downcast_ref::<larder_sim::claims::InvalidArgs>()
                .is_some()
            {
                usage(format!("larder sim: {e:#}"))
            } else {
                e
            }
        });
    }
    let Some(path) = args.trace.as_deref() else {
        return Err(usage("larder sim: --trace FILE is required".to_owned()));
    };
    let policies = expand_policies(&args.policy);
    if args.mrc && !(args.size.is_empty() || args.size.len() == 2) {
        return Err(usage(format!(
            "larder sim: with --mrc, --size takes two sizes (the curve's range), not {}",
            args.size.len()
        )));
    }
    // Catch a byte unit without --sized before reading a large trace.
    if let Some(size) = args
        .size
        .iter()
        .find(|s| !args.sized && matches!(s, SizeSpec::Bytes(_)))
    {
        return Err(usage(format!(
            "larder sim: {}",
            RunError::BytesNeedSized(size.to_string())
        )));
    }

    let trace = match args.trace_format {
        Some(format) => open_as(path, format),
        None => open(path),
    }
    .map_err(|e| match e {
        // The name did not tell the format: the user has to say it.
        TraceError::UnknownFormat { .. } => {
            usage(format!("larder sim: {e}; give it with --trace-format NAME"))
        }
        // The message already names the file and the cause; `{:#}` would repeat the cause.
        e => anyhow::Error::msg(e.to_string()),
    })?;
    let footprint = Footprint::of(&trace.requests);
    let resolve = |spec: &SizeSpec| {
        spec.column(&footprint, args.sized)
            .map_err(|e| usage(format!("larder sim: {e}")))
    };
    let sizes: Vec<Column> = if args.mrc {
        let (min, max) = match args.size.as_slice() {
            [min, max] => (resolve(min)?.capacity, resolve(max)?.capacity),
            _ => (
                resolve(&SizeSpec::Percent(DEFAULT_MRC_MIN_PERCENT))?.capacity,
                resolve(&SizeSpec::Percent(DEFAULT_MRC_MAX_PERCENT))?.capacity,
            ),
        };
        run::mrc_sizes(min.min(max), min.max(max), args.mrc_points)
            .into_iter()
            .map(|capacity| Column::of_capacity(capacity, args.sized))
            .collect()
    } else {
        args.size.iter().map(resolve).collect::<Result<_, _>>()?
    };

    let options = RunOptions {
        sized: args.sized,
        threads: args
            .threads
            .map_or_else(run::default_threads, NonZeroUsize::get),
        progress: !args.quiet && std::io::stderr().is_terminal(),
        mrc: args.mrc,
    };
    let report = run::run_grid(&trace.name, &trace.requests, &policies, &sizes, &options);

    let text = match args.format {
        OutputFormat::Table => report.table(args.timing),
        OutputFormat::Csv => report.csv(),
        OutputFormat::Json => report.json() + "\n",
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    if let Some(plot) = &args.plot {
        report.plot_svg(plot)?;
    }
    Ok(())
}

/// The policies of `--policy`, `all` expanded, duplicates dropped, in the order given.
fn expand_policies(choices: &[PolicyChoice]) -> Vec<SimPolicy> {
    let mut policies = Vec::new();
    for choice in choices {
        let more: &[SimPolicy] = match choice {
            PolicyChoice::All => &SimPolicy::ALL,
            PolicyChoice::One(policy) => std::slice::from_ref(policy),
        };
        for &policy in more {
            if !policies.contains(&policy) {
                policies.push(policy);
            }
        }
    }
    policies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_expand_in_order_without_duplicates() {
        let choices: Vec<PolicyChoice> = ["opt", "lru", "all", "belady"]
            .iter()
            .map(|s| s.parse().expect("parses"))
            .collect();
        let policies = expand_policies(&choices);
        assert_eq!(policies.len(), SimPolicy::ALL.len());
        assert_eq!(policies[0], SimPolicy::Opt);
        assert_eq!(policies[1].name(), "lru");
        assert_eq!(PolicyChoice::All.to_string(), "all");
        assert_eq!(
            "ARC".parse::<PolicyChoice>().map(|c| c.to_string()),
            Ok("arc".to_owned())
        );
        assert!("mru".parse::<PolicyChoice>().is_err());
    }
}
