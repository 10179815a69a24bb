//! L1/L2 invalidation latency, per invalidation mode: client A reads a key through a [`Tier`]
//! (so its L1 holds it), client B writes the key, and the time until the invalidation has
//! dropped the key from A's L1 is measured, 1,000 times per mode, against `larder serve`
//! (in-process) and redis-server (a child process on 127.0.0.1:18701, if installed) in the same
//! run, the two servers alternating mode by mode.
//!
//! Modes: tracking (default), `BCAST PREFIX l1l2:`, `OPTIN`, and the application channel, each
//! over RESP3 (one connection) and RESP2 (a subscriber connection; tracking `REDIRECT`ed to it).
//! B is a plain client, except in channel mode where it is a [`Tier`] too (its `set` is `SET`
//! then `PUBLISH`).
//!
//! Reported per server and mode (median and p99):
//! * `write` — B's write round trip (the anchor; `SET`, or `SET` + `PUBLISH` in channel mode);
//! * `write → L1 invalidated` — from B starting its write to A's L1 dropping the key;
//! * `stale after ack` — how long after B's write returned A's L1 still held the old value (0
//!   when the invalidation arrived first);
//! * `stale reads` — how many of the reads A makes right after B's write returned gave the old
//!   value.
//!
//! `cargo run -p larder --release --example l1l2_latency [rounds]`

mod inproc_server;

use larder::remote::{Protocol, RemoteClient, RemoteConfig};
use larder::tier::{Invalidation, Tier, TierConfig};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const REDIS_PORT: u16 = 18701;

type Error = Box<dyn std::error::Error>;

/// An invalidation that reached A's L1: the key and when.
type Arrival = (Vec<u8>, Instant);

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn modes() -> Vec<(&'static str, Protocol, Invalidation)> {
    let mut all = Vec::new();
    for p in [Protocol::Resp3, Protocol::Resp2] {
        for (i, name) in [
            (Invalidation::Tracking, "tracking"),
            (Invalidation::Broadcast(vec![b"l1l2:".to_vec()]), "BCAST"),
            (Invalidation::OptIn, "OPTIN"),
            (
                Invalidation::Channel(b"l1l2:invalidate".to_vec()),
                "channel",
            ),
        ] {
            all.push((name, p, i));
        }
    }
    all
}

fn config(addr: &str, protocol: Protocol, invalidation: &Invalidation) -> TierConfig {
    let mut config = TierConfig::new(addr);
    config.remote.protocol = protocol;
    config.invalidation = invalidation.clone();
    config
}

/// B: a plain client, or a tier that publishes (channel mode).
enum Writer {
    Tier(Tier),
    Plain(RemoteClient),
}

impl Writer {
    async fn set(&self, k: &[u8], v: &[u8]) -> Result<(), Error> {
        match self {
            Writer::Tier(t) => t.set(k, v).await?,
            Writer::Plain(c) => c.set(k, v).await?,
        }
        Ok(())
    }
}

/// Waits (5 s at most) for the invalidation of `key`, skipping others.
async fn arrival(rx: &mut mpsc::Receiver<Arrival>, key: &[u8]) -> Result<Instant, Error> {
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some((k, t)) = rx.recv().await {
            if k == key {
                return Ok(t);
            }
        }
        Err("tier closed".into())
    })
    .await?
}

async fn measure(
    server: &str,
    addr: &str,
    (mode, protocol, invalidation): &(&str, Protocol, Invalidation),
    rounds: usize,
) -> Result<(), Error> {
    let (tx, mut rx) = mpsc::channel::<Arrival>(rounds * 4);
    let mut a_config = config(addr, *protocol, invalidation);
    a_config.on_invalidate = Some(Arc::new(move |k: Option<&[u8]>| {
        if let Some(k) = k {
            let _ = tx.try_send((k.to_vec(), Instant::now()));
        }
    }));
    let a = Tier::connect(a_config).await?;
    let b = match invalidation {
        Invalidation::Channel(_) => {
            Writer::Tier(Tier::connect(config(addr, *protocol, invalidation)).await?)
        }
        _ => Writer::Plain(RemoteClient::connect(&RemoteConfig::new(addr), None, None).await?),
    };
    // Modes in which A hears about B's writes of keys it never read.
    let hears_all = matches!(
        invalidation,
        Invalidation::Broadcast(_) | Invalidation::Channel(_)
    );
    let (mut write, mut inval, mut stale_after) = (Vec::new(), Vec::new(), Vec::new());
    let mut stale_reads = 0;
    for i in 0..rounds {
        let key = format!("l1l2:{i}");
        let old = format!("old-{i}");
        b.set(key.as_bytes(), old.as_bytes()).await?;
        if hears_all {
            arrival(&mut rx, key.as_bytes()).await?;
        }
        // Fill A's L1 (the server now tracks the key for A).
        while !a.l1().contains_key(key.as_bytes()) {
            a.get(key.as_bytes()).await?;
        }
        let t0 = Instant::now();
        b.set(key.as_bytes(), format!("new-{i}").as_bytes()).await?;
        let acked = Instant::now();
        if a.get(key.as_bytes()).await?.as_deref() == Some(old.as_bytes()) {
            stale_reads += 1;
        }
        let arrived = arrival(&mut rx, key.as_bytes()).await?;
        write.push(acked - t0);
        inval.push(arrived.saturating_duration_since(t0));
        stale_after.push(arrived.saturating_duration_since(acked));
    }
    for v in [&mut write, &mut inval, &mut stale_after] {
        v.sort();
    }
    let proto = if *protocol == Protocol::Resp3 {
        "RESP3"
    } else {
        "RESP2"
    };
    let cell = |v: &[Duration]| {
        format!(
            "{} / {}",
            micros(percentile(v, 50)),
            micros(percentile(v, 99))
        )
    };
    println!(
        "| {server} | {mode} {proto} | {} | {} | {} | {stale_reads} of {rounds} |",
        cell(&write),
        cell(&inval),
        cell(&stale_after),
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    let server = inproc_server::start().await?;
    let redis = Command::new("redis-server")
        .args(["--port", &REDIS_PORT.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn();
    let redis_addr = format!("127.0.0.1:{REDIS_PORT}");
    let mut redis_up = false;
    if redis.is_ok() {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&redis_addr).await.is_ok() {
                redis_up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let version = Command::new("redis-server").arg("--version").output()?;
        print!("{}", String::from_utf8_lossy(&version.stdout));
    } else {
        println!("redis-server: not installed, measuring larder serve only");
    }
    println!("{rounds} writes per server and mode, loopback; times in µs, median / p99");
    println!(
        "| server | mode | B's write (anchor) | B starts write → A's L1 invalidated | stale after B's ack | A's read right after the ack was stale |"
    );
    println!("|---|---|---|---|---|---|");
    let mut result = Ok(());
    for mode in modes() {
        result = measure("larder serve", &server.addr, &mode, rounds).await;
        if result.is_err() {
            break;
        }
        if redis_up {
            result = measure("redis-server", &redis_addr, &mode, rounds).await;
            if result.is_err() {
                break;
            }
        }
    }
    if let Ok(mut child) = redis {
        child.kill()?;
        child.wait()?;
    }
    server.stop().await?;
    result
}
