//! Client-side sharding: the fraction of 1 M keys that move when a cluster grows from 10 to 11
//! nodes, and the balance (max/mean keys per node), for modulo placement and for a
//! consistent-hash ring at several virtual-node counts (160 is the default).
//!
//! `cargo run -p larder --release --example sharding`

use larder::shard::{self, DEFAULT_VNODES, HashRing, ModuloSharder, Sharder};

const KEYS: usize = 1_000_000;

fn keys() -> impl Iterator<Item = String> {
    (0..KEYS).map(|i| format!("user:{i}"))
}

fn report(label: &str, before: &dyn Sharder, after: &dyn Sharder) {
    let moved = shard::movement(before, after, keys()).fraction();
    let b = shard::balance(before, keys()).max_over_mean();
    let a = shard::balance(after, keys()).max_over_mean();
    println!(
        "{label:<18} moved {:>6.2} %   max/mean 10 nodes {b:.3}   11 nodes {a:.3}",
        moved * 100.0
    );
}

fn main() -> Result<(), larder::ShardError> {
    let names: Vec<String> = (0..11).map(|i| format!("10.0.0.{i}:6379")).collect();
    println!("{KEYS} keys, 10 -> 11 nodes (ideal move for a ring: 1/11 = 9.09 %)");
    let before = ModuloSharder::new(&names[..10]);
    let mut after = before.clone();
    after.add_node(&names[10])?;
    report("modulo", &before, &after);
    for vnodes in [1, 40, DEFAULT_VNODES, 500, 1000] {
        let before = HashRing::with_nodes(&names[..10], vnodes);
        let mut after = before.clone();
        after.add_node(&names[10])?;
        report(&format!("ring, {vnodes} vnodes"), &before, &after);
    }
    Ok(())
}
