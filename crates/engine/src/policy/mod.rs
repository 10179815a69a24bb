//! Eviction policies.
//!
//! A policy decides which resident entry leaves when a shard is over its budget. It never sees
//! keys or values: it works on [`Slot`]s, the stable indices of entries in their shard, and keeps
//! its own per-slot metadata (links, counters, access bits) in arrays indexed by slot. Hashes and
//! weights of resident slots are available through [`Residents`], so ghost lists (ARC, S3-FIFO)
//! and admission filters (TinyLFU) need no copy of them.
//!
//! # The contract
//!
//! The shard calls the policy as follows, and every implementation must uphold the rules after
//! each call:
//!
//! 1. A new key is announced with [`Policy::on_admit`] (its hash and weight) *before* the shard
//!    makes room for it; then the shard calls [`Policy::victim`] until the new entry fits, then
//!    [`Policy::on_insert`] exactly once when its slot becomes resident — the order the published
//!    simulators use, so the newcomer is never its own victim. The slot is then *resident* until the
//!    shard calls [`Policy::on_remove`] for it or the policy returns it from [`Policy::victim`].
//!    Replacing the value of a resident key is not an admission: it is `on_reweigh` (if the weight
//!    changed) and `on_access`, followed by victims if the shard no longer fits.
//! 2. Every hit bumps the entry's *access counter*, a saturating 0–[`ACCESS_MAX`] count kept in the
//!    entry itself (no extra cache miss, no extra memory) with a relaxed atomic store, under the
//!    shard's shared lock. Counter-based policies (S3-FIFO, SIEVE) need nothing more: they read and
//!    lower the counter through [`Residents`] when choosing victims. A policy that must see each hit
//!    in order (exact LRU, LFU, ARC, W-TinyLFU) says so with [`Policy::exclusive_hits`]; it then
//!    gets [`Policy::on_access`] for every hit the single-threaded shard serves, while the
//!    concurrent store buffers hits and replays them under the exclusive lock, dropping them when
//!    the bounded buffer is full (lossy, as in Caffeine). `on_access` and [`Policy::on_reweigh`] are
//!    called only for resident slots.
//! 3. [`Policy::victim`] returns a resident slot and forgets it, as if `on_remove` had been called;
//!    it returns `None` only when no slot is resident.
//! 4. [`Policy::on_miss`] reports a lookup of a key that was not resident (frequency sketches and
//!    ghost lists may learn from it); it never changes which slots are resident.
//! 5. The policy's memory is bounded by the number of slots plus a bounded history (ghosts).
//!
//! The shard, not the policy, owns the budget: it calls `victim` until the weighted size fits.

mod arc;
mod ghost;
mod lfu;
pub mod list;
mod queue;
mod random;
mod rings;
mod s3fifo;
mod sieve;
mod sketch;
mod wtinylfu;

pub use arc::Arc;
pub use lfu::Lfu;
pub use queue::{Fifo, Lru, QueuePolicy};
pub use random::Random;
pub use s3fifo::S3Fifo;
pub use sieve::Sieve;
pub use sketch::FrequencySketch;
pub use wtinylfu::{WTinyLfu, WindowAdaptation};

use std::fmt;
use std::str::FromStr;

/// The index of an entry's slot in its shard, stable for as long as the entry is resident.
pub type Slot = u32;

/// The highest value of an entry's access counter.
pub const ACCESS_MAX: u8 = 3;

/// What a policy may ask the shard about resident slots.
pub trait Residents {
    /// The key hash of a resident slot.
    fn hash(&self, slot: Slot) -> u64;
    /// The weight of a resident slot.
    fn weight(&self, slot: Slot) -> u32;
    /// The slot's access counter: hits since insertion or since the policy last set it (0–3).
    fn access(&self, slot: Slot) -> u8;
    /// Sets the slot's access counter (e.g. a CLOCK hand clearing or decrementing it).
    fn set_access(&self, slot: Slot, value: u8);
}

/// An eviction policy over slots. See the [module documentation](self) for the contract.
pub trait Policy: Send + Sync {
    /// The policy's name as used in configuration (`lru`, `s3fifo`, ...).
    fn name(&self) -> &'static str;
    /// Tells the policy the shard's capacity in weight units (called at creation and on resize).
    fn set_capacity(&mut self, capacity: u64);
    /// A new key is about to be stored: called before the victims that make room for it.
    fn on_admit(&mut self, _hash: u64, _weight: u32) {}
    /// `slot` became resident, with the key's hash and the entry's weight.
    fn on_insert(&mut self, slot: Slot, hash: u64, weight: u32);
    /// A resident slot, whose key has this hash, was read (exclusive access: record it exactly).
    fn on_access(&mut self, slot: Slot, hash: u64);
    /// Whether every hit must reach [`Policy::on_access`] (in order, under exclusive access)
    /// rather than only the entry's access counter.
    fn exclusive_hits(&self) -> bool;
    /// A lookup missed for a key with this hash.
    fn on_miss(&mut self, _hash: u64) {}
    /// A resident slot's value was replaced in place and now weighs `new` instead of `old`.
    fn on_reweigh(&mut self, slot: Slot, old: u32, new: u32);
    /// A resident slot left for a reason other than eviction (removal, expiry, replacement).
    fn on_remove(&mut self, slot: Slot, weight: u32);
    /// Chooses a resident slot to evict and forgets it.
    fn victim<R: Residents + ?Sized>(&mut self, residents: &R) -> Option<Slot>;
    /// Forgets every slot and all history.
    fn clear(&mut self);
    /// Pre-allocates per-slot metadata for `slots` slots.
    fn reserve(&mut self, _slots: usize) {}
    /// Heap bytes held by the policy's metadata (for memory figures).
    fn heap_bytes(&self) -> usize;
}

/// The policies Larder ships, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PolicyKind {
    /// Exact least-recently-used.
    Lru,
    /// First in, first out.
    Fifo,
    /// Least-frequently-used with aging (counters halve periodically), LRU among equals.
    Lfu,
    /// Uniformly random victim, as Redis `allkeys-random`.
    Random,
    /// ARC (Megiddo & Modha 2003): recency and frequency lists with ghosts and an adaptive split.
    Arc,
    /// SIEVE (NSDI 2024): one FIFO queue, visited bits and a moving hand.
    Sieve,
    /// W-TinyLFU with a hill-climbing window (Caffeine's policy).
    WTinyLfu,
    /// W-TinyLFU whose window follows ghosts of rejected candidates and displaced victims.
    WTinyLfuGhost,
    /// S3-FIFO (SOSP 2023): small and main FIFO queues plus a ghost queue, the small queue at a
    /// fixed 10 % of the capacity.
    S3Fifo,
    /// S3-FIFO whose small queue's share adapts from recent returns to either queue's ghost
    /// (see [`S3Fifo::adaptive`]). The default: it reaches every figure of the reference traces,
    /// and a hit only sets an access counter, so reads never take an exclusive lock.
    #[default]
    S3FifoAdaptive,
}

impl PolicyKind {
    /// Every policy, in a stable order.
    pub const ALL: [PolicyKind; 10] = [
        PolicyKind::Lru,
        PolicyKind::Fifo,
        PolicyKind::Lfu,
        PolicyKind::Random,
        PolicyKind::Arc,
        PolicyKind::Sieve,
        PolicyKind::WTinyLfu,
        PolicyKind::WTinyLfuGhost,
        PolicyKind::S3Fifo,
        PolicyKind::S3FifoAdaptive,
    ];

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Lru => "lru",
            PolicyKind::Fifo => "fifo",
            PolicyKind::Lfu => "lfu",
            PolicyKind::Random => "random",
            PolicyKind::Arc => "arc",
            PolicyKind::Sieve => "sieve",
            PolicyKind::WTinyLfu => "wtinylfu",
            PolicyKind::WTinyLfuGhost => "wtinylfu-ghost",
            PolicyKind::S3Fifo => "s3fifo",
            PolicyKind::S3FifoAdaptive => "s3fifo-adaptive",
        }
    }

    /// A new policy of this kind for a shard of `capacity` weight units. `seed` feeds the
    /// randomised policies, so that simulations are reproducible.
    pub fn build(self, capacity: u64, seed: u64) -> AnyPolicy {
        match self {
            PolicyKind::Lru => AnyPolicy::Lru(Lru::default()),
            PolicyKind::Fifo => AnyPolicy::Fifo(Fifo::default()),
            PolicyKind::Lfu => AnyPolicy::Lfu(Lfu::default()),
            PolicyKind::Random => AnyPolicy::Random(Random::new(seed)),
            PolicyKind::Arc => AnyPolicy::Arc(Arc::new(capacity)),
            PolicyKind::Sieve => AnyPolicy::Sieve(Sieve::default()),
            PolicyKind::WTinyLfu => {
                AnyPolicy::WTinyLfu(WTinyLfu::new(capacity, WindowAdaptation::HillClimbing))
            }
            PolicyKind::WTinyLfuGhost => {
                AnyPolicy::WTinyLfu(WTinyLfu::new(capacity, WindowAdaptation::Ghosts))
            }
            PolicyKind::S3Fifo => AnyPolicy::S3Fifo(S3Fifo::new(capacity)),
            PolicyKind::S3FifoAdaptive => AnyPolicy::S3Fifo(S3Fifo::adaptive(capacity)),
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown policy name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPolicy(pub String);

impl fmt::Display for UnknownPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = PolicyKind::ALL.iter().map(|k| k.name()).collect();
        write!(
            f,
            "unknown eviction policy '{}' (expected one of: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownPolicy {}

impl FromStr for PolicyKind {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        PolicyKind::ALL
            .into_iter()
            .find(|k| {
                k.name() == lower
                    || (lower == "s3-fifo" && *k == PolicyKind::S3Fifo)
                    || (lower == "w-tinylfu" && *k == PolicyKind::WTinyLfu)
            })
            .ok_or_else(|| UnknownPolicy(s.to_owned()))
    }
}

/// Any shipped policy, chosen at run time and dispatched statically.
#[derive(Debug)]
pub enum AnyPolicy {
    /// See [`Lru`].
    Lru(Lru),
    /// See [`Fifo`].
    Fifo(Fifo),
    /// See [`Lfu`].
    Lfu(Lfu),
    /// See [`Random`].
    Random(Random),
    /// See [`Arc`].
    Arc(Arc),
    /// See [`Sieve`].
    Sieve(Sieve),
    /// See [`WTinyLfu`].
    WTinyLfu(WTinyLfu),
    /// See [`S3Fifo`].
    S3Fifo(S3Fifo),
}

macro_rules! dispatch {
    ($self:expr, $p:ident => $e:expr) => {
        match $self {
            AnyPolicy::Lru($p) => $e,
            AnyPolicy::Fifo($p) => $e,
            AnyPolicy::Lfu($p) => $e,
            AnyPolicy::Random($p) => $e,
            AnyPolicy::Arc($p) => $e,
            AnyPolicy::Sieve($p) => $e,
            AnyPolicy::WTinyLfu($p) => $e,
            AnyPolicy::S3Fifo($p) => $e,
        }
    };
}

impl AnyPolicy {
    /// Which kind this is.
    pub fn kind(&self) -> PolicyKind {
        match self {
            AnyPolicy::Lru(_) => PolicyKind::Lru,
            AnyPolicy::Fifo(_) => PolicyKind::Fifo,
            AnyPolicy::Lfu(_) => PolicyKind::Lfu,
            AnyPolicy::Random(_) => PolicyKind::Random,
            AnyPolicy::Arc(_) => PolicyKind::Arc,
            AnyPolicy::Sieve(_) => PolicyKind::Sieve,
            AnyPolicy::WTinyLfu(p) if p.adaptation() == WindowAdaptation::Ghosts => {
                PolicyKind::WTinyLfuGhost
            }
            AnyPolicy::WTinyLfu(_) => PolicyKind::WTinyLfu,
            AnyPolicy::S3Fifo(p) if p.is_adaptive() => PolicyKind::S3FifoAdaptive,
            AnyPolicy::S3Fifo(_) => PolicyKind::S3Fifo,
        }
    }
}

impl Policy for AnyPolicy {
    fn name(&self) -> &'static str {
        dispatch!(self, p => p.name())
    }
    fn set_capacity(&mut self, capacity: u64) {
        dispatch!(self, p => p.set_capacity(capacity))
    }
    #[inline]
    fn on_admit(&mut self, hash: u64, weight: u32) {
        dispatch!(self, p => p.on_admit(hash, weight))
    }
    #[inline]
    fn on_insert(&mut self, slot: Slot, hash: u64, weight: u32) {
        dispatch!(self, p => p.on_insert(slot, hash, weight))
    }
    #[inline]
    fn on_access(&mut self, slot: Slot, hash: u64) {
        dispatch!(self, p => p.on_access(slot, hash))
    }
    #[inline]
    fn exclusive_hits(&self) -> bool {
        dispatch!(self, p => p.exclusive_hits())
    }
    #[inline]
    fn on_miss(&mut self, hash: u64) {
        dispatch!(self, p => p.on_miss(hash))
    }
    fn on_reweigh(&mut self, slot: Slot, old: u32, new: u32) {
        dispatch!(self, p => p.on_reweigh(slot, old, new))
    }
    #[inline]
    fn on_remove(&mut self, slot: Slot, weight: u32) {
        dispatch!(self, p => p.on_remove(slot, weight))
    }
    #[inline]
    fn victim<R: Residents + ?Sized>(&mut self, residents: &R) -> Option<Slot> {
        dispatch!(self, p => p.victim(residents))
    }
    fn clear(&mut self) {
        dispatch!(self, p => p.clear())
    }
    fn reserve(&mut self, slots: usize) {
        dispatch!(self, p => p.reserve(slots))
    }
    fn heap_bytes(&self) -> usize {
        dispatch!(self, p => p.heap_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in PolicyKind::ALL {
            assert_eq!(kind.name().parse::<PolicyKind>(), Ok(kind));
            assert_eq!(kind.build(10, 1).kind(), kind);
        }
        assert_eq!("S3-FIFO".parse::<PolicyKind>(), Ok(PolicyKind::S3Fifo));
        assert_eq!(PolicyKind::default(), PolicyKind::S3FifoAdaptive);
        assert_eq!(PolicyKind::default().name(), "s3fifo-adaptive");
        let err = "clock".parse::<PolicyKind>().unwrap_err().to_string();
        assert!(err.contains("unknown eviction policy 'clock'"), "{err}");
    }
}
