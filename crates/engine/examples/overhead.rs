//! Memory overhead per entry of a full `Store<u64, u64>`, per policy, against moka and
//! quick_cache.
//!
//! A counting global allocator tracks live heap bytes. For each cache and each capacity N, the
//! cache is built, `2 × N` distinct keys are inserted (so it is full and eviction has run; set
//! `CHURN=k` in the environment for `k × N`), and
//! `(live heap bytes) / (resident entries) − 16` is reported: everything but the 8-byte key and
//! the 8-byte value. For larder, `Store::heap_bytes()` is shown as a cross-check.
//!
//! `cargo run --release -p larder-engine --example overhead [-- N ...]` (default N: 1,000,000
//! and 100,000).

// The counting allocator must implement `GlobalAlloc`, an unsafe trait; it only forwards to the
// system allocator and adds a counter, so this example opts out of the workspace's
// `unsafe_code = "deny"`.
#![allow(unsafe_code)]

use larder_engine::{PolicyKind, Store};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is upheld by `System`; the counter has no effect on allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            LIVE.fetch_add(new_size, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes of one entry's key and value.
const PAYLOAD: f64 = 16.0;

struct Row {
    cache: String,
    n: u64,
    entries: u64,
    live: usize,
    reported: Option<usize>,
}

impl Row {
    fn per_entry(bytes: usize, entries: u64) -> f64 {
        bytes as f64 / entries.max(1) as f64 - PAYLOAD
    }
}

/// Distinct keys inserted, as a multiple of the capacity: `CHURN` from the environment, default 2.
/// A larger multiple shows the steady state after long churn (tables grow on tombstones).
fn churn() -> u64 {
    std::env::var("CHURN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
        .max(1)
}

/// Builds a cache with `build`, fills it with `insert` over keys `0..churn × n`, and measures it.
fn measure<C>(
    cache: &str,
    n: u64,
    build: impl FnOnce() -> C,
    insert: impl Fn(&C, u64),
    finish: impl FnOnce(&C) -> (u64, Option<usize>),
) -> Row {
    let before = LIVE.load(Relaxed);
    let c = build();
    for key in 0..churn() * n {
        insert(&c, key);
    }
    let (entries, reported) = finish(&c);
    let live = LIVE.load(Relaxed).saturating_sub(before);
    drop(c);
    Row {
        cache: cache.to_owned(),
        n,
        entries,
        live,
        reported,
    }
}

fn larder(n: u64, policy: PolicyKind) -> Row {
    measure(
        &format!("larder {}", policy.name()),
        n,
        || Store::<u64, u64>::builder(n).policy(policy).build(),
        |s, k| {
            let _ = s.insert(k, k);
        },
        |s| (s.len() as u64, Some(s.heap_bytes())),
    )
}

fn moka(n: u64) -> Row {
    measure(
        "moka",
        n,
        || moka::sync::Cache::<u64, u64>::new(n),
        |c, k| c.insert(k, k),
        |c| {
            c.run_pending_tasks();
            (c.entry_count(), None)
        },
    )
}

fn quick(n: u64) -> Row {
    measure(
        "quick_cache",
        n,
        || quick_cache::sync::Cache::<u64, u64>::new(n as usize),
        |c, k| c.insert(k, k),
        |c| (c.len() as u64, None),
    )
}

fn main() {
    let sizes: Vec<u64> = {
        let args: Vec<u64> = std::env::args()
            .skip(1)
            .filter_map(|a| a.replace(['_', ','], "").parse().ok())
            .collect();
        if args.is_empty() {
            vec![1_000_000, 100_000]
        } else {
            args
        }
    };
    println!(
        "| cache | N | resident entries | live heap bytes | overhead B/entry | heap_bytes() B/entry |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        // Every policy the engine ships, the default (S3-FIFO) first.
        let mut policies = vec![PolicyKind::default()];
        policies.extend(
            PolicyKind::ALL
                .into_iter()
                .filter(|&p| p != PolicyKind::default()),
        );
        let mut rows: Vec<Row> = policies.into_iter().map(|p| larder(n, p)).collect();
        rows.push(moka(n));
        rows.push(quick(n));
        for r in rows {
            let reported = r.reported.map_or_else(
                || "–".to_owned(),
                |b| format!("{:.1}", Row::per_entry(b, r.entries)),
            );
            println!(
                "| {} | {} | {} | {} | {:.1} | {} |",
                r.cache,
                r.n,
                r.entries,
                r.live,
                Row::per_entry(r.live, r.entries),
                reported
            );
        }
    }
}
