//! Client-side sharding: the fraction of 1 M keys that move when a cluster grows from 10 to 11
//! nodes, and the balance (max/mean keys per node).
//!
//! 1. One fixed set of node names (`10.0.0.0:6379` ..): modulo placement, the ring at several
//!    virtual-node counts with one probe per key (the classic ring), at 160 points (the
//!    default) with 2 and 3 probes (3 is the default), and the libketama-compatible ring.
//! 2. The same over many sets of node names (`cache-<set>-<i>.internal:6379`): a ring's balance
//!    depends on where the names' points happen to fall, so one set says little. Per
//!    configuration: the moved fraction (median, min–max), max/mean on 10 nodes (median,
//!    worst), how many sets meet max/mean ≤ 1.1, and at 160 points the sorted max/mean of every
//!    set.
//!
//! `cargo run -p larder --release --example sharding [keys] [name-sets]`

use larder::shard::{
    self, DEFAULT_PROBES, DEFAULT_VNODES, HashRing, ModuloSharder, RingScheme, Sharder,
};
use std::collections::HashMap;

fn keys(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("user:{i}"))
}

fn report(label: &str, before: &dyn Sharder, after: &dyn Sharder, n: usize) {
    let moved = shard::movement(before, after, keys(n)).fraction();
    let b = shard::balance(before, keys(n)).max_over_mean();
    let a = shard::balance(after, keys(n)).max_over_mean();
    println!("| {label} | {:.2} % | {b:.3} | {a:.3} |", moved * 100.0);
}

/// Keys per node for precomputed key positions: the owner of each key, and max/mean.
fn place<'r>(ring: &'r HashRing, hashes: &[u64]) -> (Vec<&'r str>, f64) {
    let owners: Vec<&str> = hashes
        .iter()
        .map(|&h| ring.node_for_hash(h).unwrap_or(""))
        .collect();
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for o in &owners {
        *counts.entry(o).or_default() += 1;
    }
    let max = counts.values().copied().max().unwrap_or(0) as f64;
    let mean = hashes.len() as f64 / ring.nodes().len() as f64;
    (owners, max / mean)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn sorted(v: &[f64], decimals: usize) -> String {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let all: Vec<String> = v.iter().map(|x| format!("{x:.decimals$}")).collect();
    all.join(" ")
}

fn over_name_sets(n: usize, sets: usize) {
    println!(
        "\n{n} keys, {sets} sets of node names `cache-<set>-<i>.internal:6379`, 10 -> 11 nodes"
    );
    println!(
        "| ring | moved 10 -> 11: median (min–max) | max/mean 10 nodes: median (worst) | max/mean 11 nodes: median (worst) | sets with max/mean ≤ 1.1 on 10 nodes |"
    );
    println!("|---|---|---|---|---|");
    let key_bytes: Vec<String> = keys(n).collect();
    let configs = [
        (
            "stable, 160 points, 3 probes (default)",
            RingScheme::Stable,
            160,
            3,
        ),
        ("stable, 160 points, 2 probes", RingScheme::Stable, 160, 2),
        ("stable, 160 points, 1 probe", RingScheme::Stable, 160, 1),
        ("stable, 320 points, 1 probe", RingScheme::Stable, 320, 1),
        ("stable, 640 points, 1 probe", RingScheme::Stable, 640, 1),
        (
            "ketama (libmemcached), 160 points",
            RingScheme::Ketama,
            160,
            1,
        ),
    ];
    let mut at_160 = Vec::new();
    for (label, scheme, vnodes, probes) in configs {
        let hashes: Vec<u64> = key_bytes
            .iter()
            .map(|k| scheme.key_hash(k.as_bytes()))
            .collect();
        let (mut moved, mut ten, mut eleven) = (Vec::new(), Vec::new(), Vec::new());
        for set in 0..sets {
            let names: Vec<String> = (0..11)
                .map(|i| format!("cache-{set}-{i}.internal:6379"))
                .collect();
            let ring = || HashRing::with_scheme(scheme, vnodes).with_probes(probes);
            let before = ring().adding(&names[..10]);
            let after = ring().adding(&names);
            let (b, rb) = place(&before, &hashes);
            let (a, ra) = place(&after, &hashes);
            let m = b.iter().zip(&a).filter(|(x, y)| x != y).count();
            moved.push(m as f64 / n as f64 * 100.0);
            ten.push(rb);
            eleven.push(ra);
        }
        let worst = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        let least = moved.iter().copied().fold(f64::MAX, f64::min);
        println!(
            "| {label} | {:.2} % ({least:.2}–{:.2}) | {:.3} ({:.3}) | {:.3} ({:.3}) | {} of {sets} |",
            median(&moved),
            worst(&moved),
            median(&ten),
            worst(&ten),
            median(&eleven),
            worst(&eleven),
            ten.iter().filter(|&&r| r <= 1.1).count(),
        );
        if vnodes == 160 && probes != 2 {
            at_160.push((label, ten, moved));
        }
    }
    for (label, ten, moved) in at_160 {
        println!("\n{label}, per name set, sorted:");
        println!("  max/mean on 10 nodes: {}", sorted(&ten, 3));
        println!("  % of the keys moved 10 -> 11: {}", sorted(&moved, 2));
    }
}

fn main() -> Result<(), larder::ShardError> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let sets: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let names: Vec<String> = (0..11).map(|i| format!("10.0.0.{i}:6379")).collect();
    println!(
        "{n} keys, nodes 10.0.0.0:6379 .., 10 -> 11 nodes (ideal move for a ring: 1/11 = 9.09 %)"
    );
    println!("| placement | keys moved | max/mean, 10 nodes | max/mean, 11 nodes |");
    println!("|---|---|---|---|");
    let before = ModuloSharder::new(&names[..10]);
    let mut after = before.clone();
    after.add_node(&names[10])?;
    report("modulo", &before, &after, n);
    for (vnodes, probes) in [
        (1, 1),
        (40, 1),
        (DEFAULT_VNODES, 1),
        (500, 1),
        (1000, 1),
        (DEFAULT_VNODES, 2),
        (DEFAULT_VNODES, DEFAULT_PROBES),
    ] {
        let before = HashRing::with_nodes(&names[..10], vnodes).with_probes(probes);
        let mut after = before.clone();
        after.add_node(&names[10])?;
        report(
            &format!("ring, {vnodes} vnodes, {probes} probe(s)"),
            &before,
            &after,
            n,
        );
    }
    let before = HashRing::ketama().adding(&names[..10]);
    let mut after = before.clone();
    after.add_node(&names[10])?;
    report("ketama (libmemcached), 160 points", &before, &after, n);
    over_name_sets(n, sets);
    Ok(())
}
