//! Replaying a trace through the engine's own single-threaded [`Shard`], or through Belady's
//! optimum ([`crate::opt`]).
//!
//! The simulator does not re-implement policies: it drives the very `Shard` and policy code the
//! concurrent store runs, with a fixed-seed hasher so that every run is reproducible. A request is
//! a lookup; a miss inserts the key (demand fill), as in the published simulators (libCacheSim,
//! Caffeine's simulator, the ARC paper). With `sized`, the budget is in bytes and each entry weighs
//! its request's size; an object larger than the whole budget is never admitted.
//!
//! [`simulate`] runs any [`SimPolicy`]: an engine policy through [`replay`], or OPT through
//! [`opt::belady`](crate::opt::belady).
//!
//! ```
//! use larder_sim::replay::{SimPolicy, simulate};
//! use larder_sim::Request;
//!
//! let requests: Vec<Request> = [1, 2, 3, 1, 2, 3]
//!     .into_iter()
//!     .map(|key| Request { key, size: 1 })
//!     .collect();
//! let lru = simulate(&requests, "lru".parse()?, 2, false);
//! let opt = simulate(&requests, SimPolicy::Opt, 2, false);
//! assert_eq!((lru.hits, opt.hits), (0, 2));
//! # Ok::<(), larder_sim::replay::UnknownSimPolicy>(())
//! ```

use crate::trace::Request;
use larder_engine::{FixedState, ManualClock, PolicyKind, Shard, ShardConfig};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// How many requests [`replay_observed`] replays between two progress reports.
pub const PROGRESS_CHUNK: usize = 1 << 16;

/// A policy the simulator can replay: one of the engine's, or Belady's optimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimPolicy {
    /// An engine policy, replayed through a [`Shard`].
    Engine(PolicyKind),
    /// Belady's OPT (MIN), replayed by [`crate::opt`]; it needs the whole trace in advance.
    Opt,
}

impl SimPolicy {
    /// Every policy: the engine's ([`PolicyKind::ALL`]), then OPT.
    pub const ALL: [SimPolicy; PolicyKind::ALL.len() + 1] = {
        let mut all = [SimPolicy::Opt; PolicyKind::ALL.len() + 1];
        let mut i = 0;
        while i < PolicyKind::ALL.len() {
            all[i] = SimPolicy::Engine(PolicyKind::ALL[i]);
            i += 1;
        }
        all
    };

    /// The name, as accepted by [`FromStr`]: an engine policy's [`PolicyKind::name`], or `opt`.
    pub fn name(self) -> &'static str {
        match self {
            SimPolicy::Engine(kind) => kind.name(),
            SimPolicy::Opt => "opt",
        }
    }

    /// Whether this is Belady's optimum.
    pub fn is_opt(self) -> bool {
        self == SimPolicy::Opt
    }
}

impl From<PolicyKind> for SimPolicy {
    fn from(kind: PolicyKind) -> Self {
        SimPolicy::Engine(kind)
    }
}

impl fmt::Display for SimPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SimPolicy {
    type Err = UnknownSimPolicy;

    /// Parses `opt` or `belady` (OPT), or any name [`PolicyKind`] accepts; case is ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "opt" || lower == "belady" {
            return Ok(SimPolicy::Opt);
        }
        lower
            .parse::<PolicyKind>()
            .map(SimPolicy::Engine)
            .map_err(|_| UnknownSimPolicy(s.to_owned()))
    }
}

impl serde::Serialize for SimPolicy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// A policy name that is neither an engine policy nor `opt`/`belady`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSimPolicy(pub String);

impl fmt::Display for UnknownSimPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = SimPolicy::ALL.iter().map(|p| p.name()).collect();
        write!(
            f,
            "unknown policy '{}' (expected one of: {}; `belady` is another name for opt)",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownSimPolicy {}

/// What one (policy, capacity) replay measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayResult {
    /// The policy replayed.
    pub policy: SimPolicy,
    /// The budget: entries, or bytes when `sized`.
    pub capacity: u64,
    /// Whether the budget counted bytes.
    pub sized: bool,
    /// Requests replayed.
    pub requests: u64,
    /// Requests that hit.
    pub hits: u64,
    /// Bytes requested.
    pub bytes: u64,
    /// Bytes served from the cache.
    pub byte_hits: u64,
}

impl ReplayResult {
    /// A result with nothing replayed yet.
    pub fn empty(policy: SimPolicy, capacity: u64, sized: bool) -> Self {
        Self {
            policy,
            capacity,
            sized,
            requests: 0,
            hits: 0,
            bytes: 0,
            byte_hits: 0,
        }
    }

    /// Requests that missed.
    pub fn misses(&self) -> u64 {
        self.requests - self.hits
    }

    /// Hit ratio in percent.
    pub fn hit_percent(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            100.0 * self.hits as f64 / self.requests as f64
        }
    }

    /// Miss ratio in percent (`100 - hit_percent`, 0 for an empty trace).
    pub fn miss_percent(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            100.0 * self.misses() as f64 / self.requests as f64
        }
    }

    /// Byte hit ratio in percent: bytes served from the cache over bytes requested.
    pub fn byte_hit_percent(&self) -> f64 {
        if self.bytes == 0 {
            0.0
        } else {
            100.0 * self.byte_hits as f64 / self.bytes as f64
        }
    }
}

/// Replays `requests` through a shard of `capacity` using `policy`.
pub fn replay(
    requests: &[Request],
    policy: PolicyKind,
    capacity: u64,
    sized: bool,
) -> ReplayResult {
    replay_observed(requests, policy, capacity, sized, &mut |_| {})
}

/// [`replay`], calling `progress` with the number of requests replayed since the previous call,
/// every [`PROGRESS_CHUNK`] requests and at the end.
pub fn replay_observed(
    requests: &[Request],
    policy: PolicyKind,
    capacity: u64,
    sized: bool,
    progress: &mut dyn FnMut(u64),
) -> ReplayResult {
    let clock = Arc::new(ManualClock::new(0));
    let mut config = ShardConfig::<u64, u32>::entries(capacity)
        .with_policy(policy)
        .with_clock(clock);
    if sized {
        config = config.with_weigher(Arc::new(|_: &u64, size: &u32| *size));
    }
    let mut shard = Shard::with_hasher(config, FixedState::with_seed(0x001a_4de4));
    let mut result = ReplayResult::empty(SimPolicy::Engine(policy), capacity, sized);
    for chunk in requests.chunks(PROGRESS_CHUNK) {
        for request in chunk {
            let size = if sized { request.size.max(1) } else { 1 };
            let hash = shard.hash(&request.key);
            result.bytes += u64::from(request.size);
            if shard.get_hashed(hash, &request.key).is_some() {
                result.hits += 1;
                result.byte_hits += u64::from(request.size);
            } else {
                // An object heavier than the budget is not admitted: a miss and nothing more.
                let _ = shard.insert_hashed(hash, request.key, size, larder_engine::NEVER);
            }
        }
        result.requests += chunk.len() as u64;
        progress(chunk.len() as u64);
    }
    result
}

/// Replays `requests` with any policy: an engine policy through [`replay`], OPT through
/// [`opt::belady`](crate::opt::belady).
pub fn simulate(
    requests: &[Request],
    policy: SimPolicy,
    capacity: u64,
    sized: bool,
) -> ReplayResult {
    match policy {
        SimPolicy::Engine(kind) => replay(requests, kind, capacity, sized),
        SimPolicy::Opt => crate::opt::belady(requests, capacity, sized),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for policy in SimPolicy::ALL {
            assert_eq!(policy.name().parse::<SimPolicy>().unwrap(), policy);
            assert_eq!(policy.to_string(), policy.name());
        }
        assert_eq!("Belady".parse::<SimPolicy>().unwrap(), SimPolicy::Opt);
        assert_eq!(
            " S3-FIFO ".parse::<SimPolicy>().unwrap(),
            SimPolicy::Engine(PolicyKind::S3Fifo)
        );
        assert!(SimPolicy::Opt.is_opt());
        assert!(!SimPolicy::from(PolicyKind::Lru).is_opt());
        let err = "clock".parse::<SimPolicy>().unwrap_err().to_string();
        assert!(err.contains("unknown policy 'clock'"), "{err}");
        assert!(err.contains("lru, fifo") && err.contains("opt"), "{err}");
    }

    #[test]
    fn ratios() {
        let requests: Vec<Request> = [(1, 10), (1, 10), (2, 30)]
            .into_iter()
            .map(|(key, size)| Request { key, size })
            .collect();
        let result = simulate(&requests, SimPolicy::Engine(PolicyKind::Lru), 5, false);
        assert_eq!((result.requests, result.hits, result.misses()), (3, 1, 2));
        assert!((result.hit_percent() - 100.0 / 3.0).abs() < 1e-9);
        assert!((result.miss_percent() - 200.0 / 3.0).abs() < 1e-9);
        assert!((result.byte_hit_percent() - 20.0).abs() < 1e-9);
        let empty = ReplayResult::empty(SimPolicy::Opt, 1, false);
        assert_eq!(
            (
                empty.hit_percent(),
                empty.miss_percent(),
                empty.byte_hit_percent()
            ),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn engine_policies_never_beat_opt() {
        let mut state = 99u64;
        let requests: Vec<Request> = (0..20_000)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                // Skewed keys: a small hot set and a long tail.
                let r = state >> 33;
                let key = if r % 3 == 0 { r % 50 } else { r % 5_000 };
                Request { key, size: 1 }
            })
            .collect();
        for capacity in [10, 100, 1000] {
            let opt = simulate(&requests, SimPolicy::Opt, capacity, false).hits;
            for kind in PolicyKind::ALL {
                let hits = simulate(&requests, kind.into(), capacity, false).hits;
                assert!(hits <= opt, "{kind} at {capacity}: {hits} > OPT {opt}");
            }
        }
    }
}
