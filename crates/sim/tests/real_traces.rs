//! Reads every real trace listed in `shared/traces/README.md` and checks the
//! request and unique-key counts given there.
//!
//! The traces live outside the repository ([`traces_dir`]). Without them each
//! test prints `skipped: traces not found (set LARDER_TRACES)` to stderr and
//! passes. Run with `--nocapture` (ideally `--release`) to see parse times.

use std::collections::HashMap;
use std::time::Instant;

use larder_sim::{Trace, TraceFormat, open, traces_dir};

/// One row of the README's summary tables.
struct Expected {
    /// Path relative to the traces directory.
    file: &'static str,
    /// The format [`open`] must guess.
    format: TraceFormat,
    /// Number of requests.
    requests: usize,
    /// Number of distinct keys.
    unique: usize,
}

const fn row(file: &'static str, format: TraceFormat, requests: usize, unique: usize) -> Expected {
    Expected {
        file,
        format,
        requests,
        unique,
    }
}

/// Opens each file of `rows` (with a guessed format) and checks its counts;
/// returns the traces for further checks, or `None` when the traces
/// directory is absent.
fn check(rows: &[Expected]) -> Option<Vec<Trace>> {
    let Some(dir) = traces_dir() else {
        eprintln!("skipped: traces not found (set LARDER_TRACES)");
        return None;
    };
    let mut traces = Vec::new();
    for expected in rows {
        let path = dir.join(expected.file);
        assert!(
            path.is_file(),
            "{} is missing from the traces directory {} (set LARDER_TRACES to a complete copy)",
            expected.file,
            dir.display()
        );
        let start = Instant::now();
        let trace = open(&path).unwrap_or_else(|e| panic!("{e}"));
        let elapsed = start.elapsed();
        eprintln!(
            "{:<45} {:>12} requests  parsed in {:>8.1} ms",
            expected.file,
            trace.len(),
            elapsed.as_secs_f64() * 1e3
        );
        assert_eq!(
            trace.format, expected.format,
            "{}: guessed format",
            expected.file
        );
        assert_eq!(
            trace.len(),
            expected.requests,
            "{}: requests",
            expected.file
        );
        assert_eq!(
            trace.unique_keys(),
            expected.unique,
            "{}: unique keys",
            expected.file
        );
        traces.push(trace);
    }
    Some(traces)
}

#[test]
fn arc_oltp() {
    let Some(traces) = check(&[row(
        "arc/OLTP.lis.zst",
        TraceFormat::ArcLis,
        914_145,
        186_880,
    )]) else {
        return;
    };
    assert_eq!(traces[0].name, "OLTP");
    assert!(traces[0].requests.iter().all(|r| r.size == 1));
}

#[test]
fn arc_p3_p6() {
    check(&[
        row("arc/P3.lis.zst", TraceFormat::ArcLis, 3_912_296, 762_543),
        row("arc/P6.lis.zst", TraceFormat::ArcLis, 12_672_123, 773_770),
    ]);
}

#[test]
fn lirs_suite() {
    use TraceFormat::Lirs;
    check(&[
        row("lirs/2_pools.trace.gz", Lirs, 100_000, 9_939),
        row("lirs/backf.trace.gz", Lirs, 9_000, 751),
        row("lirs/cpp.trace.gz", Lirs, 9_047, 1_223),
        row("lirs/cs.trace.gz", Lirs, 6_781, 1_409),
        row("lirs/gli.trace.gz", Lirs, 6_015, 2_529),
        row("lirs/loop.trace.gz", Lirs, 505_500, 1_011),
        row("lirs/multi1.trace.gz", Lirs, 15_858, 2_606),
        row("lirs/multi2.trace.gz", Lirs, 26_311, 5_684),
        row("lirs/multi3.trace.gz", Lirs, 30_241, 7_454),
        row("lirs/ps.trace.gz", Lirs, 10_448, 3_083),
        row("lirs/scan.trace.gz", Lirs, 50_025, 2_001),
        row("lirs/sprite.trace.gz", Lirs, 133_996, 7_075),
        row("lirs/zigzag.trace.gz", Lirs, 52_001, 2_001),
    ]);
}

#[test]
fn caffeine_binary() {
    check(&[
        row(
            "caffeine/corda_trace_vaultservice.gz",
            TraceFormat::CaffeineI64,
            135_702,
            90_468,
        ),
        row(
            "caffeine/scarab-recs.trace.xz",
            TraceFormat::CaffeineI64,
            1_245_184,
            258_368,
        ),
        row(
            "cache2k/web07.trace.xz",
            TraceFormat::Cache2kI32,
            76_118,
            20_484,
        ),
    ]);
}

#[test]
fn sized_traces() {
    let Some(traces) = check(&[
        row(
            "sized/cloudPhysicsIO.oracleGeneral.bin",
            TraceFormat::OracleGeneral,
            113_872,
            48_974,
        ),
        // 36,815 ids, 40,240 (id, size) pairs: the key is the pair.
        row(
            "sized/adaptsize_request.trace.xz",
            TraceFormat::AdaptSize,
            66_987,
            40_240,
        ),
    ]) else {
        return;
    };

    // cloudPhysicsIO: sizes are 512 B ... 4 MiB and the unique objects sum to
    // 2,029,769,728 bytes (README), which checks the size field's offset.
    let cloud = &traces[0];
    let mut first_size = HashMap::new();
    for r in &cloud.requests {
        first_size.entry(r.key).or_insert(r.size);
    }
    let unique_bytes: u64 = first_size.values().map(|&s| u64::from(s)).sum();
    assert_eq!(unique_bytes, 2_029_769_728);
    assert!(
        cloud
            .requests
            .iter()
            .all(|r| (512..=4 << 20).contains(&r.size))
    );

    // adaptsize: sizes are taken from the trace (the largest is 4,092,928).
    let adapt = &traces[1];
    assert_eq!(adapt.requests.iter().map(|r| r.size).max(), Some(4_092_928));
}
