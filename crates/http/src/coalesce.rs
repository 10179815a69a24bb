//! Request coalescing: concurrent misses on one key make one upstream request.
//!
//! The first miss on a key becomes the *leader* and fetches; later misses become *waiters* and
//! wait, on a `tokio::sync::watch` channel (notification, not polling), for the leader's
//! [`Outcome`]. When the response was stored they read it from the cache; when it turned out
//! uncacheable (or the leader failed, or the wait timed out) they go upstream on their own.
//! Waiting is bounded twice: by a timeout and by a maximum number of waiters per key (the
//! excess goes upstream directly). A leader that is dropped without finishing (its client went
//! away, its task panicked) reports [`Outcome::Abandoned`], so waiters never hang.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// What became of a flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Still fetching.
    Pending,
    /// The response was stored: read it from the cache.
    Stored,
    /// The response was not storable: fetch on your own.
    NotStored,
    /// The leader gave up (error, cancellation) or the wait timed out.
    Abandoned,
}

#[derive(Debug)]
struct Flight {
    tx: watch::Sender<Outcome>,
    waiters: AtomicUsize,
}

type Flights = Arc<Mutex<HashMap<String, Arc<Flight>>>>;

/// The in-flight table.
#[derive(Debug)]
pub struct Coalescer {
    flights: Flights,
    max_waiters: usize,
    timeout: Duration,
    coalesced: AtomicU64,
}

/// The role a request gets for a key.
#[derive(Debug)]
pub enum Role {
    /// Fetch, then call [`Leader::finish`].
    Leader(Leader),
    /// Wait with [`Waiter::wait`].
    Waiter(Waiter),
    /// Too many waiters: go upstream directly.
    Bypass,
}

impl Coalescer {
    /// A table allowing `max_waiters` per key, each waiting at most `timeout`.
    pub fn new(max_waiters: usize, timeout: Duration) -> Self {
        Self {
            flights: Arc::default(),
            max_waiters,
            timeout,
            coalesced: AtomicU64::new(0),
        }
    }

    /// Joins the flight for `key`, starting it if there is none.
    pub fn join(&self, key: &str) -> Role {
        let mut flights = self.flights.lock();
        if let Some(flight) = flights.get(key) {
            if flight.waiters.fetch_add(1, Ordering::Relaxed) >= self.max_waiters {
                flight.waiters.fetch_sub(1, Ordering::Relaxed);
                return Role::Bypass;
            }
            self.coalesced.fetch_add(1, Ordering::Relaxed);
            return Role::Waiter(Waiter {
                rx: flight.tx.subscribe(),
                timeout: self.timeout,
            });
        }
        let (tx, _) = watch::channel(Outcome::Pending);
        let flight = Arc::new(Flight {
            tx,
            waiters: AtomicUsize::new(0),
        });
        flights.insert(key.to_string(), flight.clone());
        Role::Leader(Leader {
            flights: self.flights.clone(),
            key: key.to_string(),
            flight,
            done: false,
        })
    }

    /// Whether a flight for `key` is under way (used to start at most one background refresh).
    pub fn in_flight(&self, key: &str) -> bool {
        self.flights.lock().contains_key(key)
    }

    /// How many requests have waited on another's fetch so far.
    pub fn coalesced(&self) -> u64 {
        self.coalesced.load(Ordering::Relaxed)
    }
}

/// The one request fetching for a key.
#[derive(Debug)]
pub struct Leader {
    flights: Flights,
    key: String,
    flight: Arc<Flight>,
    done: bool,
}

impl Leader {
    /// Tells the waiters what happened and ends the flight.
    pub fn finish(mut self, outcome: Outcome) {
        self.end(outcome);
    }

    fn end(&mut self, outcome: Outcome) {
        if self.done {
            return;
        }
        self.done = true;
        // Publish first, then leave the table: a request arriving in between joins a finished
        // flight and sees the outcome at once.
        self.flight.tx.send_replace(outcome);
        let mut flights = self.flights.lock();
        if flights
            .get(&self.key)
            .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
        {
            flights.remove(&self.key);
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.end(Outcome::Abandoned);
    }
}

/// A request waiting for a leader.
#[derive(Debug)]
pub struct Waiter {
    rx: watch::Receiver<Outcome>,
    timeout: Duration,
}

impl Waiter {
    /// Waits for the leader's outcome (at most the configured timeout).
    pub async fn wait(mut self) -> Outcome {
        let waited =
            tokio::time::timeout(self.timeout, self.rx.wait_for(|o| *o != Outcome::Pending)).await;
        match waited {
            Ok(Ok(outcome)) => *outcome,
            _ => Outcome::Abandoned,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_get_the_leaders_outcome() {
        let c = Coalescer::new(2, Duration::from_secs(5));
        let Role::Leader(leader) = c.join("k") else {
            panic!("first is leader")
        };
        let Role::Waiter(w1) = c.join("k") else {
            panic!("second waits")
        };
        let Role::Waiter(w2) = c.join("k") else {
            panic!("third waits")
        };
        assert!(matches!(c.join("k"), Role::Bypass));
        let handle = tokio::spawn(async move { (w1.wait().await, w2.wait().await) });
        leader.finish(Outcome::Stored);
        assert_eq!(
            handle.await.expect("joined"),
            (Outcome::Stored, Outcome::Stored)
        );
        assert!(!c.in_flight("k"));
        assert_eq!(c.coalesced(), 2);
    }

    #[tokio::test]
    async fn a_dropped_leader_releases_waiters() {
        let c = Coalescer::new(8, Duration::from_secs(5));
        let leader = c.join("k");
        let Role::Waiter(w) = c.join("k") else {
            panic!("waits")
        };
        drop(leader);
        assert_eq!(w.wait().await, Outcome::Abandoned);
        assert!(matches!(c.join("k"), Role::Leader(_)));
    }
}
