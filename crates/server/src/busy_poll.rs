//! Busy polling: after a burst of input, a single-threaded server keeps polling its sockets for
//! a short while before it sleeps.
//!
//! A worker that sleeps in `epoll_wait` between requests must be woken by the kernel when the
//! next request arrives, and on loopback (and in virtual machines, where waking another CPU is
//! a trip through the hypervisor) that wake-up is paid by the *sender*, inside its `write`. With
//! many clients each keeping one request in flight, the clients' CPU goes largely to waking the
//! server. Measured with redis-benchmark at `-P 1` (server and client each on one core), polling
//! for up to 50 µs cut the client's kernel time per request by about a tenth and raised the
//! throughput by as much (`docs/benchmarks.md`, "Throughput"); the same idea is Seastar's idle
//! poll time and Linux's `busy_poll`.
//!
//! How: a task of the server's own ([`run`]) waits until input arrives; then, while input keeps
//! arriving, it yields to the scheduler in a loop, which makes tokio poll its sockets without
//! blocking (`epoll_wait` with a zero timeout) each time its run queue empties, instead of
//! sleeping. It stops once no input has arrived for `busy-poll-us` microseconds, or for as long
//! as the burst had lasted if that is shorter: the time spent polling in vain is at most the
//! time the burst kept the worker busy, so a lightly loaded server spends at most about twice
//! the CPU it needs, and an idle one none.
//!
//! Only the single-threaded runtime (`threads 1`) polls: there one worker owns every socket,
//! so one task can keep it awake. With several workers the setting has no effect.

use crate::shared::Shared;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What connections tell the polling task: input arrived.
#[derive(Debug, Default)]
pub struct BusyPoll {
    /// Reads so far (wrapping; only changes are looked at).
    reads: AtomicU64,
    /// The polling task sleeps until the next read.
    waiting: AtomicBool,
    wake: Notify,
}

impl BusyPoll {
    /// A connection read input: count it, and wake the polling task if it sleeps.
    #[inline]
    pub fn input_arrived(&self) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        if self.waiting.load(Ordering::Relaxed) && self.waiting.swap(false, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }
}

/// Whether to keep polling at `now`, for a burst of input that began at `start` and last saw
/// input at `last`: until nothing has arrived for `window`, or for as long as the burst had
/// lasted if that is shorter.
pub fn keep_polling(start: Instant, last: Instant, now: Instant, window: Duration) -> bool {
    now.duration_since(last) <= window.min(last.duration_since(start))
}

/// The polling task of a single-threaded server: runs until the runtime stops.
pub async fn run(shared: Arc<Shared>) {
    let poll = &shared.busy_poll;
    loop {
        poll.waiting.store(true, Ordering::Release);
        // A read between the store and this await leaves a permit: the wait ends at once.
        poll.wake.notified().await;
        let window = Duration::from_micros(shared.config.read().busy_poll_us);
        if window.is_zero() {
            continue;
        }
        let start = Instant::now();
        let mut last = start;
        let mut seen = poll.reads.load(Ordering::Relaxed);
        loop {
            // Runs every other ready task, then a non-blocking poll of the sockets.
            tokio::task::yield_now().await;
            let reads = poll.reads.load(Ordering::Relaxed);
            let now = Instant::now();
            if reads != seen {
                seen = reads;
                last = now;
            } else if !keep_polling(start, last, now, window) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_stops_after_the_window_or_the_burst_length() {
        let start = Instant::now();
        let us = Duration::from_micros;
        let window = us(50);
        // A long burst: poll up to the window after the last input.
        let last = start + us(1_000);
        assert!(keep_polling(start, last, last + us(50), window));
        assert!(!keep_polling(start, last, last + us(51), window));
        // A short burst (one request): poll no longer than it lasted.
        let last = start + us(10);
        assert!(keep_polling(start, last, last + us(10), window));
        assert!(!keep_polling(start, last, last + us(11), window));
        // Off: a zero window never polls past the last input.
        assert!(!keep_polling(
            start,
            start + us(5),
            start + us(6),
            Duration::ZERO
        ));
    }

    #[test]
    fn a_read_wakes_a_waiting_poller_once() {
        let poll = BusyPoll::default();
        poll.input_arrived();
        assert!(!poll.waiting.load(Ordering::Acquire));
        poll.waiting.store(true, Ordering::Release);
        poll.input_arrived();
        assert!(
            !poll.waiting.load(Ordering::Acquire),
            "the read took the poller out of its wait"
        );
        assert_eq!(poll.reads.load(Ordering::Relaxed), 2);
    }
}
