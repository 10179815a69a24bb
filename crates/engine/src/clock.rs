//! Time, injected.
//!
//! The engine never reads the system clock directly: every deadline check goes through a
//! [`Clock`], so tests drive time with a [`ManualClock`] instead of sleeping. Times are
//! milliseconds on the clock's own scale ([`Timestamp`]); [`SystemClock`] uses milliseconds since
//! the Unix epoch, so absolute deadlines such as Redis `EXPIREAT` map onto it directly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time in milliseconds on a [`Clock`]'s scale.
pub type Timestamp = u64;

/// A source of the current time.
///
/// The engine asks for the time only when it has to decide about an entry that carries a deadline
/// (entries without a TTL never cost a clock read), and once per active-expiry cycle.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in milliseconds.
    fn now(&self) -> Timestamp;
}

/// Wall-clock time: milliseconds since the Unix epoch (a vDSO call, tens of nanoseconds).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock that moves only when told to: for tests and for replaying traces.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `start` milliseconds.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: AtomicU64::new(start),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(by.as_millis() as u64, Ordering::Relaxed);
    }

    /// Sets the clock to `to` (it may go backwards; the engine treats deadlines against whatever
    /// the clock says).
    pub fn set(&self, to: Timestamp) {
        self.now.store(to, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.now.load(Ordering::Relaxed)
    }
}

/// The deadline `ttl` after `now`, saturating instead of overflowing.
pub(crate) fn deadline_after(now: Timestamp, ttl: Duration) -> Timestamp {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    // A TTL that rounds to 0 ms still expires strictly after `now` is reached.
    now.saturating_add(ms.max(1))
}
