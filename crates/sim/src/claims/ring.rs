//! Key remapping and load balance when a cluster grows from N to N+1 servers.
//!
//! The seed ("Cache Sharding Strategies", "Consistent Hashing for Cache Distribution") claims
//! that growing from N to N+1 servers remaps "~(N/(N+1)) of all cached data" under modulo
//! hashing (75 % for 3 → 4, 91 % for 10 → 11) and "~1/(N+1)" under consistent hashing (9 % for
//! 10 → 11), and that with few servers a ring is uneven until each server has "100-200 virtual
//! nodes".
//!
//! Three placements are compared on the same synthetic keys:
//!
//! * **modulo**: server `hash(key) mod N`;
//! * **ring, 1 point**: a consistent-hash ring where each server owns one point;
//! * **ring, V points**: the same with `V` virtual nodes per server (default 150).
//!
//! The ring is our own ketama-style construction: server `s` owns the points
//! `mix(seed, s, 0..V)` on a 64-bit circle; a key belongs to the first point at or after its hash,
//! wrapping around. Adding server N only adds its points, so a key moves only to the new server.
//! Each figure is the mean over `trials` independent rings and key sets (different hash seeds),
//! so that one lucky or unlucky layout does not decide the result.

use super::policies::thousands;
use super::{InvalidArgs, Table, ensure, percent};
use std::fmt;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingArgs {
    /// Smallest cluster size N (grown to N+1). Default 3 (the seed's 3 → 4).
    pub from: usize,
    /// Largest cluster size N. Default 10 (the seed's 10 → 11).
    pub to: usize,
    /// Virtual nodes per server in the third placement. Default 150 (the seed's 100–200).
    pub vnodes: usize,
    /// Synthetic keys placed. Default 100,000.
    pub keys: usize,
    /// Independent repetitions averaged per N. Default 20.
    pub trials: usize,
    /// Hash seed of the first trial (trial `t` uses `seed + t`). Default 1.
    pub seed: u64,
}

impl Default for RingArgs {
    fn default() -> Self {
        Self {
            from: 3,
            to: 10,
            vnodes: 150,
            keys: 100_000,
            trials: 20,
            seed: 1,
        }
    }
}

/// How keys are placed on servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `hash(key) mod N`.
    Modulo,
    /// A consistent-hash ring with this many points per server.
    Ring {
        /// Virtual nodes per server.
        vnodes: usize,
    },
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheme::Modulo => f.write_str("modulo"),
            Scheme::Ring { vnodes: 1 } => f.write_str("ring, 1 point"),
            Scheme::Ring { vnodes } => write!(f, "ring, {vnodes} points"),
        }
    }
}

/// One scheme measured at one N (means over the trials).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchemeResult {
    /// The scheme.
    pub scheme: Scheme,
    /// Fraction of keys whose server changes from N to N+1 servers.
    pub remapped: f64,
    /// Smallest remapped fraction over the trials.
    pub remapped_min: f64,
    /// Largest remapped fraction over the trials.
    pub remapped_max: f64,
    /// Load imbalance at N servers: keys on the busiest server / mean keys per server.
    pub max_over_mean: f64,
    /// Worst `max_over_mean` over the trials.
    pub max_over_mean_worst: f64,
    /// Load spread at N servers: standard deviation / mean of the keys per server.
    pub stddev_over_mean: f64,
}

/// All schemes at one cluster size.
#[derive(Debug, Clone, PartialEq)]
pub struct RingRow {
    /// Servers before growing (N).
    pub servers: usize,
    /// The seed's modulo figure, N/(N+1).
    pub expected_modulo: f64,
    /// The seed's consistent-hashing figure, 1/(N+1).
    pub expected_ring: f64,
    /// Modulo, ring with 1 point, ring with [`RingArgs::vnodes`] points.
    pub schemes: [SchemeResult; 3],
}

/// The outcome of [`run`].
#[derive(Debug, Clone, PartialEq)]
pub struct RingReport {
    /// The arguments simulated.
    pub args: RingArgs,
    /// One row per N in `from..=to`.
    pub rows: Vec<RingRow>,
}

impl RingReport {
    /// The row for N servers, if simulated.
    pub fn row(&self, servers: usize) -> Option<&RingRow> {
        self.rows.iter().find(|r| r.servers == servers)
    }
}

/// A 64-bit mixing function: the xor-shift / multiply finalizer of SplitMix64 (Stafford's
/// "Mix13" constants). A bijection on `u64` in which every input bit affects every output bit;
/// used for key hashes and ring points.
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A consistent-hash ring: sorted `(point, server)` pairs.
#[derive(Debug, Clone)]
pub struct Ring {
    points: Vec<(u64, u32)>,
}

impl Ring {
    /// The ring of servers `0..servers`, each owning `vnodes` points derived from `seed`.
    /// A server's points do not depend on how many other servers there are.
    pub fn new(servers: usize, vnodes: usize, seed: u64) -> Self {
        let mut points = Vec::with_capacity(servers * vnodes);
        for server in 0..servers {
            for vnode in 0..vnodes {
                let name = ((server as u64) << 32) | vnode as u64;
                points.push((mix64(mix64(name) ^ seed), server as u32));
            }
        }
        points.sort_unstable();
        Self { points }
    }

    /// The server owning `hash`: the first point at or after it, wrapping to the first point.
    /// `None` for an empty ring.
    pub fn server(&self, hash: u64) -> Option<u32> {
        let i = self.points.partition_point(|&(point, _)| point < hash);
        self.points
            .get(i)
            .or_else(|| self.points.first())
            .map(|&(_, server)| server)
    }
}

/// Places every key with `scheme` on `servers` servers.
fn place(hashes: &[u64], scheme: Scheme, servers: usize, seed: u64) -> Vec<u32> {
    match scheme {
        Scheme::Modulo => hashes
            .iter()
            .map(|&h| (h % servers as u64) as u32)
            .collect(),
        Scheme::Ring { vnodes } => {
            let ring = Ring::new(servers, vnodes, seed);
            hashes
                .iter()
                .map(|&h| ring.server(h).unwrap_or(0))
                .collect()
        }
    }
}

/// (max / mean, stddev / mean) of the keys per server.
fn balance(placement: &[u32], servers: usize) -> (f64, f64) {
    let mut load = vec![0u64; servers];
    for &s in placement {
        load[s as usize] += 1;
    }
    let mean = placement.len() as f64 / servers as f64;
    let max = load.iter().copied().max().unwrap_or(0) as f64;
    let variance = load.iter().map(|&l| (l as f64 - mean).powi(2)).sum::<f64>() / servers as f64;
    (max / mean, variance.sqrt() / mean)
}

/// Measures one scheme at N over all trials.
fn measure(args: &RingArgs, scheme: Scheme, servers: usize) -> SchemeResult {
    let mut result = SchemeResult {
        scheme,
        remapped: 0.0,
        remapped_min: f64::INFINITY,
        remapped_max: 0.0,
        max_over_mean: 0.0,
        max_over_mean_worst: 0.0,
        stddev_over_mean: 0.0,
    };
    for trial in 0..args.trials {
        let seed = args.seed.wrapping_add(trial as u64);
        let key_seed = mix64(seed ^ 0x6b65_7973);
        let hashes: Vec<u64> = (0..args.keys as u64).map(|k| mix64(k ^ key_seed)).collect();
        let before = place(&hashes, scheme, servers, seed);
        let after = place(&hashes, scheme, servers + 1, seed);
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        let remapped = moved as f64 / args.keys as f64;
        let (max_over_mean, stddev_over_mean) = balance(&before, servers);
        result.remapped += remapped;
        result.remapped_min = result.remapped_min.min(remapped);
        result.remapped_max = result.remapped_max.max(remapped);
        result.max_over_mean += max_over_mean;
        result.max_over_mean_worst = result.max_over_mean_worst.max(max_over_mean);
        result.stddev_over_mean += stddev_over_mean;
    }
    let trials = args.trials as f64;
    result.remapped /= trials;
    result.max_over_mean /= trials;
    result.stddev_over_mean /= trials;
    result
}

/// Measures every scheme for every N in `from..=to`.
///
/// # Errors
///
/// [`InvalidArgs`] if `from` is 0 or above `to`, `to` is above 10,000, or `vnodes`, `keys` or
/// `trials` is 0 (or `vnodes × (to + 1)` exceeds 10 million points).
pub fn run(args: &RingArgs) -> Result<RingReport, InvalidArgs> {
    ensure(args.from >= 1, || "from must be at least 1 server".into())?;
    ensure(args.from <= args.to, || {
        format!("from ({}) must not exceed to ({})", args.from, args.to)
    })?;
    ensure(args.to <= 10_000, || "to must be at most 10,000".into())?;
    ensure(args.vnodes >= 1, || "vnodes must be at least 1".into())?;
    ensure(
        args.vnodes.saturating_mul(args.to + 1) <= 10_000_000,
        || "vnodes × (to + 1) must be at most 10,000,000 points".into(),
    )?;
    ensure(args.keys >= 1, || "keys must be at least 1".into())?;
    ensure(args.trials >= 1, || "trials must be at least 1".into())?;
    let schemes = [
        Scheme::Modulo,
        Scheme::Ring { vnodes: 1 },
        Scheme::Ring {
            vnodes: args.vnodes,
        },
    ];
    let rows = std::thread::scope(|scope| {
        let handles: Vec<_> = (args.from..=args.to)
            .map(|n| scope.spawn(move || schemes.map(|scheme| measure(args, scheme, n))))
            .collect();
        (args.from..=args.to)
            .zip(handles)
            .map(|(n, handle)| RingRow {
                servers: n,
                expected_modulo: n as f64 / (n + 1) as f64,
                expected_ring: 1.0 / (n + 1) as f64,
                schemes: handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            })
            .collect()
    });
    Ok(RingReport {
        args: args.clone(),
        rows,
    })
}

impl fmt::Display for RingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.args;
        let v = a.vnodes;
        writeln!(
            f,
            "### Keys remapped when growing from N to N+1 servers ({} keys, mean of {} trials)\n",
            thousands(a.keys as u64),
            a.trials
        )?;
        let mut table = Table::new([
            "N → N+1".to_owned(),
            "seed: modulo N/(N+1)".to_owned(),
            "modulo".to_owned(),
            "seed: consistent 1/(N+1)".to_owned(),
            "ring, 1 point (min–max)".to_owned(),
            format!("ring, {v} points (min–max)"),
        ]);
        for row in &self.rows {
            let [modulo, one, many] = &row.schemes;
            let range = |s: &SchemeResult| {
                format!(
                    "{} ({}–{})",
                    percent(s.remapped, 1),
                    percent(s.remapped_min, 1),
                    percent(s.remapped_max, 1)
                )
            };
            table.row([
                format!("{} → {}", row.servers, row.servers + 1),
                percent(row.expected_modulo, 1),
                percent(modulo.remapped, 1),
                percent(row.expected_ring, 1),
                range(one),
                range(many),
            ]);
        }
        write!(f, "{table}")?;
        writeln!(
            f,
            "\n### Load imbalance at N servers: max/mean (worst trial) and stddev/mean of keys \
             per server\n"
        )?;
        let mut table = Table::new([
            "N".to_owned(),
            "modulo max/mean".to_owned(),
            "modulo sd/mean".to_owned(),
            "1 point max/mean (worst)".to_owned(),
            "1 point sd/mean".to_owned(),
            format!("{v} points max/mean (worst)"),
            format!("{v} points sd/mean"),
        ]);
        for row in &self.rows {
            let [modulo, one, many] = &row.schemes;
            let worst =
                |s: &SchemeResult| format!("{:.2} ({:.2})", s.max_over_mean, s.max_over_mean_worst);
            table.row([
                row.servers.to_string(),
                format!("{:.3}", modulo.max_over_mean),
                format!("{:.3}", modulo.stddev_over_mean),
                worst(one),
                format!("{:.2}", one.stddev_over_mean),
                worst(many),
                format!("{:.3}", many.stddev_over_mean),
            ]);
        }
        write!(f, "{table}")?;
        let n = a.to as f64;
        let spread = |points: f64| ((n - 1.0) / (n * points + 1.0)).sqrt();
        writeln!(
            f,
            "\nseed: \"Cache Sharding Strategies\" and \"Consistent Hashing for Cache \
             Distribution\". Expected sd/mean of the servers' shares on a ring of N servers \
             with V points each: √((N−1)/(N·V+1)), at N = {}: {:.3} with 1 point, {:.3} with \
             {v}. Modulo's spread is the sampling noise of {} keys, ≈ √(N/keys).",
            a.to,
            spread(1.0),
            spread(v as f64),
            thousands(a.keys as u64)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix64_is_a_bijection_on_a_sample_and_spreads_bits() {
        let outputs: std::collections::HashSet<u64> = (0..10_000).map(mix64).collect();
        assert_eq!(outputs.len(), 10_000);
        // One input bit flips about half of the output bits.
        let flips: u32 = (0..64)
            .map(|bit| (mix64(12_345) ^ mix64(12_345 ^ (1 << bit))).count_ones())
            .sum();
        let mean = f64::from(flips) / 64.0;
        assert!((mean - 32.0).abs() < 3.0, "mean flipped bits {mean}");
    }

    #[test]
    fn the_ring_wraps_and_growing_moves_keys_only_to_the_new_server() {
        assert_eq!(Ring::new(0, 10, 1).server(5), None);
        let small = Ring::new(4, 20, 9);
        let big = Ring::new(5, 20, 9);
        assert_eq!(small.server(u64::MAX), small.server(0));
        for k in 0..5_000u64 {
            let h = mix64(k);
            let (before, after) = (small.server(h), big.server(h));
            assert!(before == after || after == Some(4));
        }
    }

    #[test]
    fn arguments_are_checked() {
        let ok = RingArgs {
            keys: 1_000,
            trials: 1,
            ..RingArgs::default()
        };
        assert!(run(&ok).is_ok());
        assert!(
            run(&RingArgs {
                from: 0,
                ..ok.clone()
            })
            .is_err()
        );
        assert!(
            run(&RingArgs {
                from: 5,
                to: 4,
                ..ok.clone()
            })
            .is_err()
        );
        assert!(run(&RingArgs { vnodes: 0, ..ok }).is_err());
    }
}
