//! Client-side sharding: adding a node moves keys only to it, removing one moves keys only from
//! it, for every placement; and the figure for the ring (10 → 11 nodes with 160 virtual
//! nodes moves 9 ± 1 % of 1 M keys), measured deterministically (the hash is fixed).

use larder::shard::{self, DEFAULT_VNODES, HashRing, ModuloSharder, RangeSharder, Sharder};

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("10.0.0.{i}:6379")).collect()
}

fn keys(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("user:{i}"))
}

/// Counts the keys whose node differs between `before` and `after`, asserting that each went
/// from `from` (if given) and to `to` (if given).
fn moves(
    before: &dyn Sharder,
    after: &dyn Sharder,
    from: Option<&str>,
    to: Option<&str>,
    n: usize,
) -> usize {
    let mut moved = 0;
    for k in keys(n) {
        let (b, a) = (before.node_for(k.as_bytes()), after.node_for(k.as_bytes()));
        if b != a {
            assert!(
                from.is_none_or(|f| b == Some(f)),
                "{k} moved from {b:?}, not {from:?}"
            );
            assert!(
                to.is_none_or(|t| a == Some(t)),
                "{k} moved to {a:?}, not {to:?}"
            );
            moved += 1;
        }
    }
    moved
}

fn moves_only_to(before: &dyn Sharder, after: &dyn Sharder, to: &str, n: usize) -> usize {
    moves(before, after, None, Some(to), n)
}

fn moves_only_from(before: &dyn Sharder, after: &dyn Sharder, from: &str, n: usize) -> usize {
    moves(before, after, Some(from), None, n)
}

#[test]
fn ring_adding_a_node_moves_keys_only_to_it_and_removing_only_from_it() {
    let before = HashRing::with_nodes(names(5), DEFAULT_VNODES);
    let mut after = before.clone();
    after.add_node("new:6379").unwrap();
    let moved = moves_only_to(&before, &after, "new:6379", 50_000);
    assert!(moved > 0);
    // Removing the node again restores the placement exactly.
    let mut back = after.clone();
    back.remove_node("new:6379").unwrap();
    assert_eq!(moves_only_from(&after, &back, "new:6379", 50_000), moved);
    assert_eq!(shard::movement(&before, &back, keys(50_000)).moved, 0);
    // Removing an original node moves only its keys.
    let mut fewer = before.clone();
    fewer.remove_node(&names(5)[2]).unwrap();
    assert!(moves_only_from(&before, &fewer, &names(5)[2], 50_000) > 0);
}

#[test]
fn range_splits_move_keys_only_to_the_new_node_and_removal_only_from_it() {
    let mut before = RangeSharder::new();
    before.add_node("a").unwrap();
    before.split_at(b"m", "b").unwrap();
    assert_eq!(before.node_for(b"apple"), Some("a"));
    assert_eq!(before.node_for(b"melon"), Some("b"));
    assert_eq!(before.node_for(b"zebra"), Some("b"));
    let mut after = before.clone();
    after.split_at(b"user:5", "c").unwrap();
    assert_eq!(after.node_for(b"user:7"), Some("c"));
    assert_eq!(after.node_for(b"user:4"), Some("b"));
    assert!(moves_only_to(&before, &after, "c", 20_000) > 0);
    let mut grown = after.clone();
    grown.add_node("d").unwrap();
    moves_only_to(&after, &grown, "d", 20_000);
    let mut back = grown.clone();
    back.remove_node("c").unwrap();
    assert!(moves_only_from(&grown, &back, "c", 20_000) > 0);
    // A split point another node already starts at is refused.
    assert_eq!(
        back.split_at(b"m", "a"),
        Err(larder::ShardError::SplitTaken)
    );
}

#[test]
fn modulo_moves_most_keys_when_a_node_is_added() {
    let before = ModuloSharder::new(names(10));
    let mut after = before.clone();
    after.add_node("new:6379").unwrap();
    let m = shard::movement(&before, &after, keys(100_000));
    // About N/(N+1) = 91 % of the keys move.
    assert!(m.fraction() > 0.85, "{}", m.fraction());
    assert!(shard::balance(&before, keys(100_000)).max_over_mean() < 1.05);
}

#[test]
fn duplicate_and_unknown_nodes_are_refused() {
    let mut ring = HashRing::with_nodes(["a", "b"], 16);
    assert!(ring.add_node("a").is_err());
    assert!(ring.remove_node("c").is_err());
    ring.remove_node("a").unwrap();
    ring.remove_node("b").unwrap();
    assert_eq!(ring.node_for(b"k"), None);
    assert_eq!(RangeSharder::new().node_for(b"k"), None);
    assert_eq!(ModuloSharder::default().node_for(b"k"), None);
}

/// The figure: 10 → 11 nodes with 160 virtual nodes moves 9 ± 1 % of the keys
/// (ideal: 1/11 = 9.09 %). Deterministic: the node names, keys and hash are fixed.
#[test]
fn ring_ten_to_eleven_nodes_moves_nine_percent_of_a_million_keys() {
    const KEYS: usize = 1_000_000;
    let before = HashRing::with_nodes(names(10), DEFAULT_VNODES);
    let mut after = before.clone();
    after.add_node(&names(11)[10]).unwrap();
    let m = shard::movement(&before, &after, keys(KEYS));
    let moved = m.fraction();
    assert!((0.08..=0.10).contains(&moved), "moved {moved}");
    let b = shard::balance(&before, keys(KEYS)).max_over_mean();
    let a = shard::balance(&after, keys(KEYS)).max_over_mean();
    eprintln!(
        "moved {:.2} %, max/mean 10 nodes {b:.3}, 11 nodes {a:.3}",
        moved * 100.0
    );
    // The balance: max/mean ≤ 1.1, which the default three probes per key give (one
    // probe, the classic ring, gives 1.13 here; see docs/library-remote.md).
    assert!(b <= 1.1 && a <= 1.1, "max/mean {b} {a}");
}

/// One probe is the classic ring: a key belongs to the first point at or after its hash. More
/// probes keep the ring consistent (checked above) and even out the load.
#[test]
fn one_probe_is_the_classic_ring_and_more_probes_balance_better() {
    let classic = HashRing::with_nodes(names(10), DEFAULT_VNODES).with_probes(1);
    assert_eq!(classic.probes(), 1);
    let ketama = HashRing::ketama().with_probes(3);
    assert_eq!(ketama.probes(), 1, "a ketama ring stays compatible");
    // A ring of one point per node: each key belongs to the node whose point follows its hash.
    let two = HashRing::with_nodes(["a", "b"], 1).with_probes(1);
    let a = shard::stable_hash(b"a#0");
    let b = shard::stable_hash(b"b#0");
    let (low, high, low_node, high_node) = if a < b {
        (a, b, "a", "b")
    } else {
        (b, a, "b", "a")
    };
    assert_eq!(two.node_for_hash(low), Some(low_node));
    assert_eq!(two.node_for_hash(low + 1), Some(high_node));
    assert_eq!(two.node_for_hash(high), Some(high_node));
    assert_eq!(two.node_for_hash(high.wrapping_add(1)), Some(low_node));
    let spread = |ring: &HashRing| shard::balance(ring, keys(200_000)).max_over_mean();
    let three = HashRing::with_nodes(names(10), DEFAULT_VNODES);
    assert!(
        spread(&three) < spread(&classic),
        "three probes balance better"
    );
}

/// `HashRing::ketama()` places keys exactly as uhashring 2.5's ketama ring (a libketama-
/// compatible implementation) does, on 10 nodes and after an 11th is added: the fixture was
/// produced by `tests/data/ketama_uhashring.py`.
#[test]
fn ketama_ring_matches_uhashring() {
    let fixture = include_str!("data/ketama_uhashring.txt");
    let nodes: Vec<String> = (0..11)
        .map(|i| format!("10.0.{}.{i}:11211", i / 4))
        .collect();
    let rings = [
        HashRing::ketama().adding(&nodes[..10]),
        HashRing::ketama().adding(&nodes),
    ];
    let mut checked = 0;
    for line in fixture.lines() {
        let mut parts = line.split('\t');
        let (n, key, node) = (parts.next(), parts.next(), parts.next());
        let (Some(n), Some(key), Some(node)) = (n, key, node) else {
            panic!("bad fixture line {line:?}");
        };
        let ring = &rings[usize::from(n == "11")];
        assert_eq!(
            ring.node_for(key.as_bytes()),
            Some(node),
            "{n} nodes, key {key:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 4010);
    // Adding the 11th node moved keys only to it.
    moves_only_to(&rings[0], &rings[1], &nodes[10], 50_000);
}
