//! Single flight: at most one load per key in flight; everyone else waits for its outcome.
//!
//! [`FlightGroup::join`] makes the first caller for a key the *leader* and every later caller a
//! *follower* of the same [`Flight`]. The leader loads and calls [`Leader::complete`]; followers
//! block in [`Flight::wait`] until then, for at most their timeout. A failed load wakes the
//! followers with the same error (shared through an `Arc`), and a leader that unwinds or is
//! dropped without completing wakes them with [`FlightError::Abandoned`], so nobody waits forever.
//! The flight leaves the group when it completes, so the next miss starts a fresh load.
//!
//! Waiting uses a condition variable, never polling. The primitives come from `crate::sync`, which
//! are loom's under `--cfg loom`: `tests/loom_flight.rs` model-checks these interleavings.

use crate::sync::{Arc, Condvar, Mutex};
use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::time::Duration;

/// A load error shared between the leader and its followers, type-erased.
///
/// Always a `std::sync::Arc` (even under `--cfg loom`): it only carries a value, and loom's `Arc`
/// cannot hold an unsized `dyn Any`.
pub type SharedError = std::sync::Arc<dyn Any + Send + Sync>;

/// Why a follower got no value.
#[derive(Clone)]
pub enum FlightError {
    /// The leader's load failed with this error.
    Failed(SharedError),
    /// The leader went away (panicked or was dropped) without an outcome.
    Abandoned,
    /// The wait exceeded the follower's bound.
    TimedOut,
}

impl fmt::Debug for FlightError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlightError::Failed(_) => f.write_str("Failed(..)"),
            FlightError::Abandoned => f.write_str("Abandoned"),
            FlightError::TimedOut => f.write_str("TimedOut"),
        }
    }
}

type Outcome<V> = Result<V, FlightError>;

/// One load in progress.
pub struct Flight<V> {
    outcome: Mutex<Option<Outcome<V>>>,
    ready: Condvar,
}

impl<V> fmt::Debug for Flight<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Flight")
    }
}

impl<V: Clone> Flight<V> {
    fn new() -> Self {
        Self {
            outcome: Mutex::new(None),
            ready: Condvar::new(),
        }
    }

    fn publish(&self, outcome: Outcome<V>) {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(outcome);
        }
        drop(slot);
        self.ready.notify_all();
    }

    /// Waits for the leader's outcome, for at most `timeout` (`None`: no bound, for tests).
    pub fn wait(&self, timeout: Option<Duration>) -> Outcome<V> {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        #[cfg(not(loom))]
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            if let Some(outcome) = slot.as_ref() {
                return outcome.clone();
            }
            match timeout {
                None => slot = self.ready.wait(slot).unwrap_or_else(|p| p.into_inner()),
                #[cfg(not(loom))]
                Some(_) => {
                    let now = std::time::Instant::now();
                    let Some(left) = deadline
                        .and_then(|d| d.checked_duration_since(now))
                        .filter(|d| !d.is_zero())
                    else {
                        return Err(FlightError::TimedOut);
                    };
                    slot = self
                        .ready
                        .wait_timeout(slot, left)
                        .map(|(guard, _)| guard)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
                #[cfg(loom)]
                Some(_) => slot = self.ready.wait(slot).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}

/// The role [`FlightGroup::join`] gave a caller.
pub enum Role<'g, K: Hash + Eq + Clone, V: Clone> {
    /// Load, then [`Leader::complete`].
    Leader(Leader<'g, K, V>),
    /// Wait on the flight.
    Follower(Arc<Flight<V>>),
}

/// The one caller that loads. Dropping it without completing wakes followers with
/// [`FlightError::Abandoned`].
pub struct Leader<'g, K: Hash + Eq + Clone, V: Clone> {
    group: &'g FlightGroup<K, V>,
    key: Option<K>,
    flight: Arc<Flight<V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Leader<'_, K, V> {
    /// Publishes the outcome to every follower and closes the flight.
    pub fn complete(mut self, outcome: Result<V, SharedError>) {
        self.finish(outcome.map_err(FlightError::Failed));
    }

    fn finish(&mut self, outcome: Outcome<V>) {
        if let Some(key) = self.key.take() {
            let mut map = self.group.flights.lock().unwrap_or_else(|p| p.into_inner());
            map.remove(&key);
            drop(map);
            self.flight.publish(outcome);
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        self.finish(Err(FlightError::Abandoned));
    }
}

/// Loads in flight, by key. Bounded by the number of distinct keys being loaded at once.
pub struct FlightGroup<K, V> {
    flights: Mutex<HashMap<K, Arc<Flight<V>>>>,
}

impl<K, V> fmt::Debug for FlightGroup<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlightGroup")
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Default for FlightGroup<K, V> {
    fn default() -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> FlightGroup<K, V> {
    /// Joins the flight for `key`, starting it if there is none.
    pub fn join(&self, key: &K) -> Role<'_, K, V> {
        let mut map = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(flight) = map.get(key) {
            return Role::Follower(Arc::clone(flight));
        }
        let flight = Arc::new(Flight::new());
        map.insert(key.clone(), Arc::clone(&flight));
        Role::Leader(Leader {
            group: self,
            key: Some(key.clone()),
            flight,
        })
    }

    /// Loads in flight now.
    pub fn in_flight(&self) -> usize {
        self.flights.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn followers_get_the_leaders_value_and_error() {
        let group: FlightGroup<u32, String> = FlightGroup::default();
        let Role::Leader(leader) = group.join(&1) else {
            panic!("first caller leads")
        };
        let Role::Follower(flight) = group.join(&1) else {
            panic!("second caller follows")
        };
        leader.complete(Ok("v".into()));
        assert_eq!(flight.wait(None).unwrap(), "v");
        assert_eq!(group.in_flight(), 0);

        let Role::Leader(leader) = group.join(&1) else {
            panic!("a finished flight is gone")
        };
        let Role::Follower(flight) = group.join(&1) else {
            panic!()
        };
        leader.complete(Err(Arc::new("db down")));
        match flight.wait(None) {
            Err(FlightError::Failed(e)) => assert_eq!(e.downcast_ref::<&str>(), Some(&"db down")),
            other => panic!("expected the leader's error, got {other:?}"),
        }
    }

    #[test]
    fn dropped_leader_abandons_and_waits_are_bounded() {
        let group: FlightGroup<u32, u32> = FlightGroup::default();
        let leader = group.join(&7);
        let Role::Follower(flight) = group.join(&7) else {
            panic!()
        };
        assert!(matches!(
            flight.wait(Some(Duration::from_millis(5))),
            Err(FlightError::TimedOut)
        ));
        drop(leader);
        assert!(matches!(flight.wait(None), Err(FlightError::Abandoned)));
    }

    #[test]
    fn one_load_per_key_across_threads() {
        let group: std::sync::Arc<FlightGroup<u32, u32>> = std::sync::Arc::default();
        let loads = std::sync::Arc::new(AtomicUsize::new(0));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (group, loads, barrier) = (group.clone(), loads.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    match group.join(&42) {
                        Role::Leader(leader) => {
                            loads.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            leader.complete(Ok(99));
                            99
                        }
                        Role::Follower(f) => f.wait(Some(Duration::from_secs(10))).unwrap(),
                    }
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 99);
        }
        // Threads that arrive after the flight closed may lead a second load; with the barrier
        // and a 20 ms load, all eight overlap.
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
