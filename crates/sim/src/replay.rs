//! Replaying a trace through the engine's own single-threaded [`Shard`].
//!
//! The simulator does not re-implement policies: it drives the very `Shard` and policy code the
//! concurrent store runs, with a fixed-seed hasher so that every run is reproducible. A request is
//! a lookup; a miss inserts the key (demand fill), as in the published simulators (libCacheSim,
//! Caffeine's simulator, the ARC paper). With `sized`, the budget is in bytes and each entry weighs
//! its request's size; an object larger than the whole budget is never admitted.

use crate::trace::Request;
use larder_engine::{FixedState, ManualClock, PolicyKind, Shard, ShardConfig};
use std::sync::Arc;

/// What one (policy, capacity) replay measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayResult {
    /// The policy replayed.
    pub policy: PolicyKind,
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
}

/// Replays `requests` through a shard of `capacity` using `policy`.
pub fn replay(
    requests: &[Request],
    policy: PolicyKind,
    capacity: u64,
    sized: bool,
) -> ReplayResult {
    let clock = Arc::new(ManualClock::new(0));
    let mut config = ShardConfig::<u64, u32>::entries(capacity)
        .with_policy(policy)
        .with_clock(clock);
    if sized {
        config = config.with_weigher(Arc::new(|_: &u64, size: &u32| *size));
    }
    let mut shard = Shard::with_hasher(config, FixedState::with_seed(0x001a_4de4));
    let mut result = ReplayResult {
        policy,
        capacity,
        sized,
        requests: 0,
        hits: 0,
        bytes: 0,
        byte_hits: 0,
    };
    for request in requests {
        let size = if sized { request.size.max(1) } else { 1 };
        let hash = shard.hash(&request.key);
        result.requests += 1;
        result.bytes += u64::from(request.size);
        if shard.get_hashed(hash, &request.key).is_some() {
            result.hits += 1;
            result.byte_hits += u64::from(request.size);
        } else {
            // An object heavier than the budget is not admitted: that is a miss and nothing more.
            let _ = shard.insert_hashed(hash, request.key, size, larder_engine::NEVER);
        }
    }
    result
}
