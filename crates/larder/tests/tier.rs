//! The L1/L2 tier against `larder serve` (in-process on 127.0.0.1:0) and redis-server (a child
//! process on a free port; skipped with a message when `redis-server` is not on PATH), in every
//! invalidation mode (tracking, BCAST, OPTIN, an application channel) over RESP3 and RESP2
//! (RESP2: a second connection subscribed, tracking `REDIRECT`ed to it):
//!
//! * a write by another client invalidates the L1 (SET and DEL; FLUSHALL flushes it);
//! * a dropped connection (the data connection, and on RESP2 the subscriber) flushes the L1,
//!   the tier reconnects and invalidations work again;
//! * a lost invalidation is bounded by the L1 TTL (manual clock);
//! * reads racing 300 writes never leave a stale value in the L1 once the invalidations have
//!   arrived (the fill-race guard; with the guard disabled this fails on every run).
//!
//! Waits are on the tier's invalidation observer under a bound only a hang reaches; nothing
//! asserts on timing.

use larder::ManualClock;
use larder::remote::{Protocol, RemoteClient, RemoteConfig};
use larder::tier::{Invalidation, Tier, TierConfig};
mod inproc;

use inproc::TestServer;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A bound only a hang reaches.
const PATIENCE: Duration = Duration::from_secs(20);

/// Invalidations as they reach the L1: `Some(key)` or `None` for a flush.
type Seen = mpsc::Receiver<Option<Vec<u8>>>;

/// Every mode, over both protocols.
fn modes() -> Vec<(Protocol, Invalidation)> {
    let mut all = Vec::new();
    for p in [Protocol::Resp3, Protocol::Resp2] {
        for i in [
            Invalidation::Tracking,
            Invalidation::Broadcast(vec![b"user:".to_vec()]),
            Invalidation::OptIn,
            Invalidation::Channel(b"larder:invalidate".to_vec()),
        ] {
            all.push((p, i));
        }
    }
    all
}

/// redis-server on a free port, killed on drop.
struct Redis {
    child: Child,
    addr: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts redis-server, or `None` (with a message) when it is not on PATH.
async fn redis() -> Option<Redis> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("SKIPPED: redis-server is not on PATH (apt-get install redis-server)");
        return None;
    };
    let redis = Redis {
        child,
        addr: format!("127.0.0.1:{port}"),
    };
    tokio::time::timeout(PATIENCE, async {
        while tokio::net::TcpStream::connect(&redis.addr).await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("redis-server starts");
    Some(redis)
}

fn config(addr: &str, protocol: Protocol, invalidation: &Invalidation) -> TierConfig {
    let mut config = TierConfig::new(addr);
    config.remote.protocol = protocol;
    config.invalidation = invalidation.clone();
    config
}

async fn tier(
    addr: &str,
    protocol: Protocol,
    invalidation: &Invalidation,
    clock: Option<Arc<ManualClock>>,
) -> (Tier, Seen) {
    let (tx, rx) = mpsc::channel(1024);
    let mut config = config(addr, protocol, invalidation);
    config.on_invalidate = Some(Arc::new(move |k: Option<&[u8]>| {
        let _ = tx.try_send(k.map(<[u8]>::to_vec));
    }));
    if let Some(c) = clock {
        config.clock = Some(c);
        config.l1_ttl = Duration::from_secs(5);
    }
    (Tier::connect(config).await.expect("tier connects"), rx)
}

async fn client(addr: &str) -> RemoteClient {
    RemoteClient::connect(&RemoteConfig::new(addr), None, None)
        .await
        .expect("connect")
}

/// Another client's writes: through a tier of the same mode (it publishes in channel mode),
/// or a plain client.
enum Writer {
    Tier(Tier),
    Plain(RemoteClient),
}

impl Writer {
    async fn new(addr: &str, protocol: Protocol, invalidation: &Invalidation) -> Writer {
        match invalidation {
            Invalidation::Channel(_) => Writer::Tier(
                Tier::connect(config(addr, protocol, invalidation))
                    .await
                    .expect("the server answers"),
            ),
            _ => Writer::Plain(client(addr).await),
        }
    }

    async fn set(&self, k: &[u8], v: &[u8]) {
        match self {
            Writer::Tier(t) => t.set(k, v).await.expect("the server answers"),
            Writer::Plain(c) => c.set(k, v).await.expect("the server answers"),
        }
    }

    async fn del(&self, k: &[u8]) {
        match self {
            Writer::Tier(t) => t.del(k).await.expect("the server answers"),
            Writer::Plain(c) => c.del(k).await.expect("the server answers"),
        };
    }
}

/// A read through the tier.
async fn read(a: &Tier, key: &[u8]) -> Option<Vec<u8>> {
    a.get(key).await.expect("the server answers")
}

/// Waits (bounded) until `want` reaches the L1, skipping other invalidations.
async fn wait_for(seen: &mut Seen, want: Option<&[u8]>, ctx: &str) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let got = seen.recv().await.expect("the tier is alive");
            if got.as_deref() == want {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{ctx}: no invalidation {want:?}"));
}

async fn a_write_by_another_client_invalidates_the_l1(addr: &str) {
    for (p, inv) in modes() {
        let ctx = format!("{p:?} {inv:?}");
        let c = client(addr).await;
        c.call(&[b"FLUSHALL"]).await.expect("the server answers");
        c.set(b"user:1", b"alice")
            .await
            .expect("the server answers");
        c.set(b"other:1", b"x").await.expect("the server answers");
        let (a, mut seen) = tier(addr, p, &inv, None).await;
        let w = Writer::new(addr, p, &inv).await;

        assert_eq!(read(&a, b"user:1").await, Some(b"alice".to_vec()));
        assert!(a.l1().contains_key(b"user:1".as_slice()), "{ctx}");
        w.set(b"user:1", b"bob").await;
        wait_for(&mut seen, Some(b"user:1"), &ctx).await;
        assert!(!a.l1().contains_key(b"user:1".as_slice()), "{ctx}");
        assert_eq!(read(&a, b"user:1").await, Some(b"bob".to_vec()));
        assert!(a.l1().contains_key(b"user:1".as_slice()), "{ctx}");

        w.del(b"user:1").await;
        wait_for(&mut seen, Some(b"user:1"), &ctx).await;
        assert_eq!(read(&a, b"user:1").await, None, "{ctx}");
        assert!(!a.l1().contains_key(b"user:1".as_slice()), "{ctx}");

        // BCAST caches only keys under its prefixes: no invalidation would reach the others.
        assert_eq!(read(&a, b"other:1").await, Some(b"x".to_vec()));
        let cached = !matches!(inv, Invalidation::Broadcast(_));
        assert_eq!(a.l1().contains_key(b"other:1".as_slice()), cached, "{ctx}");

        // FLUSHALL by another client: a null key list flushes the L1 (tracking modes only;
        // nobody publishes a flush on a channel).
        if !matches!(inv, Invalidation::Channel(_)) {
            read(&a, b"other:1").await;
            c.set(b"user:2", b"y").await.expect("the server answers");
            read(&a, b"user:2").await;
            c.call(&[b"FLUSHALL"]).await.expect("the server answers");
            wait_for(&mut seen, None, &ctx).await;
            assert!(!a.l1().contains_key(b"user:2".as_slice()), "{ctx}");
        }
    }
}

async fn a_dropped_connection_flushes_the_l1_and_invalidation_resumes(addr: &str) {
    for (p, inv) in modes() {
        let ctx = format!("{p:?} {inv:?}");
        let c = client(addr).await;
        c.set(b"user:k", b"v0").await.expect("the server answers");
        let (a, mut seen) = tier(addr, p, &inv, None).await;
        let w = Writer::new(addr, p, &inv).await;
        // Drop the data connection, then (RESP2) the subscriber.
        let rounds = if p == Protocol::Resp2 { 2 } else { 1 };
        for round in 1..=rounds {
            assert!(read(&a, b"user:k").await.is_some(), "{ctx}");
            assert!(a.l1().contains_key(b"user:k".as_slice()), "{ctx}");
            let victim = if round == 1 {
                a.remote()
            } else {
                a.subscriber()
            };
            let id = victim.expect("connected").id().expect("a connection id");
            c.call(&[b"CLIENT", b"KILL", b"ID", id.to_string().as_bytes()])
                .await
                .expect("the server answers");
            wait_for(&mut seen, None, &ctx).await;
            assert!(!a.l1().contains_key(b"user:k".as_slice()), "{ctx}");
            assert_eq!(a.stats().disconnects, round, "{ctx}");

            tokio::time::timeout(PATIENCE, async {
                while !a.is_connected() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .expect("the tier reconnects");
            assert_eq!(a.stats().reconnects, round, "{ctx}");

            // Invalidation works on the new session.
            assert!(read(&a, b"user:k").await.is_some(), "{ctx}");
            let v = format!("v{round}");
            w.set(b"user:k", v.as_bytes()).await;
            wait_for(&mut seen, Some(b"user:k"), &ctx).await;
            assert_eq!(read(&a, b"user:k").await, Some(v.into_bytes()), "{ctx}");
        }
    }
}

async fn a_lost_invalidation_is_bounded_by_the_l1_ttl(addr: &str) {
    for (p, inv) in modes() {
        let ctx = format!("{p:?} {inv:?}");
        let c = client(addr).await;
        c.set(b"user:t", b"old").await.expect("the server answers");
        let clock = Arc::new(ManualClock::new(1_000));
        let (a, _seen) = tier(addr, p, &inv, Some(Arc::clone(&clock))).await;
        assert_eq!(read(&a, b"user:t").await, Some(b"old".to_vec()));
        // Lose the invalidation: tracking turned off behind the tier's back; in channel mode
        // a writer that does not publish.
        if !matches!(inv, Invalidation::Channel(_)) {
            let data = a.remote().expect("connected");
            data.call(&[b"CLIENT", b"TRACKING", b"off"])
                .await
                .expect("the server answers");
        }
        c.set(b"user:t", b"new").await.expect("the server answers");
        if inv == Invalidation::OptIn {
            // OPTIN reads need tracking on (`CLIENT CACHING yes`): back on after the write.
            let mut on: Vec<Vec<u8>> = vec![b"CLIENT".into(), b"TRACKING".into(), b"on".into()];
            if let Some(sub) = a.subscriber() {
                on.push(b"REDIRECT".into());
                on.push(sub.id().expect("an id").to_string().into_bytes());
            }
            on.push(b"OPTIN".into());
            let on: Vec<&[u8]> = on.iter().map(Vec::as_slice).collect();
            a.remote()
                .expect("connected")
                .call(&on)
                .await
                .expect("the server answers");
        }
        clock.advance(Duration::from_secs(4));
        assert_eq!(
            read(&a, b"user:t").await,
            Some(b"old".to_vec()),
            "{ctx}: stale within the TTL"
        );
        clock.advance(Duration::from_secs(2));
        assert_eq!(
            read(&a, b"user:t").await,
            Some(b"new".to_vec()),
            "{ctx}: fresh after the TTL"
        );
    }
}

/// Waits until every invalidation the server sent A before now has reached A's L1: a `PING`
/// on the connection invalidations arrive on is answered after them.
async fn barrier(a: &Tier) {
    let conn = a.subscriber().or_else(|| a.remote()).expect("connected");
    conn.call(&[b"PING"]).await.expect("the server answers");
}

async fn racing_fills_never_leave_a_stale_value(addr: &str) {
    for (p, inv) in modes() {
        let ctx = format!("{p:?} {inv:?}");
        let (a, _seen) = tier(addr, p, &inv, None).await;
        let a = Arc::new(a);
        let w = Writer::new(addr, p, &inv).await;
        w.set(b"user:race", b"0").await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (a, stop) = (Arc::clone(&a), Arc::clone(&stop));
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        read(&a, b"user:race").await;
                        // An L1 hit never waits: let the connection tasks run.
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        const WRITES: usize = 300;
        for i in 1..=WRITES {
            w.set(b"user:race", i.to_string().as_bytes()).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            r.await.expect("reader");
        }
        barrier(&a).await;
        if let Some(v) = a.l1().get(b"user:race".as_slice()) {
            assert_eq!(
                v,
                WRITES.to_string().into_bytes(),
                "{ctx}: a stale fill survived"
            );
        }
    }
}

/// Two tests per check: against `larder serve` and against redis-server.
macro_rules! on_both_servers {
    ($($check:ident: $larder:ident, $redis:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $larder() {
            let server = TestServer::start().await;
            $check(&server.addr.to_string()).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $redis() {
            let Some(redis) = redis().await else { return };
            $check(&redis.addr).await;
        }
    )*};
}

on_both_servers! {
    a_write_by_another_client_invalidates_the_l1:
        larder_a_write_by_another_client_invalidates_the_l1,
        redis_a_write_by_another_client_invalidates_the_l1;
    a_dropped_connection_flushes_the_l1_and_invalidation_resumes:
        larder_a_dropped_connection_flushes_the_l1,
        redis_a_dropped_connection_flushes_the_l1;
    a_lost_invalidation_is_bounded_by_the_l1_ttl:
        larder_a_lost_invalidation_is_bounded_by_the_l1_ttl,
        redis_a_lost_invalidation_is_bounded_by_the_l1_ttl;
    racing_fills_never_leave_a_stale_value:
        larder_racing_fills_never_leave_a_stale_value,
        redis_racing_fills_never_leave_a_stale_value;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_client_fails_requests_instead_of_hanging() {
    let server = TestServer::start().await;
    let c = client(&server.addr.to_string()).await;
    assert!(c.id().is_some());
    c.close();
    c.closed().await;
    assert!(c.is_closed());
    assert_eq!(c.get(b"k").await, Err(larder::RemoteError::Disconnected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_commands_go_through_subscribe_not_call() {
    let server = TestServer::start().await;
    let c = client(&server.addr.to_string()).await;
    assert!(matches!(
        c.call(&[b"SUBSCRIBE", b"a", b"b"]).await,
        Err(larder::RemoteError::Unsupported(_))
    ));
    // A RESP2 client learns its id through CLIENT ID.
    let mut config = RemoteConfig::new(server.addr.to_string());
    config.protocol = Protocol::Resp2;
    let c2 = RemoteClient::connect(&config, None, None)
        .await
        .expect("the server answers");
    assert!(c2.id().is_some());
    assert_eq!(c2.get(b"missing").await, Ok(None));
}
