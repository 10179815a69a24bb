//! Single flight for both blocking and async callers: at most one load per key in flight.
//!
//! The engine's [`larder_engine::flight`] waits on a condition variable, which would block an
//! async runtime's worker thread. This group lets a load started by a blocking caller be awaited
//! by an async one and the other way round: each flight carries a condition variable for blocking
//! followers and a [`tokio::sync::Notify`] for async ones. The first caller for a key is the
//! *leader*; it loads and completes the flight; a leader dropped without completing (a panic, or
//! an async leader whose future was cancelled) completes it as [`Outcome::Abandoned`], so no
//! follower waits forever, and every wait is bounded by a timeout anyway.
//!
//! The error is type-erased (`Arc<dyn Any>`) so that callers with different error types can share
//! a group; followers downcast it back.

use parking_lot::{Condvar, Mutex};
use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A load error shared between a leader and its followers.
pub(crate) type Shared = Arc<dyn Any + Send + Sync>;

/// What a follower learns.
#[derive(Clone)]
pub(crate) enum Outcome<V> {
    /// The loaded value.
    Value(V),
    /// The leader's load failed.
    Failed(Shared),
    /// The leader went away without an outcome.
    Abandoned,
    /// The follower's wait ran out.
    TimedOut,
}

struct Flight<V> {
    outcome: Mutex<Option<Outcome<V>>>,
    ready: Condvar,
    notify: tokio::sync::Notify,
}

impl<V: Clone> Flight<V> {
    fn publish(&self, outcome: Outcome<V>) {
        let mut slot = self.outcome.lock();
        if slot.is_none() {
            *slot = Some(outcome);
        }
        drop(slot);
        self.ready.notify_all();
        self.notify.notify_waiters();
    }
}

/// A follower's handle on a flight.
pub(crate) struct Follower<V>(Arc<Flight<V>>);

impl<V: Clone> Follower<V> {
    /// Blocks until the leader's outcome, for at most `timeout`.
    pub(crate) fn wait(&self, timeout: Duration) -> Outcome<V> {
        let deadline = Instant::now() + timeout;
        let mut slot = self.0.outcome.lock();
        loop {
            if let Some(outcome) = slot.as_ref() {
                return outcome.clone();
            }
            if self.0.ready.wait_until(&mut slot, deadline).timed_out() {
                return slot.clone().unwrap_or(Outcome::TimedOut);
            }
        }
    }

    /// Awaits the leader's outcome, for at most `timeout`. Holds no lock across `.await`.
    pub(crate) async fn wait_async(&self, timeout: Duration) -> Outcome<V> {
        let wait = async {
            loop {
                let notified = self.0.notify.notified();
                tokio::pin!(notified);
                // Registered before the check, so a publish in between is not missed.
                notified.as_mut().enable();
                if let Some(outcome) = self.0.outcome.lock().clone() {
                    return outcome;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Outcome::TimedOut)
    }
}

/// The caller that loads. Dropping it without [`Leader::complete`] abandons the flight.
pub(crate) struct Leader<'g, K: Hash + Eq + Clone, V: Clone> {
    group: &'g FlightGroup<K, V>,
    key: Option<K>,
    flight: Arc<Flight<V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Leader<'_, K, V> {
    /// Publishes the outcome to every follower and closes the flight.
    pub(crate) fn complete(mut self, outcome: Outcome<V>) {
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome<V>) {
        if let Some(key) = self.key.take() {
            self.group.flights.lock().remove(&key);
            self.flight.publish(outcome);
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        self.finish(Outcome::Abandoned);
    }
}

/// The role [`FlightGroup::join`] gives a caller.
pub(crate) enum Role<'g, K: Hash + Eq + Clone, V: Clone> {
    /// Load, then complete.
    Leader(Leader<'g, K, V>),
    /// Wait for the leader.
    Follower(Follower<V>),
}

/// Loads in flight, by key; holds an entry only while its load runs.
pub(crate) struct FlightGroup<K, V> {
    flights: Mutex<HashMap<K, Arc<Flight<V>>>>,
}

impl<K, V> Default for FlightGroup<K, V> {
    fn default() -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> FlightGroup<K, V> {
    /// Joins the flight for `key`, starting one if there is none.
    pub(crate) fn join(&self, key: &K) -> Role<'_, K, V> {
        let mut map = self.flights.lock();
        if let Some(flight) = map.get(key) {
            return Role::Follower(Follower(Arc::clone(flight)));
        }
        let flight = Arc::new(Flight {
            outcome: Mutex::new(None),
            ready: Condvar::new(),
            notify: tokio::sync::Notify::new(),
        });
        map.insert(key.clone(), Arc::clone(&flight));
        Role::Leader(Leader {
            group: self,
            key: Some(key.clone()),
            flight,
        })
    }

    /// Whether a load of `key` is in flight.
    pub(crate) fn is_loading(&self, key: &K) -> bool {
        self.flights.lock().contains_key(key)
    }

    /// Callers waiting on the load of `key` (0 when none is in flight).
    pub(crate) fn waiters(&self, key: &K) -> usize {
        // Held by the map, the leader and each follower.
        self.flights
            .lock()
            .get(key)
            .map_or(0, |f| Arc::strong_count(f).saturating_sub(2))
    }

    /// Loads in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        self.flights.lock().len()
    }
}
