//! Aggregate hit ratio of stacked caches: browser → CDN → application → database query cache.
//!
//! The seed ("Cache Hit Ratio Optimization", technique 3 "Cache More Layers") chains four
//! caches and multiplies their miss ratios: browser 60 %, CDN 80 %, application 90 % and
//! database query cache 50 % give "Total hit ratio: 99.6%" and "Total database load: 0.4% of
//! requests", with latencies of 0, 10, 50, 100 ms for a hit at each layer and 200 ms for the
//! database.
//!
//! Two parts:
//!
//! * **analytic**: from per-layer hit ratios `h_i` (each measured on the traffic that reaches
//!   the layer), the aggregate `1 − Π(1 − h_i)`, the fraction reaching each layer and the
//!   database, and the mean latency;
//! * **simulated**: a Zipf stream through stacked caches of increasing size, each seeing only
//!   the misses of the one above. Each layer's hit ratio is measured in the stack and alone
//!   (on the whole stream), to show that the formula holds with the in-stack ratios but
//!   overestimates the aggregate when fed ratios measured in isolation: an upper layer takes
//!   the popular keys, so the layers below see a flatter stream and hit less.

use super::policies::{label, thousands};
use super::{InvalidArgs, Table, ensure, percent};
use crate::generate;
use crate::trace::Request;
use larder_engine::{FixedState, ManualClock, NEVER, PolicyKind, Shard, ShardConfig};
use std::fmt;
use std::sync::Arc;

/// The seed's layer names, top (closest to the user) first.
pub const LAYER_NAMES: [&str; 4] = ["browser", "CDN", "application", "DB query cache"];

/// The seed's per-layer hit ratios ("Cache More Layers": 60 %, 80 %, 90 %, 50 %).
pub const SEED_HIT_RATIOS: [f64; 4] = [0.6, 0.8, 0.9, 0.5];

/// The seed's latency in ms of a hit at each layer, then of the database (0, 10, 50, 100, 200).
pub const SEED_LATENCIES_MS: [f64; 5] = [0.0, 10.0, 50.0, 100.0, 200.0];

/// The seed's stated aggregate hit ratio (99.6 %).
pub const SEED_AGGREGATE: f64 = 0.996;

/// The seed's stated fraction of requests that reach the database (0.4 %).
pub const SEED_DATABASE: f64 = 0.004;

/// What to compute and simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct LayersArgs {
    /// Per-layer hit ratios for the analytic part, top first. Default [`SEED_HIT_RATIOS`].
    pub hit_ratios: Vec<f64>,
    /// Latency in ms of a hit at each layer, then of the database: one more than there are
    /// layers, or empty for no latency figures. Default [`SEED_LATENCIES_MS`].
    pub latencies_ms: Vec<f64>,
    /// Sizes in entries of the simulated layers, top first. Default 100, 2,000, 20,000, 50,000.
    pub capacities: Vec<u64>,
    /// Keys of the simulated Zipf stream. Default 100,000.
    pub keys: u64,
    /// Zipf exponent of the simulated stream. Default 1.2: the top three layers then hit about
    /// 60 %, 84 %, 94 % alone, near the seed's 60 %, 80 %, 90 %.
    pub alpha: f64,
    /// Requests simulated. Default 10,000,000 (160 MB of requests; first references are then
    /// about 1 % of them).
    pub requests: usize,
    /// Eviction policy of every simulated layer. Default LRU.
    pub policy: PolicyKind,
    /// Generator seed. Default 1.
    pub seed: u64,
}

impl Default for LayersArgs {
    fn default() -> Self {
        Self {
            hit_ratios: SEED_HIT_RATIOS.to_vec(),
            latencies_ms: SEED_LATENCIES_MS.to_vec(),
            capacities: vec![100, 2_000, 20_000, 50_000],
            keys: 100_000,
            alpha: 1.2,
            requests: 10_000_000,
            policy: PolicyKind::Lru,
            seed: 1,
        }
    }
}

/// The name of layer `i` (the seed's names for the first four).
pub fn layer_name(i: usize) -> String {
    LAYER_NAMES
        .get(i)
        .map_or_else(|| format!("layer {}", i + 1), |&name| name.to_owned())
}

/// One layer of the analytic part.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticLayer {
    /// The layer's name.
    pub name: String,
    /// Its hit ratio on the traffic that reaches it.
    pub hit_ratio: f64,
    /// Fraction of all requests that reach it.
    pub reaching: f64,
    /// Fraction of all requests that it serves.
    pub served: f64,
}

/// The analytic part.
#[derive(Debug, Clone, PartialEq)]
pub struct Analytic {
    /// The layers, top first.
    pub layers: Vec<AnalyticLayer>,
    /// `1 − Π(1 − h_i)`.
    pub aggregate: f64,
    /// `Π(1 − h_i)`: the fraction of requests that reach the database.
    pub database: f64,
    /// Mean latency in ms, when latencies were given.
    pub mean_latency_ms: Option<f64>,
}

/// One simulated layer.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedLayer {
    /// The layer's name.
    pub name: String,
    /// Its size in entries.
    pub capacity: u64,
    /// Requests that reached it (the misses of the layer above).
    pub requests: u64,
    /// Requests it served.
    pub hits: u64,
    /// `hits / requests`: its hit ratio in the stack.
    pub hit_ratio: f64,
    /// Its hit ratio alone, on the whole stream.
    pub alone_hit_ratio: f64,
}

/// The simulated part.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulated {
    /// The layers, top first.
    pub layers: Vec<SimulatedLayer>,
    /// Requests simulated.
    pub requests: u64,
    /// Measured aggregate hit ratio: requests served by some layer / requests.
    pub aggregate: f64,
    /// `1 − Π(1 − h_i)` with the in-stack hit ratios.
    pub formula_in_stack: f64,
    /// `1 − Π(1 − h_i)` with each layer's hit ratio alone (the naive estimate).
    pub formula_alone: f64,
    /// Fraction of requests that reached the database.
    pub database: f64,
    /// The hit ratio of the largest layer alone: what the stack achieves without the layers
    /// above it.
    pub largest_alone: f64,
    /// Distinct keys / requests: first references, which miss in every layer (a floor on
    /// [`Simulated::database`]).
    pub compulsory: f64,
    /// Mean latency in ms, when latencies were given for these layers.
    pub mean_latency_ms: Option<f64>,
}

/// The outcome of [`run`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayersReport {
    /// The arguments.
    pub args: LayersArgs,
    /// The analytic part.
    pub analytic: Analytic,
    /// The simulated part (`None` when no capacities were given).
    pub simulated: Option<Simulated>,
}

/// Mean latency of a stack whose layers serve `served` (fractions of all requests) and send
/// `database` to the database, if `latencies` has one entry per layer plus the database.
fn mean_latency(served: &[f64], database: f64, latencies: &[f64]) -> Option<f64> {
    (latencies.len() == served.len() + 1).then(|| {
        served
            .iter()
            .zip(latencies)
            .map(|(s, l)| s * l)
            .sum::<f64>()
            + database * latencies[served.len()]
    })
}

/// The analytic aggregate of per-layer hit ratios.
pub fn analytic(hit_ratios: &[f64], latencies_ms: &[f64]) -> Analytic {
    let mut reaching = 1.0;
    let mut layers = Vec::with_capacity(hit_ratios.len());
    for (i, &h) in hit_ratios.iter().enumerate() {
        layers.push(AnalyticLayer {
            name: layer_name(i),
            hit_ratio: h,
            reaching,
            served: reaching * h,
        });
        reaching *= 1.0 - h;
    }
    let served: Vec<f64> = layers.iter().map(|l| l.served).collect();
    Analytic {
        mean_latency_ms: mean_latency(&served, reaching, latencies_ms),
        layers,
        aggregate: 1.0 - reaching,
        database: reaching,
    }
}

/// A single-threaded cache of `capacity` entries, as the replay builds it.
fn cache(capacity: u64, policy: PolicyKind) -> Shard<u64, u32, FixedState> {
    let config = ShardConfig::<u64, u32>::entries(capacity)
        .with_policy(policy)
        .with_clock(Arc::new(ManualClock::new(0)));
    Shard::with_hasher(config, FixedState::with_seed(0x1a7e_5500))
}

/// Passes `requests` through a cache (demand fill on a miss), calling `on_miss` for each miss
/// in order.
fn pass(requests: &[Request], capacity: u64, policy: PolicyKind, mut on_miss: impl FnMut(Request)) {
    let mut shard = cache(capacity, policy);
    for request in requests {
        let hash = shard.hash(&request.key);
        if shard.get_hashed(hash, &request.key).is_none() {
            let _ = shard.insert_hashed(hash, request.key, 1, NEVER);
            on_miss(*request);
        }
    }
}

/// The misses of `requests` through a cache, in order.
fn misses(requests: &[Request], capacity: u64, policy: PolicyKind) -> Vec<Request> {
    let mut out = Vec::new();
    pass(requests, capacity, policy, |r| out.push(r));
    out
}

/// Simulates the stack.
fn simulate(args: &LayersArgs) -> Simulated {
    let stream = generate::zipf(args.keys, args.alpha, args.requests, args.seed);
    let total = stream.len() as u64;
    let distinct = stream
        .iter()
        .map(|r| r.key)
        .collect::<std::collections::HashSet<_>>()
        .len();
    let alone: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = args
            .capacities
            .iter()
            .map(|&c| {
                let stream = &stream;
                scope.spawn(move || {
                    let mut missed = 0u64;
                    pass(stream, c, args.policy, |_| missed += 1);
                    1.0 - missed as f64 / total as f64
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut layers = Vec::with_capacity(args.capacities.len());
    let mut reaching = stream;
    for (i, &capacity) in args.capacities.iter().enumerate() {
        let missed = misses(&reaching, capacity, args.policy);
        let requests = reaching.len() as u64;
        let hits = requests - missed.len() as u64;
        layers.push(SimulatedLayer {
            name: layer_name(i),
            capacity,
            requests,
            hits,
            hit_ratio: if requests == 0 {
                0.0
            } else {
                hits as f64 / requests as f64
            },
            alone_hit_ratio: alone[i],
        });
        reaching = missed;
    }
    let database = reaching.len() as f64 / total as f64;
    let product =
        |f: fn(&SimulatedLayer) -> f64| 1.0 - layers.iter().map(|l| 1.0 - f(l)).product::<f64>();
    let served: Vec<f64> = layers
        .iter()
        .map(|l| l.hits as f64 / total as f64)
        .collect();
    let largest_alone = layers
        .iter()
        .max_by_key(|l| l.capacity)
        .map_or(0.0, |l| l.alone_hit_ratio);
    Simulated {
        largest_alone,
        compulsory: distinct as f64 / total as f64,
        formula_in_stack: product(|l| l.hit_ratio),
        formula_alone: product(|l| l.alone_hit_ratio),
        mean_latency_ms: mean_latency(&served, database, &args.latencies_ms),
        layers,
        requests: total,
        aggregate: 1.0 - database,
        database,
    }
}

/// Computes the analytic aggregate and simulates the stack.
///
/// # Errors
///
/// [`InvalidArgs`] if a hit ratio is outside `[0, 1]`, latencies are given but not one per
/// layer plus one, a capacity is 0, or (with capacities) `keys` or `requests` is 0 or `alpha`
/// is negative or not finite.
pub fn run(args: &LayersArgs) -> Result<LayersReport, InvalidArgs> {
    ensure(
        args.hit_ratios.iter().all(|h| (0.0..=1.0).contains(h)),
        || "hit ratios must be between 0 and 1".into(),
    )?;
    ensure(
        args.latencies_ms.is_empty() || args.latencies_ms.len() == args.hit_ratios.len() + 1,
        || {
            format!(
                "give one latency per layer plus the database's ({} values), or none",
                args.hit_ratios.len() + 1
            )
        },
    )?;
    ensure(args.latencies_ms.iter().all(|l| l.is_finite()), || {
        "latencies must be finite".into()
    })?;
    ensure(args.capacities.iter().all(|&c| c > 0), || {
        "capacities must be at least 1".into()
    })?;
    let simulated = if args.capacities.is_empty() {
        None
    } else {
        ensure(args.keys > 0, || "keys must be at least 1".into())?;
        ensure(args.requests > 0, || "requests must be at least 1".into())?;
        ensure(args.alpha.is_finite() && args.alpha >= 0.0, || {
            format!("alpha must be finite and at least 0, not {}", args.alpha)
        })?;
        Some(simulate(args))
    };
    Ok(LayersReport {
        args: args.clone(),
        analytic: analytic(&args.hit_ratios, &args.latencies_ms),
        simulated,
    })
}

impl fmt::Display for LayersReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.analytic;
        writeln!(f, "### Analytic: aggregate = 1 − Π(1 − h_i)\n")?;
        let mut table = Table::new([
            "layer",
            "hit ratio h_i",
            "reaching it",
            "served by it",
            "passing through",
        ]);
        for layer in &a.layers {
            table.row([
                layer.name.clone(),
                percent(layer.hit_ratio, 1),
                percent(layer.reaching, 2),
                percent(layer.served, 2),
                percent(layer.reaching - layer.served, 2),
            ]);
        }
        write!(f, "{table}")?;
        writeln!(f)?;
        let seed_inputs = self.args.hit_ratios == SEED_HIT_RATIOS;
        let mut table = Table::new(["", "ours", "seed"]);
        let seed = |value: f64| {
            if seed_inputs {
                percent(value, 1)
            } else {
                "— (other inputs)".into()
            }
        };
        table.row([
            "aggregate hit ratio".into(),
            percent(a.aggregate, 2),
            seed(SEED_AGGREGATE),
        ]);
        table.row([
            "requests reaching the database".into(),
            percent(a.database, 2),
            seed(SEED_DATABASE),
        ]);
        if let Some(latency) = a.mean_latency_ms {
            table.row([
                "mean latency".into(),
                format!("{latency:.2} ms"),
                "— (not stated)".into(),
            ]);
        }
        write!(f, "{table}")?;
        if let Some(s) = &self.simulated {
            writeln!(
                f,
                "\n### Simulated: Zipf α = {} over {} keys, {} requests, stacked {} caches, each \
                 fed the misses of the one above\n",
                self.args.alpha,
                thousands(self.args.keys),
                thousands(s.requests),
                label(self.args.policy)
            )?;
            let mut table = Table::new([
                "layer",
                "entries",
                "requests reaching it",
                "hit ratio in the stack",
                "hit ratio alone",
            ]);
            for layer in &s.layers {
                table.row([
                    layer.name.clone(),
                    thousands(layer.capacity),
                    format!(
                        "{} ({})",
                        thousands(layer.requests),
                        percent(layer.requests as f64 / s.requests as f64, 2)
                    ),
                    percent(layer.hit_ratio, 2),
                    percent(layer.alone_hit_ratio, 2),
                ]);
            }
            write!(f, "{table}")?;
            writeln!(f)?;
            let mut table = Table::new(["aggregate hit ratio", "value"]);
            table.row(["measured".into(), percent(s.aggregate, 3)]);
            table.row([
                "1 − Π(1 − h_i), in-stack h_i".into(),
                percent(s.formula_in_stack, 3),
            ]);
            table.row([
                "1 − Π(1 − h_i), each layer alone (naive)".into(),
                percent(s.formula_alone, 3),
            ]);
            table.row(["largest layer alone".into(), percent(s.largest_alone, 3)]);
            table.row([
                "requests reaching the database".into(),
                percent(s.database, 3),
            ]);
            table.row([
                "  of which first references (compulsory)".into(),
                percent(s.compulsory, 3),
            ]);
            if let Some(latency) = s.mean_latency_ms {
                table.row(["mean latency".into(), format!("{latency:.2} ms")]);
            }
            write!(f, "{table}")?;
        }
        writeln!(
            f,
            "\nseed: \"Cache More Layers\" (browser 60 %, CDN 80 %, app 90 %, DB cache 50 % → \
             99.6 %, 0.4 % reach the database)."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_arithmetic() {
        let a = analytic(&SEED_HIT_RATIOS, &SEED_LATENCIES_MS);
        assert!((a.aggregate - SEED_AGGREGATE).abs() < 1e-12);
        assert!((a.database - SEED_DATABASE).abs() < 1e-12);
        assert!((a.layers[2].reaching - 0.08).abs() < 1e-12);
        // 0.32 × 10 + 0.072 × 50 + 0.004 × 100 + 0.004 × 200
        assert_eq!(
            a.mean_latency_ms.map(|l| (l * 1e9).round() / 1e9),
            Some(8.0)
        );
        assert_eq!(layer_name(5), "layer 6");
    }

    #[test]
    fn misses_are_the_requests_that_did_not_hit() {
        let stream = generate::looping(3, 9);
        assert_eq!(misses(&stream, 3, PolicyKind::Lru).len(), 3);
        assert_eq!(misses(&stream, 2, PolicyKind::Lru).len(), 9);
    }

    #[test]
    fn arguments_are_checked() {
        let bad = |args: LayersArgs| run(&args).is_err();
        assert!(bad(LayersArgs {
            hit_ratios: vec![1.5],
            latencies_ms: vec![],
            ..LayersArgs::default()
        }));
        assert!(bad(LayersArgs {
            latencies_ms: vec![1.0],
            ..LayersArgs::default()
        }));
        assert!(bad(LayersArgs {
            capacities: vec![0],
            ..LayersArgs::default()
        }));
        let analytic_only = run(&LayersArgs {
            capacities: vec![],
            ..LayersArgs::default()
        })
        .expect("valid");
        assert!(analytic_only.simulated.is_none());
        assert!(analytic_only.to_string().contains("99.60 %"));
    }
}
