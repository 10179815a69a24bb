//! The library behind `larder sim` ([`larder_sim::run`]) on the real traces: grids and curves
//! reproduce the reference figures. (Replay speed is a benchmark, not a test: `bench/sim.sh`.)
//!
//! Needs the real traces (`../shared/traces` or `LARDER_TRACES`); each test says so on stderr
//! and passes when they are absent.

use larder_engine::PolicyKind;
use larder_sim::replay::SimPolicy;
use larder_sim::run::{Column, Footprint, RunOptions, SizeSpec, mrc_sizes, run_grid};
use larder_sim::trace::{self, Request};

fn load(relative: &str) -> Option<Vec<Request>> {
    let path = trace::shared_trace(relative)?;
    Some(trace::open(&path).expect("trace parses").requests)
}

fn columns(specs: &[&str], footprint: &Footprint, sized: bool) -> Vec<Column> {
    specs
        .iter()
        .map(|s| {
            s.parse::<SizeSpec>()
                .and_then(|spec| spec.column(footprint, sized))
                .expect("size")
        })
        .collect()
}

#[test]
fn oltp_grid_matches_the_reference_table() {
    let Some(requests) = load("arc/OLTP.lis.zst") else {
        return;
    };
    let footprint = Footprint::of(&requests);
    assert_eq!(
        (footprint.requests, footprint.unique_keys),
        (914_145, 186_880)
    );
    let policies: Vec<SimPolicy> = ["lru", "fifo", "sieve", "opt"]
        .iter()
        .map(|p| p.parse().expect("policy"))
        .collect();
    let sizes = columns(&["1000", "5000"], &footprint, false);
    let report = run_grid(
        "OLTP",
        &requests,
        &policies,
        &sizes,
        &RunOptions::quiet(false),
    );
    // traces/README.md: libCacheSim 0.3.5 (FIFO, SIEVE, Belady) and the ARC paper (LRU).
    let expected = [
        [32.83, 53.65],
        [28.53, 49.68],
        [32.56, 51.89],
        [53.61, 68.27],
    ];
    for (p, row) in expected.iter().enumerate() {
        for (s, &want) in row.iter().enumerate() {
            let run = report.run(p, s).expect("run");
            assert_eq!(run.policy, policies[p]);
            assert_eq!(
                format!("{:.2}", run.hit_percent),
                format!("{want:.2}"),
                "{} at {}",
                run.policy,
                run.capacity
            );
        }
    }
    let table = report.table(false);
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["opt", "53.61", "68.27"]),
        "{table}"
    );
}

#[test]
fn oltp_relative_sizes_and_opt_curve() {
    let Some(requests) = load("arc/OLTP.lis.zst") else {
        return;
    };
    let footprint = Footprint::of(&requests);
    let sizes = columns(&["1%", "0.5%"], &footprint, false);
    assert_eq!(
        sizes.iter().map(|c| c.capacity).collect::<Vec<_>>(),
        [1869, 934]
    );
    // OPT has no Belady anomaly: its miss ratio never rises with the cache size, and with room
    // for every key only the cold misses are left.
    let curve: Vec<Column> = mrc_sizes(187, 186_880, 6)
        .into_iter()
        .map(|c| Column::of_capacity(c, false))
        .collect();
    let report = run_grid(
        "OLTP",
        &requests,
        &[SimPolicy::Opt, SimPolicy::Engine(PolicyKind::Lru)],
        &curve,
        &RunOptions {
            mrc: true,
            ..RunOptions::quiet(false)
        },
    );
    let opt: Vec<u64> = (0..curve.len())
        .map(|s| report.run(0, s).expect("run").misses)
        .collect();
    assert!(opt.windows(2).all(|w| w[1] <= w[0]), "{opt:?}");
    assert_eq!(opt.last().copied(), Some(footprint.unique_keys));
    for s in 0..curve.len() {
        let (o, l) = (
            report.run(0, s).expect("opt"),
            report.run(1, s).expect("lru"),
        );
        assert!(o.misses <= l.misses, "LRU beats OPT at {}", o.capacity);
    }
}

#[test]
fn cloudphysics_byte_sized_grid() {
    let Some(requests) = load("sized/cloudPhysicsIO.oracleGeneral.bin") else {
        return;
    };
    let footprint = Footprint::of(&requests);
    // traces/README.md: sum of unique object sizes.
    assert_eq!(footprint.unique_bytes, 2_029_769_728);
    let sizes = columns(&["128MiB", "1GiB"], &footprint, true);
    let policies = [
        SimPolicy::Engine(PolicyKind::Lru),
        SimPolicy::Engine(PolicyKind::Fifo),
        SimPolicy::Opt,
    ];
    let report = run_grid(
        "cloudPhysicsIO",
        &requests,
        &policies,
        &sizes,
        &RunOptions::quiet(true),
    );
    // libCacheSim `test/test_evictionAlgo.c` miss counts.
    let expected = [[93_374, 71_704], [93_403, 72_140], [79_256, 48_974]];
    for (p, row) in expected.iter().enumerate() {
        for (s, &misses) in row.iter().enumerate() {
            let run = report.run(p, s).expect("run");
            assert_eq!(run.misses, misses, "{} at {}", run.policy, run.size);
        }
    }
}
