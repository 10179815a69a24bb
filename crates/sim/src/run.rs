//! Running a grid of (policy, cache size) simulations over one trace, in parallel, and rendering
//! the outcome: an aligned text table, CSV, JSON, and an SVG miss-ratio curve.
//!
//! This is the engine of `larder sim`; the command only parses arguments and prints.
//!
//! * Sizes are given as [`SizeSpec`]s — `1000`, `1%`, `0.5%`, `128MiB` — and resolved against
//!   the trace's [`Footprint`] (unique keys, or unique bytes when sized).
//! * [`run_grid`] replays every (policy, size) pair on `threads` threads with
//!   [`std::thread::scope`], each thread taking the next pair from a shared counter; OPT's
//!   next-use table is computed once and shared. An [`indicatif`] progress bar on stderr counts
//!   replayed requests (hidden when stderr is not a terminal, or when asked).
//! * [`mrc_sizes`] spreads sizes log-uniformly for a miss-ratio curve.
//! * [`Report`] holds the results and renders them: [`Report::table`], [`Report::csv`],
//!   [`Report::json`], [`Report::plot_svg`].
//!
//! ```
//! use larder_sim::replay::SimPolicy;
//! use larder_sim::run::{Footprint, RunOptions, SizeSpec, run_grid};
//! use larder_sim::Request;
//!
//! let requests: Vec<Request> = (0..10_000u64)
//!     .map(|i| Request { key: (i * 7919) % 500, size: 1 })
//!     .collect();
//! let footprint = Footprint::of(&requests);
//! let sizes = ["50".parse::<SizeSpec>()?, "20%".parse()?];
//! let columns = sizes
//!     .iter()
//!     .map(|s| s.column(&footprint, false))
//!     .collect::<Result<Vec<_>, _>>()?;
//! assert_eq!(columns[1].capacity, 100); // 20 % of 500 unique keys
//! let policies = ["lru".parse::<SimPolicy>()?, SimPolicy::Opt];
//! let report = run_grid("demo", &requests, &policies, &columns, &RunOptions::quiet(false));
//! assert_eq!(report.runs.len(), 4);
//! assert!(report.table(false).contains("opt"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::opt::{self, NextUse};
use crate::replay::{self, ReplayResult, SimPolicy};
use crate::trace::Request;
use foldhash::fast::FixedState;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Default number of points of a miss-ratio curve.
pub const DEFAULT_MRC_POINTS: usize = 20;

/// Default smallest size of a miss-ratio curve, in percent of the footprint.
pub const DEFAULT_MRC_MIN_PERCENT: f64 = 0.1;

/// Default largest size of a miss-ratio curve, in percent of the footprint.
pub const DEFAULT_MRC_MAX_PERCENT: f64 = 100.0;

/// What went wrong while sizing, running or rendering a grid.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A size that does not parse, or does not make sense.
    #[error("bad size `{text}`: {reason}")]
    BadSize {
        /// The size as given.
        text: String,
        /// Why it was refused.
        reason: String,
    },
    /// A size with a byte unit (`128MiB`) for a cache counted in entries.
    #[error("size `{0}` has a byte unit, which needs a byte-sized cache (--sized)")]
    BytesNeedSized(String),
    /// A size relative to the trace for a trace with nothing to be relative to.
    #[error("size `{0}` is relative to the trace, which has no requests")]
    EmptyTrace(String),
    /// Writing the plot failed.
    #[error("cannot draw the plot {path}: {reason}")]
    Plot {
        /// The file being written.
        path: String,
        /// The backend's error.
        reason: String,
    },
}

/// A cache size as a user writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SizeSpec {
    /// A plain number: entries, or bytes for a byte-sized cache (`1000`, `1_000`).
    Absolute(u64),
    /// A number of bytes with a unit (`128MiB`, `1GiB`, `1.5GB`, `512B`); byte-sized caches only.
    /// Units: `B`, `KB` `MB` `GB` `TB` (powers of 1000), `KiB` `MiB` `GiB` `TiB` (powers of
    /// 1024), case-insensitive.
    Bytes(u64),
    /// A percentage of the trace's unique keys, or of its unique bytes for a byte-sized cache
    /// (`1%`, `0.5%`).
    Percent(f64),
}

/// Byte units accepted by [`SizeSpec`], longest first for matching.
const BYTE_UNITS: [(&str, u64); 9] = [
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("b", 1),
];

impl FromStr for SizeSpec {
    type Err = RunError;

    fn from_str(s: &str) -> Result<Self, RunError> {
        let bad = |reason: &str| RunError::BadSize {
            text: s.to_owned(),
            reason: reason.to_owned(),
        };
        let text = s.trim().replace('_', "");
        if let Some(number) = text.strip_suffix('%') {
            let percent: f64 = number
                .trim()
                .parse()
                .map_err(|_| bad("expected a percentage such as `1%` or `0.5%`"))?;
            if !(percent.is_finite() && percent > 0.0) {
                return Err(bad("a percentage must be positive"));
            }
            return Ok(SizeSpec::Percent(percent));
        }
        let lower = text.to_ascii_lowercase();
        let split = lower
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(lower.len());
        let (number, unit) = (&lower[..split], lower[split..].trim());
        if number.is_empty() {
            return Err(bad(
                "expected a number of entries (`1000`), bytes (`128MiB`) or a percentage (`1%`)",
            ));
        }
        if unit.is_empty() {
            let value: u64 = number
                .parse()
                .map_err(|_| bad("expected a whole number (or a unit, or `%`)"))?;
            if value == 0 {
                return Err(bad("a cache size must be positive"));
            }
            return Ok(SizeSpec::Absolute(value));
        }
        let Some(&(_, scale)) = BYTE_UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(bad(
                "unknown unit (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB, or %)",
            ));
        };
        let value: f64 = number.parse().map_err(|_| bad("expected a number"))?;
        let bytes = (value * scale as f64).round();
        if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
            return Err(bad("a cache size must be at least one byte"));
        }
        Ok(SizeSpec::Bytes(bytes as u64))
    }
}

impl fmt::Display for SizeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SizeSpec::Absolute(n) => write!(f, "{n}"),
            SizeSpec::Bytes(n) => f.write_str(&format_bytes(n)),
            SizeSpec::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// `n` bytes with the largest binary (then decimal) unit that divides it: `128MiB`, `64KB`,
/// `1000B`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 8] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("TB", 1_000_000_000_000),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("KB", 1_000),
    ];
    for (name, scale) in UNITS {
        if n >= scale && n % scale == 0 {
            return format!("{}{name}", n / scale);
        }
    }
    format!("{n}B")
}

/// `n` bytes for people, to 3 significant digits with a binary unit: `1.89GiB`, `128MiB`,
/// `700B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    let Some(&(name, scale)) = UNITS.iter().find(|&&(_, scale)| n >= scale) else {
        return format!("{n}B");
    };
    if n % scale == 0 {
        return format!("{}{name}", n / scale);
    }
    let value = n as f64 / scale as f64;
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.decimals$}{name}")
}

impl SizeSpec {
    /// The capacity this size stands for: entries, or bytes when `sized`. A percentage is of
    /// [`Footprint::unique_keys`] (or [`Footprint::unique_bytes`] when `sized`), rounded to the
    /// nearest whole number and at least 1.
    ///
    /// # Errors
    ///
    /// [`RunError::BytesNeedSized`] for a byte unit when not `sized`, [`RunError::EmptyTrace`]
    /// for a percentage of an empty trace.
    pub fn resolve(&self, footprint: &Footprint, sized: bool) -> Result<u64, RunError> {
        match *self {
            SizeSpec::Absolute(n) => Ok(n),
            SizeSpec::Bytes(n) if sized => Ok(n),
            SizeSpec::Bytes(_) => Err(RunError::BytesNeedSized(self.to_string())),
            SizeSpec::Percent(p) => {
                let basis = footprint.basis(sized);
                if basis == 0 {
                    return Err(RunError::EmptyTrace(self.to_string()));
                }
                Ok(((basis as f64 * p / 100.0).round() as u64).max(1))
            }
        }
    }

    /// [`resolve`](Self::resolve), labelled with the size as written.
    ///
    /// # Errors
    ///
    /// As [`resolve`](Self::resolve).
    pub fn column(&self, footprint: &Footprint, sized: bool) -> Result<Column, RunError> {
        Ok(Column {
            label: self.to_string(),
            capacity: self.resolve(footprint, sized)?,
        })
    }
}

/// How big a trace is: what relative sizes are relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// Requests.
    pub requests: u64,
    /// Distinct keys.
    pub unique_keys: u64,
    /// Sum over distinct keys of the size of the key's first request.
    pub unique_bytes: u64,
}

impl Footprint {
    /// Measures `requests` (one pass with a hash set).
    pub fn of(requests: &[Request]) -> Self {
        let mut seen: HashMap<u64, (), FixedState> =
            HashMap::with_hasher(FixedState::with_seed(0xf007));
        let mut unique_bytes = 0u64;
        for request in requests {
            if seen.insert(request.key, ()).is_none() {
                unique_bytes += u64::from(request.size);
            }
        }
        Self {
            requests: requests.len() as u64,
            unique_keys: seen.len() as u64,
            unique_bytes,
        }
    }

    /// Unique keys, or unique bytes when `sized`.
    pub fn basis(&self, sized: bool) -> u64 {
        if sized {
            self.unique_bytes
        } else {
            self.unique_keys
        }
    }
}

/// `points` cache sizes spread log-uniformly from `min` to `max` (both included), rounded to
/// whole numbers, without duplicates, ascending. Fewer come back when the range holds fewer
/// distinct whole numbers.
pub fn mrc_sizes(min: u64, max: u64, points: usize) -> Vec<u64> {
    let (min, max) = (min.max(1).min(max.max(1)), max.max(min).max(1));
    if points <= 1 || min == max {
        return vec![max];
    }
    let (lo, hi) = ((min as f64).ln(), (max as f64).ln());
    let mut sizes: Vec<u64> = (0..points)
        .map(|i| {
            let t = i as f64 / (points - 1) as f64;
            ((lo + (hi - lo) * t).exp().round() as u64).clamp(min, max)
        })
        .collect();
    sizes.dedup();
    sizes
}

/// One column of a grid: a size as labelled for people, and the capacity it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// The size as given (`10%`, `128MiB`, `1000`).
    pub label: String,
    /// The capacity: entries, or bytes when sized.
    pub capacity: u64,
}

impl Column {
    /// A column labelled with its capacity (in bytes for people, [`human_bytes`], when
    /// `sized`).
    pub fn of_capacity(capacity: u64, sized: bool) -> Self {
        let label = if sized {
            human_bytes(capacity)
        } else {
            capacity.to_string()
        };
        Self { label, capacity }
    }
}

/// How to run a grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Whether the budget counts bytes (each request weighs its size) rather than entries.
    pub sized: bool,
    /// Worker threads (at least 1; never more than there are runs).
    pub threads: usize,
    /// Whether to show a progress bar on stderr (it is hidden anyway when stderr is not a
    /// terminal).
    pub progress: bool,
    /// Whether the grid is a miss-ratio curve (changes how [`Report::table`] lays it out).
    pub mrc: bool,
}

impl RunOptions {
    /// Every available core ([`std::thread::available_parallelism`]), no progress bar, not an
    /// MRC.
    pub fn quiet(sized: bool) -> Self {
        Self {
            sized,
            threads: default_threads(),
            progress: false,
            mrc: false,
        }
    }
}

/// The number of threads to use by default: [`std::thread::available_parallelism`], or 1.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One (policy, size) replay, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// The policy.
    pub policy: SimPolicy,
    /// The size's label ([`Column::label`]).
    pub size: String,
    /// The capacity: entries, or bytes when sized.
    pub capacity: u64,
    /// Requests replayed.
    pub requests: u64,
    /// Requests that hit.
    pub hits: u64,
    /// Requests that missed.
    pub misses: u64,
    /// Hit ratio, percent.
    pub hit_percent: f64,
    /// Miss ratio, percent.
    pub miss_percent: f64,
    /// Byte hit ratio, percent (bytes served from the cache over bytes requested).
    pub byte_hit_percent: f64,
    /// Wall-clock time of the replay, seconds (OPT: without the next-use pass, shared by all
    /// OPT runs and reported as [`Report::opt_prepare_seconds`]).
    pub seconds: f64,
    /// Replay speed, requests per second on one thread.
    pub requests_per_sec: f64,
}

impl Run {
    fn new(result: &ReplayResult, column: &Column, seconds: f64) -> Self {
        Self {
            policy: result.policy,
            size: column.label.clone(),
            capacity: result.capacity,
            requests: result.requests,
            hits: result.hits,
            misses: result.misses(),
            hit_percent: result.hit_percent(),
            miss_percent: result.miss_percent(),
            byte_hit_percent: result.byte_hit_percent(),
            seconds,
            requests_per_sec: if seconds > 0.0 {
                result.requests as f64 / seconds
            } else {
                0.0
            },
        }
    }
}

/// The outcome of a grid: what was run, on what, and every run's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The trace's name.
    pub trace: String,
    /// The trace's size.
    pub footprint: Footprint,
    /// Whether the budget counted bytes.
    pub sized: bool,
    /// Whether the sizes form a miss-ratio curve.
    pub mrc: bool,
    /// Worker threads used.
    pub threads: usize,
    /// The policies, in the order asked.
    pub policies: Vec<SimPolicy>,
    /// The sizes, in the order asked.
    pub sizes: Vec<Column>,
    /// Seconds spent computing OPT's next-use table (0 without OPT).
    pub opt_prepare_seconds: f64,
    /// Every run, policy-major: `runs[p * sizes.len() + s]` is policy `p` at size `s`.
    pub runs: Vec<Run>,
}

/// Replays every (policy, size) pair of `policies` × `sizes` over `requests` and collects a
/// [`Report`] named `trace`.
pub fn run_grid(
    trace: &str,
    requests: &[Request],
    policies: &[SimPolicy],
    sizes: &[Column],
    options: &RunOptions,
) -> Report {
    let footprint = Footprint::of(requests);
    let jobs: Vec<(usize, usize)> = (0..policies.len())
        .flat_map(|p| (0..sizes.len()).map(move |s| (p, s)))
        .collect();
    // OPT first (the slowest), larger caches first within a policy: the longest runs start
    // early, so the threads finish together.
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&j| {
        let (p, s) = jobs[j];
        (!policies[p].is_opt(), std::cmp::Reverse(sizes[s].capacity))
    });
    let bar = progress_bar(
        options.progress,
        requests.len() as u64 * jobs.len() as u64,
        jobs.len(),
    );
    let prepare = Instant::now();
    let future = policies
        .iter()
        .any(|p| p.is_opt())
        .then(|| NextUse::new(requests));
    let opt_prepare_seconds = if future.is_some() {
        prepare.elapsed().as_secs_f64()
    } else {
        0.0
    };
    let threads = options.threads.clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Run>>> = Mutex::new(vec![None; jobs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&job) = order.get(index) else { break };
                    let (p, s) = jobs[job];
                    let (policy, column) = (policies[p], &sizes[s]);
                    let mut tick = |n: u64| bar.inc(n);
                    let start = Instant::now();
                    let result = match (policy, &future) {
                        (SimPolicy::Engine(kind), _) => replay::replay_observed(
                            requests,
                            kind,
                            column.capacity,
                            options.sized,
                            &mut tick,
                        ),
                        (SimPolicy::Opt, Some(future)) => opt::belady_observed(
                            requests,
                            future,
                            column.capacity,
                            options.sized,
                            &mut tick,
                        ),
                        (SimPolicy::Opt, None) => {
                            opt::belady(requests, column.capacity, options.sized)
                        }
                    };
                    let run = Run::new(&result, column, start.elapsed().as_secs_f64());
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    bar.set_message(format!("{finished}/{} runs", jobs.len()));
                    // A poisoned lock means another worker panicked; the scope re-raises it.
                    if let Ok(mut slots) = slots.lock() {
                        slots[job] = Some(run);
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    let runs = slots
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .into_iter()
        .flatten()
        .collect();
    Report {
        trace: trace.to_owned(),
        footprint,
        sized: options.sized,
        mrc: options.mrc,
        threads,
        policies: policies.to_vec(),
        sizes: sizes.to_vec(),
        opt_prepare_seconds,
        runs,
    }
}

/// A progress bar over `total` requests on stderr, or a hidden one.
fn progress_bar(show: bool, total: u64, runs: usize) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}, eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(format!("0/{runs} runs"));
    bar
}

impl Report {
    /// The run of policy number `p` at size number `s`.
    pub fn run(&self, p: usize, s: usize) -> Option<&Run> {
        self.runs.get(p * self.sizes.len() + s)
    }

    /// What the capacities count.
    fn unit(&self) -> &'static str {
        if self.sized { "bytes" } else { "entries" }
    }

    /// The first line of the table: the trace and what the numbers mean.
    fn heading(&self, what: &str) -> String {
        let f = &self.footprint;
        let basis = if self.sized {
            format!("{} unique bytes", group(f.unique_bytes))
        } else {
            format!("{} unique keys", group(f.unique_keys))
        };
        format!(
            "{}: {} requests, {basis}; {what}, cache size in {}",
            self.trace,
            group(f.requests),
            self.unit()
        )
    }

    /// An aligned text table.
    ///
    /// * Normally rows are policies, columns are sizes, and cells are hit ratios in percent
    ///   with 2 decimals; a `capacity` row gives the resolved capacities when some size was
    ///   relative or had a unit. With `timing`, every size column is followed by a `Mreq/s`
    ///   column: that run's speed in millions of requests per second.
    /// * For a miss-ratio curve ([`RunOptions::mrc`]), rows are sizes and columns policies, and
    ///   cells are miss ratios in percent (with `timing`, a last row gives each policy's mean
    ///   speed).
    pub fn table(&self, timing: bool) -> String {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let heading;
        if self.mrc {
            heading = self.heading("miss ratio %");
            let mut header = vec![self.unit().to_owned()];
            header.extend(self.policies.iter().map(|p| p.to_string()));
            rows.push(header);
            for (s, column) in self.sizes.iter().enumerate() {
                let mut row = vec![column.label.clone()];
                for p in 0..self.policies.len() {
                    row.push(
                        self.run(p, s)
                            .map_or(String::new(), |r| format!("{:.2}", r.miss_percent)),
                    );
                }
                rows.push(row);
            }
            if timing {
                let mut row = vec!["Mreq/s".to_owned()];
                for p in 0..self.policies.len() {
                    let (requests, seconds) = (0..self.sizes.len())
                        .filter_map(|s| self.run(p, s))
                        .fold((0u64, 0f64), |(n, t), r| (n + r.requests, t + r.seconds));
                    row.push(mega(requests as f64, seconds));
                }
                rows.push(row);
            }
        } else {
            heading = self.heading("hit ratio %");
            let mut header = vec!["policy".to_owned()];
            let mut capacities = vec!["capacity".to_owned()];
            for column in &self.sizes {
                header.push(column.label.clone());
                capacities.push(column.capacity.to_string());
                if timing {
                    header.push("Mreq/s".to_owned());
                    capacities.push(String::new());
                }
            }
            rows.push(header);
            let relative = self.sizes.iter().any(|c| c.label != c.capacity.to_string());
            if relative {
                rows.push(capacities);
            }
            for (p, policy) in self.policies.iter().enumerate() {
                let mut row = vec![policy.to_string()];
                for s in 0..self.sizes.len() {
                    let run = self.run(p, s);
                    row.push(run.map_or(String::new(), |r| format!("{:.2}", r.hit_percent)));
                    if timing {
                        row.push(run.map_or(String::new(), |r| mega(r.requests as f64, r.seconds)));
                    }
                }
                rows.push(row);
            }
        }
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                rows.iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = heading;
        out.push('\n');
        for row in &rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c == 0 {
                    let _ = write!(line, "{cell:<width$}", width = widths[0]);
                } else {
                    let _ = write!(line, "  {cell:>width$}", width = widths[c]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// CSV, one line per run after a header: `trace,policy,size,capacity,sized,requests,hits,
    /// misses,hit_percent,miss_percent,byte_hit_percent,seconds,requests_per_sec`. Ratios have
    /// 4 decimals.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "trace,policy,size,capacity,sized,requests,hits,misses,hit_percent,miss_percent,\
             byte_hit_percent,seconds,requests_per_sec\n",
        );
        for run in &self.runs {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{:.4},{:.4},{:.4},{:.6},{:.0}",
                csv_field(&self.trace),
                run.policy,
                csv_field(&run.size),
                run.capacity,
                self.sized,
                run.requests,
                run.hits,
                run.misses,
                run.hit_percent,
                run.miss_percent,
                run.byte_hit_percent,
                run.seconds,
                run.requests_per_sec
            );
        }
        out
    }

    /// The whole report as pretty-printed JSON (the fields of [`Report`], policies as their
    /// names).
    pub fn json(&self) -> String {
        // Serialising plain structs of strings and numbers cannot fail; NaN cannot occur (every
        // ratio guards its division), and would become `null`.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Draws the miss-ratio curve as an SVG at `path`: x = cache size (logarithmic when the
    /// sizes span a factor of 10 or more), y = miss ratio in percent, one line per policy, with
    /// a legend.
    ///
    /// # Errors
    ///
    /// [`RunError::Plot`] if the file cannot be written.
    pub fn plot_svg(&self, path: &Path) -> Result<(), RunError> {
        use plotters::prelude::*;

        let fail = |reason: String| RunError::Plot {
            path: path.display().to_string(),
            reason,
        };
        let min = self
            .sizes
            .iter()
            .map(|c| c.capacity)
            .min()
            .unwrap_or(1)
            .max(1);
        let max = self
            .sizes
            .iter()
            .map(|c| c.capacity)
            .max()
            .unwrap_or(1)
            .max(min + 1);
        let top = self
            .runs
            .iter()
            .map(|r| r.miss_percent)
            .fold(0.0f64, f64::max);
        let top = if top <= 0.0 {
            100.0
        } else {
            (top * 1.05).min(100.0)
        };
        let palette = [
            RGBColor(31, 119, 180),
            RGBColor(255, 127, 14),
            RGBColor(44, 160, 44),
            RGBColor(214, 39, 40),
            RGBColor(148, 103, 189),
            RGBColor(140, 86, 75),
            RGBColor(227, 119, 194),
            RGBColor(127, 127, 127),
            RGBColor(188, 189, 34),
        ];
        let title = format!("{}: miss ratio by cache size", self.trace);
        let x_label = format!("cache size ({})", self.unit());
        let sized = self.sized;
        let x_format = move |x: &f64| {
            let v = x.round().max(0.0) as u64;
            if sized { decimal_bytes(v) } else { group(v) }
        };
        let root = SVGBackend::new(path, (1000, 640)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64);
        let series = |p: usize| -> Vec<(f64, f64)> {
            (0..self.sizes.len())
                .filter_map(|s| self.run(p, s))
                .map(|r| (r.capacity as f64, r.miss_percent))
                .collect()
        };
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart.map_err(|e| fail(e.to_string()))?;
                chart
                    .configure_mesh()
                    .x_desc(x_label.as_str())
                    .y_desc("miss ratio (%)")
                    .label_style(("sans-serif", 14))
                    .axis_desc_style(("sans-serif", 16))
                    .x_label_formatter(&x_format)
                    .y_label_formatter(&|y: &f64| format!("{y:.0}"))
                    .draw()
                    .map_err(|e| fail(e.to_string()))?;
                for (p, policy) in self.policies.iter().enumerate() {
                    let color = palette[p % palette.len()];
                    let style = if policy.is_opt() {
                        ShapeStyle::from(&BLACK).stroke_width(2)
                    } else {
                        ShapeStyle::from(&color).stroke_width(2)
                    };
                    chart
                        .draw_series(LineSeries::new(series(p), style))
                        .map_err(|e| fail(e.to_string()))?
                        .label(policy.name())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 14))
                    .draw()
                    .map_err(|e| fail(e.to_string()))?;
            }};
        }
        if max >= 10 * min {
            draw!(builder.build_cartesian_2d((min as f64..max as f64).log_scale(), 0.0..top));
        } else {
            draw!(builder.build_cartesian_2d(min as f64..max as f64, 0.0..top));
        }
        root.present().map_err(|e| fail(e.to_string()))?;
        Ok(())
    }
}

/// `n` bytes with a decimal unit, to 3 significant digits (axis ticks fall on powers of 10).
fn decimal_bytes(n: u64) -> String {
    const UNITS: [(&str, f64); 4] = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)];
    let n = n as f64;
    let Some(&(name, scale)) = UNITS.iter().find(|&&(_, scale)| n >= scale) else {
        return format!("{n}B");
    };
    let value = n / scale;
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{name}")
}

/// `requests / seconds` in millions, 1 decimal.
fn mega(requests: f64, seconds: f64) -> String {
    if seconds > 0.0 {
        format!("{:.1}", requests / seconds / 1e6)
    } else {
        "-".to_owned()
    }
}

/// `n` with thousands separators: `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use larder_engine::PolicyKind;

    fn spec(s: &str) -> SizeSpec {
        s.parse().unwrap()
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(spec("1000"), SizeSpec::Absolute(1000));
        assert_eq!(spec(" 1_000 "), SizeSpec::Absolute(1000));
        assert_eq!(spec("1%"), SizeSpec::Percent(1.0));
        assert_eq!(spec("0.5%"), SizeSpec::Percent(0.5));
        assert_eq!(spec("128MiB"), SizeSpec::Bytes(128 << 20));
        assert_eq!(spec("1GiB"), SizeSpec::Bytes(1 << 30));
        assert_eq!(spec("1.5 gb"), SizeSpec::Bytes(1_500_000_000));
        assert_eq!(spec("512B"), SizeSpec::Bytes(512));
        assert_eq!(spec("64kib"), SizeSpec::Bytes(65_536));
        for bad in [
            "",
            "0",
            "-1",
            "1.5",
            "x",
            "10 parsecs",
            "0%",
            "-1%",
            "nan%",
            "%",
            "0.1B",
        ] {
            let err = bad.parse::<SizeSpec>().unwrap_err();
            assert!(matches!(err, RunError::BadSize { .. }), "{bad}: {err}");
        }
        assert_eq!(spec("128MiB").to_string(), "128MiB");
        assert_eq!(spec("1.5GB").to_string(), "1500MB");
        assert_eq!(spec("0.5%").to_string(), "0.5%");
        assert_eq!(spec("1000").to_string(), "1000");
        assert_eq!(format_bytes(1000), "1KB");
        assert_eq!(format_bytes(1001), "1001B");
        assert_eq!(human_bytes(2_029_769_728), "1.89GiB");
        assert_eq!(human_bytes(128 << 20), "128MiB");
        assert_eq!(human_bytes(150 << 20 | 1), "150MiB");
        assert_eq!(human_bytes(700), "700B");
        assert_eq!(decimal_bytes(10_000_000), "10MB");
        assert_eq!(decimal_bytes(1_234_567), "1.23MB");
        assert_eq!(decimal_bytes(999), "999B");
    }

    #[test]
    fn sizes_resolve_against_the_footprint() {
        let footprint = Footprint {
            requests: 100,
            unique_keys: 1000,
            unique_bytes: 1 << 20,
        };
        assert_eq!(spec("10%").resolve(&footprint, false).unwrap(), 100);
        assert_eq!(spec("0.01%").resolve(&footprint, false).unwrap(), 1);
        assert_eq!(spec("50%").resolve(&footprint, true).unwrap(), 1 << 19);
        assert_eq!(spec("1KiB").resolve(&footprint, true).unwrap(), 1024);
        assert_eq!(spec("77").resolve(&footprint, true).unwrap(), 77);
        assert!(matches!(
            spec("1KiB").resolve(&footprint, false),
            Err(RunError::BytesNeedSized(_))
        ));
        let empty = Footprint::of(&[]);
        assert!(matches!(
            spec("1%").resolve(&empty, false),
            Err(RunError::EmptyTrace(_))
        ));
        let column = spec("10%").column(&footprint, false).unwrap();
        assert_eq!((column.label.as_str(), column.capacity), ("10%", 100));
        assert_eq!(Column::of_capacity(1 << 20, true).label, "1MiB");
    }

    #[test]
    fn footprint_counts_first_sizes() {
        let requests = [(1, 10), (2, 5), (1, 99)].map(|(key, size)| Request { key, size });
        let f = Footprint::of(&requests);
        assert_eq!((f.requests, f.unique_keys, f.unique_bytes), (3, 2, 15));
        assert_eq!((f.basis(false), f.basis(true)), (2, 15));
    }

    #[test]
    fn mrc_sizes_are_log_spaced() {
        assert_eq!(mrc_sizes(1, 1000, 4), [1, 10, 100, 1000]);
        assert_eq!(mrc_sizes(5, 5, 10), [5]);
        assert_eq!(mrc_sizes(1, 3, 10), [1, 2, 3]);
        assert_eq!(mrc_sizes(10, 100, 1), [100]);
        let sizes = mrc_sizes(187, 186_880, 20);
        assert_eq!(sizes.len(), 20);
        assert_eq!((sizes[0], sizes[19]), (187, 186_880));
        assert!(sizes.windows(2).all(|w| w[0] < w[1]));
    }

    fn small_report(mrc: bool) -> Report {
        let requests: Vec<Request> = (0..5_000u64)
            .map(|i| Request {
                key: (i * i) % 300,
                size: 1 + (i % 7) as u32,
            })
            .collect();
        let policies = [SimPolicy::Engine(PolicyKind::Lru), SimPolicy::Opt];
        let sizes = [
            Column::of_capacity(10, false),
            Column::of_capacity(100, false),
        ];
        let options = RunOptions {
            sized: false,
            threads: 3,
            progress: true,
            mrc,
        };
        run_grid("small,trace", &requests, &policies, &sizes, &options)
    }

    #[test]
    fn grids_run_in_parallel_in_order() {
        let report = small_report(false);
        assert_eq!(report.threads, 3);
        assert_eq!(report.runs.len(), 4);
        let order: Vec<_> = report
            .runs
            .iter()
            .map(|r| (r.policy.name(), r.capacity))
            .collect();
        assert_eq!(
            order,
            [("lru", 10), ("lru", 100), ("opt", 10), ("opt", 100)]
        );
        for run in &report.runs {
            let again = replay::simulate(
                &(0..5_000u64)
                    .map(|i| Request {
                        key: (i * i) % 300,
                        size: 1 + (i % 7) as u32,
                    })
                    .collect::<Vec<_>>(),
                run.policy,
                run.capacity,
                false,
            );
            assert_eq!(run.hits, again.hits);
            assert_eq!(run.requests, 5_000);
        }
        assert!(report.opt_prepare_seconds >= 0.0);
    }

    #[test]
    fn renderings() {
        let report = small_report(false);
        let table = report.table(true);
        let lines: Vec<_> = table.lines().collect();
        assert!(
            lines[0].starts_with("small,trace: 5,000 requests"),
            "{table}"
        );
        assert!(
            lines[1].starts_with("policy") && lines[1].contains("Mreq/s"),
            "{table}"
        );
        assert!(
            lines[2].starts_with("lru") && lines[3].starts_with("opt"),
            "{table}"
        );
        let csv = report.csv();
        assert_eq!(csv.lines().count(), 5);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .starts_with("\"small,trace\",lru,10,10,false,5000,")
        );
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(json["runs"][3]["policy"], "opt");
        assert_eq!(
            json["footprint"]["unique_keys"],
            report.footprint.unique_keys
        );

        let mrc = small_report(true).table(true);
        let lines: Vec<_> = mrc.lines().collect();
        assert!(lines[0].contains("miss ratio %"), "{mrc}");
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["entries", "lru", "opt"]
        );
        assert!(lines[4].starts_with("Mreq/s"), "{mrc}");
    }

    #[test]
    fn plots_are_svg() {
        let report = small_report(true);
        let path = std::env::temp_dir().join(format!("larder-run-plot-{}.svg", std::process::id()));
        report.plot_svg(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>'))
            .filter_map(|(_, rest)| rest.split_once("</text>"))
            .map(|(text, _)| text.trim())
            .collect();
        assert!(
            texts.contains(&"opt") && texts.contains(&"lru"),
            "{texts:?}"
        );
        assert!(texts.contains(&"miss ratio (%)"), "{texts:?}");
        let bad = report.plot_svg(Path::new("/nonexistent-dir/x.svg"));
        assert!(matches!(bad, Err(RunError::Plot { .. })));
    }
}
