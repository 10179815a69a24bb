//! L1/L2 invalidation latency: client A reads a key through a [`Tier`] (so its L1 holds it and
//! the server tracks it), client B writes the key, and the time until the server's
//! `invalidate` push has dropped the key from A's L1 is measured, 1,000 times, against
//! `larder serve` (in-process) and redis-server (a child process on 127.0.0.1:18701, if
//! installed) in the same run.
//!
//! Reported per server (median and p99):
//! * `write rtt` — B's `SET` round trip (the anchor);
//! * `write → L1 invalidated` — from B sending `SET` to A's L1 dropping the key;
//! * `stale after ack` — how long after B's `SET` was acknowledged A's L1 still held the old
//!   value (0 when the invalidation arrived first);
//! * `stale reads` — how many of the reads A makes right after B's acknowledgement returned
//!   the old value.
//!
//! `cargo run -p larder --release --example l1l2_latency`

mod inproc_server;

use larder::remote::{RemoteClient, RemoteConfig};
use larder::tier::{Tier, TierConfig};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const WRITES: usize = 1_000;
const REDIS_PORT: u16 = 18701;

type Error = Box<dyn std::error::Error>;

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

async fn measure(name: &str, addr: String) -> Result<(), Error> {
    let (tx, mut rx) = mpsc::channel::<Instant>(WRITES);
    let mut config = TierConfig::new(addr.clone());
    config.on_invalidate = Some(Arc::new(move |k: Option<&[u8]>| {
        if k.is_some() {
            let _ = tx.try_send(Instant::now());
        }
    }));
    let a = Tier::connect(config).await?;
    let b = RemoteClient::connect(&RemoteConfig::new(addr), None, None).await?;
    let (mut rtt, mut inval, mut stale_after) = (Vec::new(), Vec::new(), Vec::new());
    let mut stale_reads = 0;
    for i in 0..WRITES {
        let key = format!("l1l2:{}", i % 16);
        let old = format!("old-{i}");
        b.set(key.as_bytes(), old.as_bytes()).await?;
        // Drain the invalidation B's write may have caused for A (A read this key before).
        while rx.try_recv().is_ok() {}
        a.get(key.as_bytes()).await?; // fills A's L1; the server now tracks the key for A
        while rx.try_recv().is_ok() {}
        let t0 = Instant::now();
        b.set(key.as_bytes(), format!("new-{i}").as_bytes()).await?;
        let acked = Instant::now();
        if a.get(key.as_bytes()).await?.as_deref() == Some(old.as_bytes()) {
            stale_reads += 1;
        }
        let arrived = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await?
            .ok_or("tier closed")?;
        rtt.push(acked - t0);
        inval.push(arrived - t0);
        stale_after.push(arrived.saturating_duration_since(acked));
    }
    for v in [&mut rtt, &mut inval, &mut stale_after] {
        v.sort();
    }
    println!("{name}: {WRITES} writes");
    for (label, v) in [
        ("write rtt (anchor)", &rtt),
        ("write → L1 invalidated", &inval),
        ("stale after ack", &stale_after),
    ] {
        println!(
            "  {label:<24} median {:>10}   p99 {:>10}",
            micros(percentile(v, 50)),
            micros(percentile(v, 99))
        );
    }
    println!("  stale reads right after the ack: {stale_reads} of {WRITES}");
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let server = inproc_server::start().await?;
    measure("larder serve", server.addr.clone()).await?;
    server.stop().await?;

    let redis = Command::new("redis-server")
        .args([
            "--port",
            &REDIS_PORT.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--bind", "127.0.0.1"])
        .stdout(Stdio::null())
        .spawn();
    let Ok(mut redis) = redis else {
        println!("redis-server: not installed, skipped");
        return Ok(());
    };
    let addr = format!("127.0.0.1:{REDIS_PORT}");
    let mut ready = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let result = if ready {
        let version = Command::new("redis-server").arg("--version").output()?;
        print!("{}", String::from_utf8_lossy(&version.stdout));
        measure("redis-server", addr).await
    } else {
        Err("redis-server did not start".into())
    };
    redis.kill()?;
    redis.wait()?;
    result
}
