//! Scan cursors under concurrent change: an entry resident for the whole of a scan is returned
//! (Redis's `SCAN` guarantee), however much the table grows, churns or is re-indexed meanwhile,
//! because an entry never changes slot while it lives.

use larder_engine::{Clock, ManualClock, PolicyKind, Store};
use std::collections::HashSet;
use std::sync::Arc;

#[test]
fn entries_resident_for_the_whole_scan_are_returned_despite_growth_and_churn() {
    let clock = Arc::new(ManualClock::new(1_000));
    let s: Store<u64, u64> = Store::builder(1 << 30)
        .shards(8)
        .clock(clock.clone())
        .build();
    // Stable entries: present before the scan starts and until it ends.
    for k in 0..2_000u64 {
        s.insert(k, k).unwrap();
    }
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut next_new = 1_000_000u64;
    let mut step = 0u64;
    loop {
        let (page, next) = s.scan(cursor, 50);
        seen.extend(page.into_iter().map(|(k, _)| k));
        // Between pages: the table grows a lot (new keys), churns (new keys removed again,
        // reusing freed slots), entries with a TTL expire and are reclaimed, and the policy is
        // switched (which rebuilds its metadata over the slots).
        for _ in 0..20 {
            s.insert(next_new, 0).unwrap();
            next_new += 1;
        }
        for k in (next_new - 20..next_new).step_by(2) {
            s.remove(&k);
        }
        for k in 0..10 {
            s.insert_with_deadline(5_000_000 + step * 100 + k, 0, clock.now() + 1)
                .unwrap();
        }
        clock.set(clock.now() + 2);
        s.expire_cycle(1_000);
        if step % 10 == 5 {
            s.set_policy(if step % 20 == 5 {
                PolicyKind::Lru
            } else {
                PolicyKind::Sieve
            });
        }
        step += 1;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let missing: Vec<u64> = (0..2_000u64).filter(|k| !seen.contains(k)).collect();
    assert!(missing.is_empty(), "missing {} stable keys", missing.len());
    assert!(
        step > 30,
        "the scan interleaved with many writes ({step} pages)"
    );
}
