//! Hot keys: detection over a sliding window (on a manual clock), promotion of hot keys into
//! an L1 that admits only them (against `larder serve` in-process), and key splitting into
//! replicas (`key#r`) that writes update together and reads pick at random.

mod inproc;

use inproc::TestServer;
use larder::hotkeys::{HotKeyConfig, HotKeyDetector, HotTier, SplitKeys};
use larder::remote::{RemoteClient, RemoteConfig};
use larder::shard::{HashRing, Sharder};
use larder::tier::{Tier, TierConfig};
use larder::{Clock, ManualClock};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

fn config() -> HotKeyConfig {
    HotKeyConfig {
        capacity: 16,
        window: Duration::from_secs(10),
        min_count: 50,
        refresh_every: 10,
    }
}

#[test]
fn a_key_is_hot_while_its_window_count_is_high_and_cools_down_after() {
    let clock = Arc::new(ManualClock::new(1_000));
    let d = HotKeyDetector::new(config(), Arc::clone(&clock) as Arc<dyn Clock>);
    for i in 0..1_000u32 {
        d.record(b"hot");
        d.record(format!("cold:{i}").as_bytes());
    }
    d.refresh();
    assert!(d.is_hot(b"hot"));
    assert!(!d.is_hot(b"cold:1"));
    let hot = d.hot_keys();
    assert_eq!(hot.len(), 1);
    assert_eq!(hot[0].key, b"hot");
    // Two windows without reads: no longer hot.
    clock.advance(Duration::from_secs(21));
    d.refresh();
    assert!(!d.is_hot(b"hot"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_keys_are_promoted_into_the_l1_and_still_invalidated() {
    let server = TestServer::start().await;
    let addr = server.addr.to_string();
    let b = RemoteClient::connect(&RemoteConfig::new(addr.clone()), None, None)
        .await
        .unwrap();
    b.set(b"hot", b"v1").await.unwrap();
    b.set(b"cold", b"c").await.unwrap();
    let clock = Arc::new(ManualClock::new(1_000));
    let detector = HotKeyDetector::new(config(), Arc::clone(&clock) as Arc<dyn Clock>);
    let a = HotTier::new(
        Tier::connect(TierConfig::new(addr)).await.unwrap(),
        detector,
    );

    assert_eq!(a.get(b"cold").await.unwrap(), Some(b"c".to_vec()));
    assert!(
        !a.tier().l1().contains_key(b"cold".as_slice()),
        "cold keys skip the L1"
    );
    for _ in 0..60 {
        assert_eq!(a.get(b"hot").await.unwrap(), Some(b"v1".to_vec()));
    }
    a.detector().refresh();
    assert!(a.detector().is_hot(b"hot"));
    a.get(b"hot").await.unwrap();
    assert!(a.tier().l1().contains_key(b"hot".as_slice()), "promoted");
    assert!(!a.tier().l1().contains_key(b"cold".as_slice()));

    // `promote` fills a hot key the L1 lacks.
    a.tier().l1().invalidate(b"hot".as_slice());
    assert_eq!(a.promote().await.unwrap(), 1);
    assert!(a.tier().l1().contains_key(b"hot".as_slice()));

    // A promoted entry is invalidated by another client's write like any L1 entry.
    b.set(b"hot", b"v2").await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while a.tier().l1().contains_key(b"hot".as_slice()) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the invalidation reaches the L1");
    assert_eq!(a.get(b"hot").await.unwrap(), Some(b"v2".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_key_writes_every_replica_and_reads_spread_over_them() {
    let server = TestServer::start().await;
    let addr = server.addr.to_string();
    let tier = Tier::connect(TierConfig::new(addr.clone())).await.unwrap();
    let other = RemoteClient::connect(&RemoteConfig::new(addr), None, None)
        .await
        .unwrap();
    let split = SplitKeys::new(4);
    assert_eq!(split.replica(b"celebrity", 3), b"celebrity#3");
    split.set(&tier, b"celebrity", b"v1").await.unwrap();
    for k in split.replica_keys(b"celebrity") {
        assert_eq!(other.get(&k).await.unwrap(), Some(b"v1".to_vec()));
    }
    let mut picked = HashSet::new();
    for _ in 0..400 {
        picked.insert(split.pick(b"celebrity"));
        assert_eq!(
            split.get(&tier, b"celebrity").await.unwrap(),
            Some(b"v1".to_vec())
        );
    }
    assert_eq!(picked.len(), 4, "reads reach every replica");
    // An update reaches every replica, including those in the L1.
    split.set(&tier, b"celebrity", b"v2").await.unwrap();
    for _ in 0..50 {
        assert_eq!(
            split.get(&tier, b"celebrity").await.unwrap(),
            Some(b"v2".to_vec())
        );
    }
    // Placed by a ring, the replicas spread over several servers.
    let ring = HashRing::with_nodes((0..10).map(|i| format!("s{i}")), 160);
    let nodes: HashSet<&str> = split
        .placement(b"celebrity", &ring)
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert!(nodes.len() >= 2, "{nodes:?}");
    assert_eq!(ring.nodes().len(), 10);
}
