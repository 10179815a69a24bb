//! `larder sim` end to end: the built binary on a small generated CSV trace (every output format,
//! relative sizes, the miss-ratio curve and its SVG, exit statuses), and on the real OLTP trace
//! when it is present.

use larder_sim::Request;
use larder_sim::replay::{SimPolicy, simulate};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn larder(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_larder"))
        .args(args)
        .output()
        .expect("the larder binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `larder` and expects exit status 0; returns stdout.
fn ok(args: &[&str]) -> String {
    let out = larder(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "larder {args:?}\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("larder-cli-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Number of distinct keys in [`small_trace`].
const KEYS: u64 = 1000;

/// A skewed trace of 30,000 requests over exactly [`KEYS`] string keys with sizes, written as
/// CSV with a header; returns the requests as the reader will see them.
fn small_trace(path: &Path) -> Vec<Request> {
    let mut state = 0x5eed_u64;
    let mut keys: Vec<u64> = (0..KEYS).collect(); // every key at least once
    keys.extend((0..29_000).map(|_| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let r = (state >> 33) as f64 / f64::from(1u32 << 31);
        // Roughly Zipf-like: small keys are much hotter.
        ((KEYS as f64).powf(r) as u64 - 1).min(KEYS - 1)
    }));
    let mut csv = String::from("key,size\n");
    for &k in &keys {
        csv.push_str(&format!("user:{k},{}\n", 100 + k % 900));
    }
    std::fs::write(path, csv).expect("write trace");
    larder_sim::open(path).expect("trace reads").requests
}

fn csv_rows(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn table_with_relative_sizes_and_opt() {
    let dir = Scratch::new("table");
    let trace = dir.path("small.csv");
    let requests = small_trace(&trace);
    let trace = trace.to_str().expect("utf-8 path");
    let out = ok(&[
        "sim",
        "--trace",
        trace,
        "--policy",
        "lru,s3fifo,opt",
        "--size",
        "50,10%",
        "-q",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "small: 30,000 requests, 1,000 unique keys; hit ratio %, cache size in entries"
    );
    let cells = |i: usize| lines[i].split_whitespace().collect::<Vec<_>>();
    assert_eq!(cells(1), ["policy", "50", "10%"]);
    // 10 % of the 1,000 unique keys.
    assert_eq!(cells(2), ["capacity", "50", "100"]);
    assert_eq!(lines.len(), 6, "{out}");
    for (row, policy) in [(3, "lru"), (4, "s3fifo"), (5, "opt")] {
        let policy: SimPolicy = policy.parse().expect("policy");
        let cells = cells(row);
        assert_eq!(cells[0], policy.name());
        for (cell, capacity) in cells[1..].iter().zip([50, 100]) {
            let expected = simulate(&requests, policy, capacity, false).hit_percent();
            assert_eq!(*cell, format!("{expected:.2}"), "{policy} at {capacity}");
        }
    }
    // OPT is the ceiling.
    let hit = |row: usize, col: usize| cells(row)[col].parse::<f64>().expect("number");
    for col in 1..=2 {
        assert!(
            hit(5, col) >= hit(3, col) && hit(5, col) >= hit(4, col),
            "{out}"
        );
    }

    let timed = ok(&[
        "sim", "--trace", trace, "--policy", "lru", "--size", "100", "--timing", "-q",
    ]);
    let header: Vec<&str> = timed
        .lines()
        .nth(1)
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["policy", "100", "Mreq/s"]);
    let speed: f64 = timed
        .lines()
        .nth(2)
        .expect("row")
        .split_whitespace()
        .nth(2)
        .expect("cell")
        .parse()
        .expect("a number");
    assert!(speed > 0.0, "{timed}");
}

#[test]
fn csv_and_json_outputs_parse() {
    let dir = Scratch::new("formats");
    let trace = dir.path("small.csv");
    let requests = small_trace(&trace);
    let trace = trace.to_str().expect("utf-8 path");

    let csv = ok(&[
        "sim",
        "--trace",
        trace,
        "--policy",
        "fifo,belady",
        "--size",
        "1%,200",
        "--format",
        "csv",
        "--threads",
        "2",
    ]);
    let rows = csv_rows(&csv);
    assert_eq!(
        rows[0],
        [
            "trace",
            "policy",
            "size",
            "capacity",
            "sized",
            "requests",
            "hits",
            "misses",
            "hit_percent",
            "miss_percent",
            "byte_hit_percent",
            "seconds",
            "requests_per_sec"
        ]
    );
    assert_eq!(rows.len(), 5, "{csv}");
    let expected = [
        ("fifo", "1%", 10),
        ("fifo", "200", 200),
        ("opt", "1%", 10),
        ("opt", "200", 200),
    ];
    for (row, (policy, size, capacity)) in rows[1..].iter().zip(expected) {
        assert_eq!(row.len(), 13, "{row:?}");
        assert_eq!(
            (row[0].as_str(), row[1].as_str(), row[2].as_str()),
            ("small", policy, size)
        );
        assert_eq!(row[3], capacity.to_string());
        assert_eq!(row[4], "false");
        assert_eq!(row[5], "30000");
        let result = simulate(&requests, policy.parse().expect("policy"), capacity, false);
        assert_eq!(row[6], result.hits.to_string());
        assert_eq!(row[7], result.misses().to_string());
        let hit: f64 = row[8].parse().expect("hit %");
        let miss: f64 = row[9].parse().expect("miss %");
        assert!((hit + miss - 100.0).abs() < 1e-3);
        assert!(row[12].parse::<f64>().expect("requests/s") >= 0.0);
    }

    let json = ok(&[
        "sim",
        "--trace",
        trace,
        "--policy",
        "lru,opt",
        "--size",
        "10%,64KiB,50%",
        "--sized",
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(report["trace"], "small");
    assert_eq!(report["sized"], true);
    assert_eq!(report["footprint"]["requests"], 30_000);
    assert_eq!(report["footprint"]["unique_keys"], KEYS);
    // Sum of each key's size: 100 + k % 900 over k < 1000.
    let unique_bytes: u64 = (0..KEYS).map(|k| 100 + k % 900).sum();
    assert_eq!(report["footprint"]["unique_bytes"], unique_bytes);
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 6);
    let capacities: Vec<u64> = report["sizes"]
        .as_array()
        .expect("sizes")
        .iter()
        .map(|c| c["capacity"].as_u64().expect("capacity"))
        .collect();
    let ten_percent = (unique_bytes as f64 * 0.1).round() as u64;
    let half = (unique_bytes as f64 * 0.5).round() as u64;
    assert_eq!(capacities, [ten_percent, 65_536, half]);
    for run in runs {
        let policy: SimPolicy = run["policy"]
            .as_str()
            .expect("name")
            .parse()
            .expect("policy");
        let capacity = run["capacity"].as_u64().expect("capacity");
        let result = simulate(&requests, policy, capacity, true);
        assert_eq!(run["hits"], result.hits, "{policy} at {capacity}");
        assert!(run["requests_per_sec"].as_f64().expect("speed") >= 0.0);
        assert!(run["byte_hit_percent"].as_f64().is_some());
    }
}

#[test]
fn mrc_writes_a_table_and_an_svg() {
    let dir = Scratch::new("mrc");
    let trace = dir.path("small.csv");
    small_trace(&trace);
    let plot = dir.path("out.svg");
    let out = ok(&[
        "sim",
        "--trace",
        trace.to_str().expect("utf-8 path"),
        "--policy",
        "lru,arc,opt",
        "--mrc",
        "--mrc-points",
        "6",
        "--plot",
        plot.to_str().expect("utf-8 path"),
        "-q",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].ends_with("miss ratio %, cache size in entries"),
        "{out}"
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["entries", "lru", "arc", "opt"]
    );
    // 0.1 % to 100 % of 1,000 keys: 1 ... 1000, log-spaced.
    let sizes: Vec<u64> = lines[2..]
        .iter()
        .map(|l| {
            l.split_whitespace()
                .next()
                .expect("size")
                .parse()
                .expect("number")
        })
        .collect();
    assert_eq!(sizes, [1, 4, 16, 63, 251, 1000]);
    // OPT's miss ratio never rises with the size, and at 100 % only cold misses are left.
    let opt: Vec<f64> = lines[2..]
        .iter()
        .map(|l| {
            l.split_whitespace()
                .nth(3)
                .expect("opt")
                .parse()
                .expect("number")
        })
        .collect();
    assert!(opt.windows(2).all(|w| w[1] <= w[0]), "{out}");
    assert_eq!(
        lines.last().map(|l| l.split_whitespace().nth(3)),
        Some(Some("3.33"))
    );

    let svg = std::fs::read_to_string(&plot).expect("the plot was written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    // One polyline per policy, and the legend names them.
    assert!(svg.matches("<polyline").count() >= 3, "lines");
    for name in [
        "lru",
        "arc",
        "opt",
        "miss ratio (%)",
        "cache size (entries)",
    ] {
        assert!(
            svg.contains(&format!("\n{name}\n")),
            "{name} missing from the SVG"
        );
    }

    // An explicit range, in bytes.
    let out = ok(&[
        "sim",
        "--trace",
        trace.to_str().expect("utf-8 path"),
        "--policy",
        "lru",
        "--sized",
        "--mrc",
        "--size",
        "1KiB,1MiB",
        "--mrc-points",
        "3",
        "--format",
        "csv",
    ]);
    let capacities: Vec<String> = csv_rows(&out)[1..].iter().map(|r| r[3].clone()).collect();
    assert_eq!(capacities, ["1024", "32768", "1048576"]);
}

#[test]
fn usage_and_runtime_errors_have_their_statuses() {
    let dir = Scratch::new("errors");
    let trace = dir.path("small.csv");
    small_trace(&trace);
    let trace = trace.to_str().expect("utf-8 path");
    let unknown = dir.path("mystery.dat");
    std::fs::write(&unknown, "1\n2\n").expect("write");
    let missing = dir.path("missing.csv");
    let cases: [(&[&str], i32, &str); 9] = [
        (&["sim", "--trace", trace], 2, "--size"),
        (&["sim", "--size", "10"], 2, "--trace"),
        (
            &["sim", "--trace", trace, "--size", "ten"],
            2,
            "bad size `ten`",
        ),
        (
            &["sim", "--trace", trace, "--size", "1MiB"],
            2,
            "needs a byte-sized cache (--sized)",
        ),
        (
            &["sim", "--trace", trace, "--size", "10", "--policy", "mru"],
            2,
            "unknown policy 'mru'",
        ),
        (
            &["sim", "--trace", trace, "--mrc", "--size", "1,2,3"],
            2,
            "two sizes",
        ),
        (
            &[
                "sim",
                "--trace",
                unknown.to_str().expect("utf-8"),
                "--size",
                "10",
            ],
            2,
            "--trace-format",
        ),
        (
            &[
                "sim",
                "--trace",
                missing.to_str().expect("utf-8"),
                "--size",
                "10",
            ],
            1,
            "missing.csv",
        ),
        (
            &[
                "sim",
                "--trace",
                trace,
                "--size",
                "10",
                "--policy",
                "lru",
                "--plot",
                "/nonexistent-dir/p.svg",
            ],
            1,
            "cannot draw the plot",
        ),
    ];
    for (args, status, message) in cases {
        let out = larder(args);
        assert_eq!(out.status.code(), Some(status), "larder {args:?}: {out:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(message), "larder {args:?}: {stderr}");
    }
    // An explicit format reads a file whose name does not tell.
    let out = ok(&[
        "sim",
        "--trace",
        unknown.to_str().expect("utf-8"),
        "--trace-format",
        "lirs",
        "--size",
        "1",
        "--policy",
        "opt",
        "--format",
        "csv",
    ]);
    assert_eq!(csv_rows(&out)[1][6], "0");
}

#[test]
fn help_documents_every_option() {
    let help = ok(&["sim", "--help"]);
    for option in [
        "--trace <FILE>",
        "--trace-format <NAME>",
        "--policy <LIST>",
        "--size <LIST>",
        "--sized",
        "--mrc",
        "--mrc-points <N>",
        "--plot <FILE.svg>",
        "--format <FORMAT>",
        "--timing",
        "--threads <N>",
        "--quiet",
        "Examples:",
    ] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
    // The claim subcommands hang off `larder sim` and exclude the trace options.
    for claim in ["policies", "ring", "layers", "stampede"] {
        assert!(help.contains(claim), "{claim} missing from:\n{help}");
    }
    let mixed = larder(&["sim", "--trace", "x.csv", "--size", "10", "ring"]);
    assert_eq!(mixed.status.code(), Some(2), "{mixed:?}");
    let top = ok(&["--help"]);
    assert!(top.contains("sim"), "{top}");
}

#[test]
fn oltp_through_the_binary() {
    let Some(path) = larder_sim::shared_trace("arc/OLTP.lis.zst") else {
        return;
    };
    let csv = ok(&[
        "sim",
        "--trace",
        path.to_str().expect("utf-8 path"),
        "--policy",
        "lru,opt",
        "--size",
        "1000,5000",
        "--format",
        "csv",
        "-q",
    ]);
    let rows = csv_rows(&csv);
    let hit = |policy: &str, capacity: &str| -> String {
        let row = rows
            .iter()
            .find(|r| r[1] == policy && r[3] == capacity)
            .unwrap_or_else(|| panic!("no {policy} at {capacity} in\n{csv}"));
        format!("{:.2}", row[8].parse::<f64>().expect("hit %"))
    };
    // The ARC paper (LRU) and libCacheSim's Belady (traces/README.md).
    assert_eq!(hit("lru", "1000"), "32.83");
    assert_eq!(hit("lru", "5000"), "53.65");
    assert_eq!(hit("opt", "1000"), "53.61");
    assert_eq!(hit("opt", "5000"), "68.27");
}
