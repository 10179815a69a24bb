//! A hot key expiring under load: database queries with no protection, with a lock, and with
//! probabilistic early expiration.
//!
//! The seed ("Cache Stampede Prevention") describes a popular entry at 1,000 requests/s
//! expiring: every request misses and queries the database ("1000 simultaneous database
//! queries"), a lock reduces that to one query ("Only the first request regenerates the
//! cache"), and probabilistic early expiration refreshes "somewhere between seconds 50-60,
//! spreading the load instead of all at second 60".
//!
//! The simulation advances in 1 ms steps (no real time, no threads). Requests arrive evenly at
//! [`StampedeArgs::rate_per_s`]; the value lives [`StampedeArgs::ttl_ms`] and takes
//! [`StampedeArgs::recompute_ms`] (δ) to recompute. A query that starts at `t` stores the new
//! value at `t + δ`, valid until `t + δ + TTL`. Strategies:
//!
//! * [`Strategy::None`]: a request that finds the value expired queries the database;
//! * [`Strategy::Lock`]: single flight — only the first such request queries, the others wait
//!   for it (or are served the old value);
//! * [`Strategy::XFetch`]: XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015) with β: a
//!   request at `now` that finds the value fresh still recomputes it when
//!   `now − δ·β·ln(u) ≥ expiry`, `u` uniform in (0, 1]; with no coordination between requests;
//! * [`Strategy::XFetchLock`]: the same, but a request does not start a second query while one
//!   is in flight (the seed's "Probabilistic early expiration + lock as fallback").
//!
//! Queries are grouped into *refreshes*: a query that starts while none is in flight opens a
//! refresh, and every query started before all of them complete belongs to it. A query's time
//! is taken relative to the expiry of the value that was current when it started.

use super::{InvalidArgs, Table, ensure, percent};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt;

/// The seed's example probabilities of an early refresh per request, at 10, 5 and 1 s before
/// expiry with a 60 s TTL ("Cache Stampede Prevention", example timeline: ~5 %, ~15 %, ~60 %).
pub const SEED_EXAMPLE: [(f64, f64); 3] = [(10.0, 0.05), (5.0, 0.15), (1.0, 0.60)];

/// A protection against stampedes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// No protection.
    None,
    /// A lock (single flight): one query per expiry.
    Lock,
    /// XFetch, each request deciding alone.
    XFetch,
    /// XFetch, skipping the draw while a recompute is in flight; a lock after expiry.
    XFetchLock,
}

impl Strategy {
    /// Every strategy, in report order.
    pub const ALL: [Strategy; 4] = [
        Strategy::None,
        Strategy::Lock,
        Strategy::XFetch,
        Strategy::XFetchLock,
    ];

    /// The strategy's name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::None => "none",
            Strategy::Lock => "lock (single flight)",
            Strategy::XFetch => "XFetch",
            Strategy::XFetchLock => "XFetch + lock",
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct StampedeArgs {
    /// Requests per second for the hot key. Default 1,000 (the seed's).
    pub rate_per_s: f64,
    /// Time to live of the value in ms. Default 60,000 (the seed's 60 s).
    pub ttl_ms: u64,
    /// Time a recompute (database query) takes, δ, in ms. Default 200.
    pub recompute_ms: u64,
    /// XFetch's β. Default 1 (the seed's).
    pub beta: f64,
    /// Simulated time in seconds. Default 600 (about ten expiries).
    pub duration_s: u64,
    /// Seconds before expiry shown in the timeline. Default 5.
    pub before_s: u64,
    /// Seconds from expiry on shown in the timeline. Default 2.
    pub after_s: u64,
    /// Seed of XFetch's draws. Default 1.
    pub seed: u64,
}

impl Default for StampedeArgs {
    fn default() -> Self {
        Self {
            rate_per_s: 1_000.0,
            ttl_ms: 60_000,
            recompute_ms: 200,
            beta: 1.0,
            duration_s: 600,
            before_s: 5,
            after_s: 2,
            seed: 1,
        }
    }
}

/// What one strategy did.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyResult {
    /// The strategy.
    pub strategy: Strategy,
    /// Requests simulated.
    pub requests: u64,
    /// Database queries.
    pub queries: u64,
    /// Refreshes (groups of overlapping queries, about one per expiry).
    pub refreshes: u64,
    /// Most queries in one refresh.
    pub max_queries_per_refresh: u64,
    /// Most queries in flight at once.
    pub peak_in_flight: u64,
    /// Requests that found the value expired (served late: by their own query or by waiting).
    pub late: u64,
    /// Mean ms from the start of a refresh to the expiry of the value it replaces (negative:
    /// after expiry).
    pub mean_lead_ms: f64,
    /// Queries per refresh in each second around expiry: entry `i` counts queries that started
    /// between `i − before_s` and `i − before_s + 1` seconds from the expiry, divided by the
    /// number of refreshes (so it reads as queries/s in that second of a typical expiry).
    pub timeline: Vec<f64>,
    /// Queries outside the timeline's window, per refresh.
    pub outside_window: f64,
}

impl StrategyResult {
    /// Mean queries per refresh (0 with no refresh).
    pub fn queries_per_refresh(&self) -> f64 {
        if self.refreshes == 0 {
            0.0
        } else {
            self.queries as f64 / self.refreshes as f64
        }
    }
}

/// The outcome of [`run`].
#[derive(Debug, Clone, PartialEq)]
pub struct StampedeReport {
    /// The arguments simulated.
    pub args: StampedeArgs,
    /// One result per strategy, in [`Strategy::ALL`] order.
    pub results: Vec<StrategyResult>,
}

impl StampedeReport {
    /// The result of `strategy`.
    pub fn result(&self, strategy: Strategy) -> Option<&StrategyResult> {
        self.results.iter().find(|r| r.strategy == strategy)
    }
}

/// The probability that one request refreshes early `remaining_s` seconds before expiry under
/// XFetch: `P(−δ·β·ln u ≥ remaining) = exp(−remaining / (δ·β))`.
pub fn xfetch_probability(remaining_s: f64, recompute_s: f64, beta: f64) -> f64 {
    if recompute_s * beta <= 0.0 {
        return if remaining_s <= 0.0 { 1.0 } else { 0.0 };
    }
    (-remaining_s / (recompute_s * beta)).exp().min(1.0)
}

/// The probability that one request refreshes early under the seed's own formula: refresh when
/// `(ttl_remaining / original_ttl) · (−β·ln u) ≥ 1`, i.e. `exp(−original_ttl / (β ·
/// ttl_remaining))`.
pub fn seed_formula_probability(remaining_s: f64, ttl_s: f64, beta: f64) -> f64 {
    let delta = remaining_s / ttl_s;
    if delta * beta <= 0.0 {
        return 0.0;
    }
    (-1.0 / (delta * beta)).exp()
}

/// Simulates one strategy.
fn simulate(args: &StampedeArgs, strategy: Strategy) -> StrategyResult {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let delta = args.recompute_ms;
    let early_scale = delta as f64 * args.beta;
    let duration_ms = args.duration_s.saturating_mul(1_000);
    let per_ms = args.rate_per_s / 1_000.0;
    let bins = (args.before_s + args.after_s) as usize;
    let mut result = StrategyResult {
        strategy,
        requests: 0,
        queries: 0,
        refreshes: 0,
        max_queries_per_refresh: 0,
        peak_in_flight: 0,
        late: 0,
        mean_lead_ms: 0.0,
        timeline: vec![0.0; bins],
        outside_window: 0.0,
    };
    // The value was computed at time 0; completion times of queries in flight, oldest first
    // (all take δ, so they complete in start order).
    let mut expiry = args.ttl_ms;
    let mut in_flight: std::collections::VecDeque<u64> = std::collections::VecDeque::new();
    let mut in_this_refresh = 0u64;
    let mut lead_sum = 0.0;
    let mut arrivals = 0.0;
    for now in 0..duration_ms {
        while in_flight.front().is_some_and(|&done| done <= now) {
            in_flight.pop_front();
            expiry = expiry.max(now + args.ttl_ms);
        }
        arrivals += per_ms;
        let mut count = arrivals.floor();
        arrivals -= count;
        while count >= 1.0 {
            count -= 1.0;
            result.requests += 1;
            let fresh = now < expiry;
            let query = if fresh {
                match strategy {
                    Strategy::None | Strategy::Lock => false,
                    Strategy::XFetch | Strategy::XFetchLock => {
                        let skip = strategy == Strategy::XFetchLock && !in_flight.is_empty();
                        // u in (0, 1]: ln u ≤ 0, so the draw moves `now` forward.
                        let u = 1.0 - rng.random::<f64>();
                        !skip && now as f64 - early_scale * u.ln() >= expiry as f64
                    }
                }
            } else {
                result.late += 1;
                match strategy {
                    Strategy::None | Strategy::XFetch => true,
                    Strategy::Lock | Strategy::XFetchLock => in_flight.is_empty(),
                }
            };
            if !query {
                continue;
            }
            if in_flight.is_empty() {
                result.refreshes += 1;
                in_this_refresh = 0;
                lead_sum += expiry as f64 - now as f64;
            }
            in_this_refresh += 1;
            result.max_queries_per_refresh = result.max_queries_per_refresh.max(in_this_refresh);
            result.queries += 1;
            in_flight.push_back(now + delta);
            result.peak_in_flight = result.peak_in_flight.max(in_flight.len() as u64);
            let offset_s = (now as f64 - expiry as f64) / 1_000.0;
            let bin = (offset_s + args.before_s as f64).floor();
            if bin >= 0.0 && (bin as usize) < bins {
                result.timeline[bin as usize] += 1.0;
            } else {
                result.outside_window += 1.0;
            }
        }
    }
    if result.refreshes > 0 {
        let refreshes = result.refreshes as f64;
        result.mean_lead_ms = lead_sum / refreshes;
        for value in &mut result.timeline {
            *value /= refreshes;
        }
        result.outside_window /= refreshes;
    }
    result
}

/// Simulates every strategy.
///
/// # Errors
///
/// [`InvalidArgs`] if the rate is not positive and finite or above 1,000,000/s, the TTL is 0,
/// β is negative or not finite, the duration is 0 or above 100,000 s, or the window is empty
/// or wider than 1,000 s.
pub fn run(args: &StampedeArgs) -> Result<StampedeReport, InvalidArgs> {
    ensure(
        args.rate_per_s.is_finite() && args.rate_per_s > 0.0 && args.rate_per_s <= 1e6,
        || "the rate must be above 0 and at most 1,000,000 requests/s".into(),
    )?;
    ensure(args.ttl_ms > 0, || "the TTL must be at least 1 ms".into())?;
    ensure(args.beta.is_finite() && args.beta >= 0.0, || {
        "beta must be finite and at least 0".into()
    })?;
    ensure(args.duration_s > 0 && args.duration_s <= 100_000, || {
        "the duration must be between 1 and 100,000 s".into()
    })?;
    ensure(
        args.before_s + args.after_s > 0 && args.before_s + args.after_s <= 1_000,
        || "the timeline window must be between 1 and 1,000 s wide".into(),
    )?;
    Ok(StampedeReport {
        args: args.clone(),
        results: Strategy::ALL.iter().map(|&s| simulate(args, s)).collect(),
    })
}

impl fmt::Display for StampedeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.args;
        writeln!(
            f,
            "### A hot key at {} requests/s, TTL {} s, recompute δ = {} ms, β = {}, {} s \
             simulated\n",
            a.rate_per_s,
            a.ttl_ms as f64 / 1_000.0,
            a.recompute_ms,
            a.beta,
            a.duration_s
        )?;
        let mut table = Table::new([
            "strategy",
            "DB queries",
            "refreshes",
            "queries per refresh (max)",
            "peak in flight",
            "late requests",
            "refresh lead",
        ]);
        for r in &self.results {
            table.row([
                r.strategy.name().to_owned(),
                r.queries.to_string(),
                r.refreshes.to_string(),
                format!(
                    "{:.2} ({})",
                    r.queries_per_refresh(),
                    r.max_queries_per_refresh
                ),
                r.peak_in_flight.to_string(),
                r.late.to_string(),
                format!("{:+.0} ms", r.mean_lead_ms),
            ]);
        }
        write!(f, "{table}")?;
        writeln!(
            f,
            "\n### DB queries/s in each second around expiry (mean over refreshes; second \
             [k, k+1) from the expiry of the value being replaced)\n"
        )?;
        let mut header = vec!["strategy".to_owned()];
        let before = a.before_s as i64;
        header.extend(
            (0..(a.before_s + a.after_s) as i64)
                .map(|i| format!("[{:+}, {:+})", i - before, i - before + 1)),
        );
        header.push("elsewhere".into());
        let mut table = Table::new(header);
        for r in &self.results {
            let mut row = vec![r.strategy.name().to_owned()];
            row.extend(r.timeline.iter().map(|q| format!("{q:.2}")));
            row.push(format!("{:.2}", r.outside_window));
            table.row(row);
        }
        write!(f, "{table}")?;
        writeln!(
            f,
            "\n### P(one request refreshes early), TTL {} s: the seed's example, the seed's \
             formula, XFetch\n",
            a.ttl_ms as f64 / 1_000.0
        )?;
        let mut table = Table::new([
            "time to expiry".to_owned(),
            "seed's example".to_owned(),
            "seed's formula (β = 1)".to_owned(),
            format!("XFetch (δ = {} ms, β = {})", a.recompute_ms, a.beta),
        ]);
        let ttl_s = a.ttl_ms as f64 / 1_000.0;
        let delta_s = a.recompute_ms as f64 / 1_000.0;
        for remaining in [10.0, 5.0, 1.0, 0.5, 0.2] {
            let example = SEED_EXAMPLE
                .iter()
                .find(|(s, _)| *s == remaining)
                .map_or("—".to_owned(), |&(_, p)| percent(p, 0));
            table.row([
                format!("{remaining} s"),
                example,
                format!("{:.2e}", seed_formula_probability(remaining, ttl_s, 1.0)),
                format!("{:.2e}", xfetch_probability(remaining, delta_s, a.beta)),
            ]);
        }
        write!(f, "{table}")?;
        writeln!(
            f,
            "\nseed: \"Cache Stampede Prevention\". With no protection, every request during \
             the δ = {} ms recompute queries: rate × δ = {:.0} queries, at {:.0} queries/s \
             while it lasts.",
            a.recompute_ms,
            a.rate_per_s * delta_s,
            a.rate_per_s
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> StampedeArgs {
        StampedeArgs {
            rate_per_s: 100.0,
            ttl_ms: 10_000,
            recompute_ms: 100,
            duration_s: 60,
            ..StampedeArgs::default()
        }
    }

    #[test]
    fn no_protection_queries_once_per_request_during_the_recompute() {
        let r = simulate(&small(), Strategy::None);
        // 100/s over 100 ms: 10 queries per expiry.
        assert_eq!(r.max_queries_per_refresh, 10);
        assert_eq!(r.peak_in_flight, 10);
        assert_eq!(r.queries, 10 * r.refreshes);
    }

    #[test]
    fn a_lock_queries_once_per_expiry() {
        let r = simulate(&small(), Strategy::Lock);
        assert_eq!(r.queries, r.refreshes);
        assert_eq!(r.peak_in_flight, 1);
        // Everyone arriving during the recompute waits: 10 per expiry.
        assert_eq!(r.late, 10 * r.refreshes);
    }

    #[test]
    fn xfetch_refreshes_before_expiry() {
        let r = simulate(&small(), Strategy::XFetchLock);
        assert_eq!(r.late, 0);
        assert_eq!(r.queries, r.refreshes);
        assert!(r.mean_lead_ms > 0.0);
        let r = simulate(&small(), Strategy::XFetch);
        assert_eq!(r.late, 0);
        assert!(r.queries >= r.refreshes);
    }

    #[test]
    fn probabilities() {
        assert!((xfetch_probability(0.2, 0.2, 1.0) - (-1.0f64).exp()).abs() < 1e-12);
        assert!((seed_formula_probability(10.0, 60.0, 1.0) - (-6.0f64).exp()).abs() < 1e-12);
        assert_eq!(xfetch_probability(1.0, 0.0, 1.0), 0.0);
    }

    #[test]
    fn arguments_are_checked() {
        assert!(
            run(&StampedeArgs {
                rate_per_s: 0.0,
                ..small()
            })
            .is_err()
        );
        assert!(
            run(&StampedeArgs {
                ttl_ms: 0,
                ..small()
            })
            .is_err()
        );
        let text = run(&small()).expect("valid").to_string();
        assert!(text.contains("XFetch + lock"));
    }
}
