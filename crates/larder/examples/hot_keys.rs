//! Hot keys against `larder serve` (in-process): 20,000 reads over 1,000 keys, a third of them
//! of three keys; a `HotTier` admits only the detected hot keys into its L1. Prints the hot
//! keys found, how many reads the L1 served, and where the hottest key's replicas would live
//! on a 10-node ring once split four ways.
//!
//! `cargo run -p larder --example hot_keys`

mod inproc_server;

use larder::hotkeys::{HotKeyConfig, HotKeyDetector, HotTier, SplitKeys};
use larder::shard::HashRing;
use larder::tier::{Tier, TierConfig};
use larder::{Clock, SystemClock};
use rand::Rng;
use std::sync::Arc;

type Error = Box<dyn std::error::Error>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let server = inproc_server::start().await?;
    let addr = server.addr.clone();

    let tier = Tier::connect(TierConfig::new(addr)).await?;
    for i in 0..1_000 {
        tier.set(
            format!("item:{i}").as_bytes(),
            format!("value {i}").as_bytes(),
        )
        .await?;
    }
    let config = HotKeyConfig {
        min_count: 200,
        ..HotKeyConfig::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let hot = HotTier::new(tier, HotKeyDetector::new(config, clock));
    let mut rng = rand::rng();
    for _ in 0..20_000 {
        let i = if rng.random_bool(1.0 / 3.0) {
            rng.random_range(0..3)
        } else {
            rng.random_range(0..1_000)
        };
        hot.get(format!("item:{i}").as_bytes()).await?;
    }
    let stats = hot.tier().l1().stats();
    println!("hot keys detected:");
    for k in hot.detector().hot_keys() {
        println!(
            "  {:<10} ≥ {} reads in the window",
            String::from_utf8_lossy(&k.key),
            k.count - k.error
        );
    }
    println!(
        "L1: {} entries, {} of 20000 reads served from it ({:.1} %)",
        hot.tier().l1().entry_count(),
        stats.hits,
        stats.hits as f64 / 200.0
    );

    let split = SplitKeys::new(4);
    let ring = HashRing::with_nodes((0..10).map(|i| format!("10.0.0.{i}:6379")), 160);
    println!("item:0 split 4 ways on a 10-node ring:");
    for (key, node) in split.placement(b"item:0", &ring) {
        println!("  {:<10} -> {node}", String::from_utf8_lossy(&key));
    }
    server.stop().await?;
    Ok(())
}
