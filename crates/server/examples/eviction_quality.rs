//! Eviction quality of a server under `maxmemory`: the same request sequence against any RESP
//! server, over one connection, speaking raw RESP.
//!
//! ```text
//! eviction_quality run --port P [--keys 100000] [--alpha 0.99] [--gets 1000000]
//!                      [--key-size 16] [--value-size 200] [--rate 10000] [--seed 42]
//! eviction_quality fill-count --port P [--keys 100000] [--key-size 16] [--value-size 200]
//! eviction_quality trace [--keys 100000] [--alpha 0.99] [--gets 1000000] [--seed 42]
//! ```
//!
//! `run` draws `gets` keys from a Zipf distribution (exponent `alpha`) over `keys` keys (rank
//! r is key index r − 1), sends `GET` for each, and on a miss `SET`s the key to a
//! `value-size`-byte value: the cache-aside pattern. Requests are paced at `rate` GETs per
//! second (0: as fast as the server answers), so that servers whose eviction depends on time
//! (Redis's LFU counters decay per minute) see the same timing. It prints one line:
//! `gets= hits= hit_ratio= hit_ratio_2nd_half= sets= set_errors= secs= rate=`.
//!
//! `fill-count` loads every key once (pipelined), then `GET`s every key (pipelined) and prints
//! `resident=N`: how many keys the server's `maxmemory` holds with this value size. The
//! benchmark script uses it to size `maxmemory` for each server.
//!
//! `trace` prints the key indices `run` would request, one per line: a CSV trace for
//! `larder sim --trace FILE.csv`, which replays the same sequence through the engine's policies
//! offline (one unsharded cache, beside Belady's optimum).

mod common;

use common::{Conn, Flags, Reply, Result, Rng, key, value};
use std::io::Write;
use std::time::{Duration, Instant};

fn main() {
    if let Err(e) = run() {
        eprintln!("eviction_quality: {e}");
        std::process::exit(1);
    }
}

/// Zipf over ranks 1..=n: the cumulative weights, searched by bisection.
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, alpha: f64) -> Zipf {
        let mut total = 0.0;
        let cdf = (1..=n)
            .map(|r| {
                total += 1.0 / (r as f64).powf(alpha);
                total
            })
            .collect();
        Zipf { cdf }
    }

    /// A key index in 0..n (index 0 is the most popular).
    fn sample(&self, rng: &mut Rng) -> u64 {
        let total = self.cdf.last().copied().unwrap_or(0.0);
        let u = rng.next_f64() * total;
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1) as u64
    }
}

fn run() -> Result<()> {
    let flags = Flags::from_env();
    let mode = flags.positional(0).unwrap_or("run").to_owned();
    let port: u16 = flags.get("port", 6379)?;
    let keys: usize = flags.get("keys", 100_000)?;
    let key_size: usize = flags.get("key-size", 16)?;
    let value_size: usize = flags.get("value-size", 200)?;
    if keys == 0 {
        return Err("--keys must be at least 1".into());
    }
    if mode == "trace" {
        let zipf = Zipf::new(keys, flags.get("alpha", 0.99)?);
        let mut rng = Rng::new(flags.get("seed", 42)?);
        let gets: u64 = flags.get("gets", 1_000_000)?;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for _ in 0..gets {
            writeln!(out, "{}", zipf.sample(&mut rng))?;
        }
        out.flush()?;
        return Ok(());
    }
    let mut conn = Conn::connect(port)?;
    let data = value(value_size);
    let mut k = Vec::with_capacity(key_size);
    match mode.as_str() {
        "fill-count" => {
            for chunk in (0..keys as u64).collect::<Vec<_>>().chunks(1000) {
                for &i in chunk {
                    key(i, key_size, &mut k);
                    conn.send(&[b"SET", &k, &data])?;
                }
                conn.flush()?;
                for _ in chunk {
                    conn.read()?;
                }
            }
            let mut resident = 0;
            for chunk in (0..keys as u64).collect::<Vec<_>>().chunks(1000) {
                for &i in chunk {
                    key(i, key_size, &mut k);
                    conn.send(&[b"GET", &k])?;
                }
                conn.flush()?;
                for _ in chunk {
                    if let Reply::Bulk(Some(_)) = conn.read()? {
                        resident += 1;
                    }
                }
            }
            println!("resident={resident}");
        }
        "run" => {
            let alpha: f64 = flags.get("alpha", 0.99)?;
            let gets: u64 = flags.get("gets", 1_000_000)?;
            let rate: f64 = flags.get("rate", 10_000.0)?;
            let seed: u64 = flags.get("seed", 42)?;
            let zipf = Zipf::new(keys, alpha);
            let mut rng = Rng::new(seed);
            let (mut hits, mut hits_2nd, mut sets, mut set_errors) = (0u64, 0u64, 0u64, 0u64);
            let started = Instant::now();
            for i in 0..gets {
                if rate > 0.0 {
                    let due = Duration::from_secs_f64(i as f64 / rate);
                    let now = started.elapsed();
                    if due > now + Duration::from_millis(1) {
                        std::thread::sleep(due - now);
                    }
                }
                key(zipf.sample(&mut rng), key_size, &mut k);
                match conn.call(&[b"GET", &k])? {
                    Reply::Bulk(Some(_)) => {
                        hits += 1;
                        if i >= gets / 2 {
                            hits_2nd += 1;
                        }
                    }
                    Reply::Bulk(None) => {
                        sets += 1;
                        match conn.call(&[b"SET", &k, &data])? {
                            Reply::Simple(_) => {}
                            _ => set_errors += 1,
                        }
                    }
                    other => return Err(format!("unexpected GET reply {other:?}").into()),
                }
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "gets={gets} hits={hits} hit_ratio={:.4} hit_ratio_2nd_half={:.4} sets={sets} \
                 set_errors={set_errors} secs={secs:.1} rate={:.0}",
                hits as f64 / gets as f64,
                hits_2nd as f64 / (gets - gets / 2).max(1) as f64,
                gets as f64 / secs,
            );
        }
        other => {
            return Err(format!("unknown mode '{other}' (run, fill-count or trace)").into());
        }
    }
    Ok(())
}
