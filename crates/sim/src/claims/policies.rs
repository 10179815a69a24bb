//! The seed's eviction-policy comparison on an "80 % of requests to 20 % of items" workload.
//!
//! The seed ("Eviction Policies", "Policy Comparison") gives, for a workload of "80% requests
//! to 20% of items (power law distribution)", hit ratios of LRU 85 %, LFU 88 %, ARC 87 % and
//! FIFO 60 %, without a cache size or a key count. The section opens with a cache of 1,000
//! items, so the default here is 5,000 keys (a hot set of exactly 1,000) and caches of 500,
//! 1,000 and 2,000 entries. The workload is read two ways, since the seed says both "80/20" and
//! "power law":
//!
//! 1. [`eighty_twenty`](crate::generate::eighty_twenty): a fixed random 20 % of the keys gets
//!    80 % of the requests, uniformly inside each class;
//! 2. [`zipf`](crate::generate::zipf) with the exponent for which the top 20 % of the keys get
//!    80 % of the requests ([`zipf_alpha_for`](crate::generate::zipf_alpha_for)).
//!
//! A third table checks the seed's qualitative "LRU: vulnerable to scans" ("LRU Cache
//! Pollution": a batch job reads items once each and evicts the hot ones) with the Zipf hot set
//! interrupted by one-time scans of 1,000 new keys (the seed's cache size) after every 4,000
//! hot requests.
//! Each table ends with the best static hit ratio under an independent reference model (keep
//! the `C` most popular keys), which no online policy exceeds beyond noise.

use super::{InvalidArgs, Table, ensure};
use crate::generate;
use crate::replay::replay;
use crate::trace::Request;
use larder_engine::PolicyKind;
use std::fmt;

/// The seed's hit ratios in percent for its 80/20 workload: "Eviction Policies", "Policy
/// Comparison" (LRU 85 %, LFU 88 %, ARC 87 %, FIFO 60 %).
pub const SEED_80_20: [(PolicyKind, f64); 4] = [
    (PolicyKind::Lru, 85.0),
    (PolicyKind::Lfu, 88.0),
    (PolicyKind::Arc, 87.0),
    (PolicyKind::Fifo, 60.0),
];

/// The policies replayed by default: the seed's four, then S3-FIFO, W-TinyLFU and SIEVE.
pub const DEFAULT_POLICIES: [PolicyKind; 7] = [
    PolicyKind::Lru,
    PolicyKind::Lfu,
    PolicyKind::Arc,
    PolicyKind::Fifo,
    PolicyKind::S3Fifo,
    PolicyKind::WTinyLfu,
    PolicyKind::Sieve,
];

/// The seed's hit ratio for `policy` on its 80/20 workload, in percent, if it gives one.
pub fn seed_percent(policy: PolicyKind) -> Option<f64> {
    SEED_80_20
        .iter()
        .find(|(p, _)| *p == policy)
        .map(|&(_, percent)| percent)
}

/// How a policy is named in the tables (`LRU`, `S3-FIFO`, `W-TinyLFU`, ...; a policy without a
/// display name here by its configuration name).
pub fn label(policy: PolicyKind) -> &'static str {
    match policy {
        PolicyKind::Lru => "LRU",
        PolicyKind::Fifo => "FIFO",
        PolicyKind::Lfu => "LFU",
        PolicyKind::Random => "Random",
        PolicyKind::Arc => "ARC",
        PolicyKind::Sieve => "SIEVE",
        PolicyKind::WTinyLfu => "W-TinyLFU",
        PolicyKind::S3Fifo => "S3-FIFO",
        // Policies added to the engine later are shown by their configuration name.
        #[allow(unreachable_patterns)]
        other => other.name(),
    }
}

/// Most keys [`run`] accepts: the 80/20 generator shuffles the whole key space (8 bytes a key)
/// and the Zipf exponent is solved over it.
pub const MAX_KEYS: u64 = 10_000_000;

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct PoliciesArgs {
    /// Distinct keys of the 80/20 and Zipf workloads (the scan workload's hot set). Default
    /// 5,000: the hot 20 % is then the seed's 1,000-item cache.
    pub keys: u64,
    /// Requests per workload (each workload holds them in memory, 16 bytes a request). Default
    /// 1,000,000.
    pub requests: usize,
    /// Cache sizes in entries. Default 500, 1,000, 2,000.
    pub capacities: Vec<u64>,
    /// Zipf exponent; `None` (default) solves for "top 20 % of keys get 80 % of requests".
    pub zipf_alpha: Option<f64>,
    /// Length of each one-time scan in the scan workload. Default 1,000 (the seed's cache size).
    pub scan_len: usize,
    /// Hot requests between two scans. Default 4,000 (scans are 20 % of the requests).
    pub scan_every: usize,
    /// Policies to replay, in table order. Default [`DEFAULT_POLICIES`].
    pub policies: Vec<PolicyKind>,
    /// Seed of the workload generators. Default 1.
    pub seed: u64,
}

impl Default for PoliciesArgs {
    fn default() -> Self {
        Self {
            keys: 5_000,
            requests: 1_000_000,
            capacities: vec![500, 1_000, 2_000],
            zipf_alpha: None,
            scan_len: 1_000,
            scan_every: 4_000,
            policies: DEFAULT_POLICIES.to_vec(),
            seed: 1,
        }
    }
}

/// One of the three workloads of the report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Workload {
    /// [`generate::eighty_twenty`].
    EightyTwenty,
    /// [`generate::zipf`] with this exponent.
    Zipf {
        /// The exponent.
        alpha: f64,
    },
    /// [`generate::scan_polluted`].
    ScanPolluted {
        /// The hot set's Zipf exponent.
        alpha: f64,
        /// Keys per scan.
        scan_len: usize,
        /// Hot requests between scans.
        scan_every: usize,
    },
}

/// The hit ratios measured on one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadResult {
    /// The workload.
    pub workload: Workload,
    /// One row per policy, in [`PoliciesArgs::policies`] order.
    pub rows: Vec<PolicyRow>,
    /// Best static hit ratio in percent per capacity: the share of requests that go to the
    /// `C` most popular keys (the optimum under an independent reference model).
    pub optimum_percent: Vec<f64>,
}

/// One policy's hit ratios on one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRow {
    /// The policy.
    pub policy: PolicyKind,
    /// The seed's number for it (80/20 and Zipf tables only).
    pub seed_percent: Option<f64>,
    /// Hit ratio in percent, per capacity of [`PoliciesReport::capacities`].
    pub hit_percent: Vec<f64>,
}

/// The outcome of [`run`].
#[derive(Debug, Clone, PartialEq)]
pub struct PoliciesReport {
    /// Distinct keys (hot keys for the scan workload).
    pub keys: u64,
    /// Requests per workload.
    pub requests: usize,
    /// Cache sizes, in entries.
    pub capacities: Vec<u64>,
    /// Generator seed.
    pub seed: u64,
    /// The seed's workload read as two classes.
    pub eighty_twenty: WorkloadResult,
    /// The seed's workload read as a power law.
    pub zipf: WorkloadResult,
    /// The Zipf hot set polluted by one-time scans.
    pub scan: WorkloadResult,
}

impl WorkloadResult {
    /// The hit ratio in percent of `policy` with a cache of `capacity`, if both were simulated.
    pub fn percent(&self, policy: PolicyKind, capacity: u64, capacities: &[u64]) -> Option<f64> {
        let column = capacities.iter().position(|&c| c == capacity)?;
        self.rows
            .iter()
            .find(|row| row.policy == policy)
            .and_then(|row| row.hit_percent.get(column).copied())
    }
}

impl PoliciesReport {
    /// [`WorkloadResult::percent`] on the 80/20 workload.
    pub fn eighty_twenty_percent(&self, policy: PolicyKind, capacity: u64) -> Option<f64> {
        self.eighty_twenty
            .percent(policy, capacity, &self.capacities)
    }
}

/// Replays the three workloads through every policy at every capacity.
///
/// # Errors
///
/// [`InvalidArgs`] if there are no keys or more than [`MAX_KEYS`], no requests, capacities or
/// policies, a capacity is 0, or the Zipf exponent is negative or not finite.
pub fn run(args: &PoliciesArgs) -> Result<PoliciesReport, InvalidArgs> {
    ensure(args.keys > 0 && args.keys <= MAX_KEYS, || {
        format!("keys must be between 1 and {}", thousands(MAX_KEYS))
    })?;
    ensure(args.requests > 0, || "requests must be at least 1".into())?;
    ensure(!args.capacities.is_empty(), || {
        "at least one capacity is needed".into()
    })?;
    ensure(args.capacities.iter().all(|&c| c > 0), || {
        "capacities must be at least 1".into()
    })?;
    ensure(!args.policies.is_empty(), || {
        "at least one policy is needed".into()
    })?;
    let alpha = args
        .zipf_alpha
        .unwrap_or_else(|| generate::zipf_alpha_for(args.keys, 0.2, 0.8));
    ensure(alpha.is_finite() && alpha >= 0.0, || {
        format!("the Zipf exponent must be finite and at least 0, not {alpha}")
    })?;

    let hot = ((args.keys as f64 * generate::HOT_KEY_SHARE).round() as u64).clamp(1, args.keys);
    let eighty_twenty_optimum = |c: u64| {
        let p_hot = generate::HOT_REQUEST_SHARE / hot as f64;
        let cold = args.keys - hot;
        let p_cold = if cold == 0 {
            0.0
        } else {
            (1.0 - generate::HOT_REQUEST_SHARE) / cold as f64
        };
        let c = c.min(args.keys);
        let share = c.min(hot) as f64 * p_hot + c.saturating_sub(hot) as f64 * p_cold;
        100.0 * share.min(1.0)
    };
    let zipf_optimum = |c: u64| 100.0 * generate::zipf_top_share(args.keys, alpha, c);
    let scanning = args.scan_len > 0 && args.scan_every > 0;
    let hot_share = if scanning {
        args.scan_every as f64 / (args.scan_every + args.scan_len) as f64
    } else {
        1.0
    };

    let eighty_twenty = measure(
        args,
        Workload::EightyTwenty,
        &generate::eighty_twenty(args.keys, args.requests, args.seed),
        true,
        eighty_twenty_optimum,
    );
    let zipf = measure(
        args,
        Workload::Zipf { alpha },
        &generate::zipf(args.keys, alpha, args.requests, args.seed),
        true,
        zipf_optimum,
    );
    let scan = measure(
        args,
        Workload::ScanPolluted {
            alpha,
            scan_len: args.scan_len,
            scan_every: args.scan_every,
        },
        &generate::scan_polluted(
            args.keys,
            alpha,
            args.scan_len,
            args.scan_every,
            args.requests,
            args.seed,
        ),
        false,
        |c| hot_share * zipf_optimum(c),
    );
    Ok(PoliciesReport {
        keys: args.keys,
        requests: args.requests,
        capacities: args.capacities.clone(),
        seed: args.seed,
        eighty_twenty,
        zipf,
        scan,
    })
}

/// Replays `requests` through every policy and capacity, one thread per policy.
fn measure(
    args: &PoliciesArgs,
    workload: Workload,
    requests: &[Request],
    with_seed: bool,
    optimum: impl Fn(u64) -> f64,
) -> WorkloadResult {
    let rows = std::thread::scope(|scope| {
        let handles: Vec<_> = args
            .policies
            .iter()
            .map(|&policy| {
                let capacities = &args.capacities;
                scope.spawn(move || {
                    capacities
                        .iter()
                        .map(|&c| replay(requests, policy, c, false).hit_percent())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        args.policies
            .iter()
            .zip(handles)
            .map(|(&policy, handle)| PolicyRow {
                policy,
                seed_percent: if with_seed {
                    seed_percent(policy)
                } else {
                    None
                },
                hit_percent: handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            })
            .collect()
    });
    WorkloadResult {
        workload,
        rows,
        optimum_percent: args.capacities.iter().map(|&c| optimum(c)).collect(),
    }
}

impl PoliciesReport {
    fn write_table(
        &self,
        f: &mut fmt::Formatter<'_>,
        result: &WorkloadResult,
        with_seed: bool,
    ) -> fmt::Result {
        let mut header = vec!["policy".to_owned()];
        if with_seed {
            header.push("seed".to_owned());
        }
        header.extend(self.capacities.iter().map(|&c| {
            format!(
                "C = {} ({:.0} % of keys)",
                thousands(c),
                100.0 * c as f64 / self.keys as f64
            )
        }));
        let mut table = Table::new(header);
        for row in &result.rows {
            let mut cells = vec![label(row.policy).to_owned()];
            if with_seed {
                cells.push(row.seed_percent.map_or("—".into(), |p| format!("{p:.0} %")));
            }
            cells.extend(row.hit_percent.iter().map(|p| format!("{p:.2} %")));
            table.row(cells);
        }
        let mut cells = vec!["best static (top C)".to_owned()];
        if with_seed {
            cells.push("—".into());
        }
        cells.extend(result.optimum_percent.iter().map(|p| format!("{p:.2} %")));
        table.row(cells);
        write!(f, "{table}")
    }
}

/// `n` with thousands separators (`1,000,000`).
pub(crate) fn thousands(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for PoliciesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let requests = thousands(self.requests as u64);
        let keys = thousands(self.keys);
        writeln!(
            f,
            "### 80/20, two classes: 80 % of requests to a fixed random 20 % of {keys} keys \
             ({requests} requests, seed {})\n",
            self.seed
        )?;
        self.write_table(f, &self.eighty_twenty, true)?;
        if let Workload::Zipf { alpha } = self.zipf.workload {
            writeln!(
                f,
                "\n### 80/20 as a power law: Zipf α = {alpha:.3} over {keys} keys, top 20 % of \
                 keys get {:.1} % of requests ({requests} requests)\n",
                100.0 * generate::zipf_top_share(self.keys, alpha, (self.keys / 5).max(1))
            )?;
        }
        self.write_table(f, &self.zipf, true)?;
        if let Workload::ScanPolluted {
            alpha,
            scan_len,
            scan_every,
        } = self.scan.workload
        {
            if scan_len == 0 || scan_every == 0 {
                writeln!(
                    f,
                    "\n### No scans (scan length or period 0): the Zipf α = {alpha:.3} workload \
                     again\n"
                )?;
            } else {
                writeln!(
                    f,
                    "\n### Scan pollution: the Zipf α = {alpha:.3} hot set, plus a one-time scan \
                     of {} new keys after every {} hot requests ({requests} requests)\n",
                    thousands(scan_len as u64),
                    thousands(scan_every as u64)
                )?;
            }
        }
        self.write_table(f, &self.scan, false)?;
        writeln!(
            f,
            "\nseed: \"Eviction Policies\", Policy Comparison (no cache size given). Hit ratios \
             include the cold misses of the first requests. \"best static\" keeps the C most \
             popular keys: under an independent reference model no online policy beats it."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0u64), "0");
        assert_eq!(thousands(999u64), "999");
        assert_eq!(thousands(1_000u64), "1,000");
        assert_eq!(thousands(1_234_567u64), "1,234,567");
    }

    #[test]
    fn a_small_run_reports_every_policy_and_capacity() {
        let args = PoliciesArgs {
            keys: 500,
            requests: 20_000,
            capacities: vec![50, 100],
            scan_len: 300,
            scan_every: 2_000,
            ..PoliciesArgs::default()
        };
        let report = run(&args).expect("valid arguments");
        assert_eq!(report.eighty_twenty.rows.len(), DEFAULT_POLICIES.len());
        assert!(
            report
                .eighty_twenty
                .rows
                .iter()
                .all(|r| r.hit_percent.len() == 2)
        );
        assert_eq!(
            report.eighty_twenty.rows[0].seed_percent,
            Some(85.0),
            "LRU's seed number"
        );
        assert_eq!(report.scan.rows[0].seed_percent, None);
        // Two classes: 100 entries hold the whole hot set: 80 % at best.
        assert!((report.eighty_twenty.optimum_percent[1] - 80.0).abs() < 1e-9);
        let text = report.to_string();
        assert!(text.contains("| LRU ") && text.contains("| W-TinyLFU ") && text.contains("85 %"));
        assert!(
            run(&PoliciesArgs {
                capacities: vec![0],
                ..args.clone()
            })
            .is_err()
        );
        assert!(
            run(&PoliciesArgs {
                zipf_alpha: Some(-1.0),
                ..args
            })
            .is_err()
        );
    }
}
