//! `larder sim <claim>`: the seed's quantitative claims, reproduced by simulation.
//!
//! Each subcommand runs one module of [`larder_sim::claims`] with the seed's scenario as the
//! default and prints its report as markdown tables (the seed's numbers beside ours).
//! `docs/simulations.md` records the output and explains the differences.
//!
//! Every option has a default; out-of-range values are refused by the library with
//! [`larder_sim::claims::InvalidArgs`], which reaches the caller inside the [`anyhow::Error`]
//! (downcast it to report a usage error).

use clap::{Args, Subcommand};
use larder_engine::PolicyKind;
use larder_sim::claims::{layers, policies, ring, stampede};

/// The claims `larder sim` can reproduce.
#[derive(Debug, Subcommand)]
pub enum ClaimCommand {
    /// The seed's 80/20 eviction-policy comparison (LRU 85 %, LFU 88 %, ARC 87 %, FIFO 60 %):
    /// LRU, LFU, ARC, FIFO, S3-FIFO, W-TinyLFU and SIEVE replayed on the 80/20 workload (two
    /// classes and power law) and on a scan-polluted one.
    Policies(PoliciesOpts),
    /// Keys remapped when growing from N to N+1 servers, and load imbalance, under modulo
    /// hashing and consistent hashing with 1 and with V virtual nodes per server.
    Ring(RingOpts),
    /// Aggregate hit ratio of browser → CDN → application → DB query cache: the seed's
    /// arithmetic, and a simulated stream through stacked caches.
    Layers(LayersOpts),
    /// A hot key expiring at 1,000 requests/s: database queries with no protection, a lock
    /// (single flight), and probabilistic early expiration (XFetch).
    Stampede(StampedeOpts),
}

/// Options of `larder sim policies`.
#[derive(Debug, Args)]
pub struct PoliciesOpts {
    /// Distinct keys (the scan workload's hot set).
    #[arg(long, default_value_t = policies::PoliciesArgs::default().keys)]
    pub keys: u64,
    /// Requests per workload.
    #[arg(long, default_value_t = policies::PoliciesArgs::default().requests)]
    pub requests: usize,
    /// Cache sizes in entries, comma-separated.
    #[arg(
        long = "capacity",
        value_delimiter = ',',
        default_values_t = policies::PoliciesArgs::default().capacities
    )]
    pub capacities: Vec<u64>,
    /// Zipf exponent of the power-law workload [default: the one for which the top 20 % of keys
    /// get 80 % of requests].
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Keys per one-time scan in the scan-polluted workload (0: no scans).
    #[arg(long, default_value_t = policies::PoliciesArgs::default().scan_len)]
    pub scan_len: usize,
    /// Hot requests between two scans.
    #[arg(long, default_value_t = policies::PoliciesArgs::default().scan_every)]
    pub scan_every: usize,
    /// Policies to replay, comma-separated engine policy names (lru, fifo, lfu, random, arc,
    /// sieve, wtinylfu, s3fifo, ...).
    #[arg(
        long = "policy",
        value_delimiter = ',',
        default_values_t = policies::DEFAULT_POLICIES
    )]
    pub policies: Vec<PolicyKind>,
    /// Seed of the workload generators.
    #[arg(long, default_value_t = policies::PoliciesArgs::default().seed)]
    pub seed: u64,
}

/// Options of `larder sim ring`.
#[derive(Debug, Args)]
pub struct RingOpts {
    /// Smallest cluster size N (each N grows to N+1).
    #[arg(long, default_value_t = ring::RingArgs::default().from)]
    pub from: usize,
    /// Largest cluster size N.
    #[arg(long, default_value_t = ring::RingArgs::default().to)]
    pub to: usize,
    /// Virtual nodes per server for the third scheme (the seed recommends 100-200).
    #[arg(long, default_value_t = ring::RingArgs::default().vnodes)]
    pub vnodes: usize,
    /// Synthetic keys placed.
    #[arg(long, default_value_t = ring::RingArgs::default().keys)]
    pub keys: usize,
    /// Independent rings (hash seeds) averaged per N.
    #[arg(long, default_value_t = ring::RingArgs::default().trials)]
    pub trials: usize,
    /// Hash seed of the first trial.
    #[arg(long, default_value_t = ring::RingArgs::default().seed)]
    pub seed: u64,
}

/// Options of `larder sim layers`.
#[derive(Debug, Args)]
pub struct LayersOpts {
    /// Per-layer hit ratios (0-1), top first, comma-separated.
    #[arg(
        long = "hit-ratios",
        value_delimiter = ',',
        default_values_t = layers::SEED_HIT_RATIOS
    )]
    pub hit_ratios: Vec<f64>,
    /// Latency in ms of a hit at each layer, then of the database, comma-separated.
    #[arg(
        long = "latencies",
        value_delimiter = ',',
        default_values_t = layers::SEED_LATENCIES_MS
    )]
    pub latencies_ms: Vec<f64>,
    /// Sizes in entries of the simulated layers, top first, comma-separated.
    #[arg(
        long = "capacities",
        value_delimiter = ',',
        default_values_t = layers::LayersArgs::default().capacities
    )]
    pub capacities: Vec<u64>,
    /// Skip the simulation (analytic part only).
    #[arg(long)]
    pub no_simulation: bool,
    /// Keys of the simulated Zipf stream.
    #[arg(long, default_value_t = layers::LayersArgs::default().keys)]
    pub keys: u64,
    /// Zipf exponent of the simulated stream.
    #[arg(long, default_value_t = layers::LayersArgs::default().alpha)]
    pub alpha: f64,
    /// Requests simulated.
    #[arg(long, default_value_t = layers::LayersArgs::default().requests)]
    pub requests: usize,
    /// Eviction policy of every simulated layer.
    #[arg(long, default_value_t = layers::LayersArgs::default().policy)]
    pub policy: PolicyKind,
    /// Seed of the workload generator.
    #[arg(long, default_value_t = layers::LayersArgs::default().seed)]
    pub seed: u64,
}

/// Options of `larder sim stampede`.
#[derive(Debug, Args)]
pub struct StampedeOpts {
    /// Requests per second for the hot key.
    #[arg(long, default_value_t = stampede::StampedeArgs::default().rate_per_s)]
    pub rate: f64,
    /// Time to live of the value, in ms.
    #[arg(long = "ttl-ms", default_value_t = stampede::StampedeArgs::default().ttl_ms)]
    pub ttl_ms: u64,
    /// Time a recompute (database query) takes, δ, in ms.
    #[arg(long = "recompute-ms", default_value_t = stampede::StampedeArgs::default().recompute_ms)]
    pub recompute_ms: u64,
    /// XFetch's β (above 1 refreshes earlier).
    #[arg(long, default_value_t = stampede::StampedeArgs::default().beta)]
    pub beta: f64,
    /// Simulated time, in seconds.
    #[arg(long = "duration-s", default_value_t = stampede::StampedeArgs::default().duration_s)]
    pub duration_s: u64,
    /// Seconds before expiry shown in the timeline.
    #[arg(long = "before-s", default_value_t = stampede::StampedeArgs::default().before_s)]
    pub before_s: u64,
    /// Seconds from expiry on shown in the timeline.
    #[arg(long = "after-s", default_value_t = stampede::StampedeArgs::default().after_s)]
    pub after_s: u64,
    /// Seed of XFetch's random draws.
    #[arg(long, default_value_t = stampede::StampedeArgs::default().seed)]
    pub seed: u64,
}

/// Runs a claim and prints its report on stdout.
///
/// # Errors
///
/// The claim's [`larder_sim::claims::InvalidArgs`] when an option is out of range.
pub fn run(cmd: ClaimCommand) -> anyhow::Result<()> {
    let report = match cmd {
        ClaimCommand::Policies(o) => policies::run(&policies::PoliciesArgs {
            keys: o.keys,
            requests: o.requests,
            capacities: o.capacities,
            zipf_alpha: o.alpha,
            scan_len: o.scan_len,
            scan_every: o.scan_every,
            policies: o.policies,
            seed: o.seed,
        })?
        .to_string(),
        ClaimCommand::Ring(o) => ring::run(&ring::RingArgs {
            from: o.from,
            to: o.to,
            vnodes: o.vnodes,
            keys: o.keys,
            trials: o.trials,
            seed: o.seed,
        })?
        .to_string(),
        ClaimCommand::Layers(o) => layers::run(&layers::LayersArgs {
            hit_ratios: o.hit_ratios,
            latencies_ms: o.latencies_ms,
            capacities: if o.no_simulation {
                Vec::new()
            } else {
                o.capacities
            },
            keys: o.keys,
            alpha: o.alpha,
            requests: o.requests,
            policy: o.policy,
            seed: o.seed,
        })?
        .to_string(),
        ClaimCommand::Stampede(o) => stampede::run(&stampede::StampedeArgs {
            rate_per_s: o.rate,
            ttl_ms: o.ttl_ms,
            recompute_ms: o.recompute_ms,
            beta: o.beta,
            duration_s: o.duration_s,
            before_s: o.before_s,
            after_s: o.after_s,
            seed: o.seed,
        })?
        .to_string(),
    };
    print!("{report}");
    Ok(())
}
