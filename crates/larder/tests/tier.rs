//! The L1/L2 tier against `larder serve` started in-process on 127.0.0.1:0: a write by a second
//! client invalidates the first client's L1 (through `CLIENT TRACKING` pushes); a dropped
//! connection flushes the L1 and the tier reconnects with tracking re-enabled; the L1 TTL
//! bounds how long an entry can be served.

use larder::ManualClock;
use larder::remote::{RemoteClient, RemoteConfig};
use larder::tier::{Tier, TierConfig};
mod inproc;

use inproc::TestServer;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A bound only a hang reaches.
const PATIENCE: Duration = Duration::from_secs(20);

/// Invalidations as they reach the L1: `Some(key)` or `None` for a flush.
type Seen = mpsc::Receiver<Option<Vec<u8>>>;

async fn tier(addr: SocketAddr, clock: Option<Arc<ManualClock>>) -> (Tier, Seen) {
    let (tx, rx) = mpsc::channel(1024);
    let mut config = TierConfig::new(addr.to_string());
    config.on_invalidate = Some(Arc::new(move |k: Option<&[u8]>| {
        let _ = tx.try_send(k.map(<[u8]>::to_vec));
    }));
    if let Some(c) = clock {
        config.clock = Some(c);
        config.l1_ttl = Duration::from_secs(5);
    }
    (Tier::connect(config).await.expect("connect"), rx)
}

async fn client(addr: SocketAddr) -> RemoteClient {
    RemoteClient::connect(&RemoteConfig::new(addr.to_string()), None, None)
        .await
        .expect("connect")
}

/// Waits (bounded) for the next invalidation that reached the L1.
async fn next(seen: &mut Seen) -> Option<Vec<u8>> {
    tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .expect("an invalidation arrives")
        .expect("the tier is alive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_by_another_client_invalidates_the_l1() {
    let server = TestServer::start().await;
    let (a, mut seen) = tier(server.addr, None).await;
    let b = client(server.addr).await;
    b.set(b"user:1", b"alice").await.unwrap();
    assert_eq!(a.get(b"user:1").await.unwrap(), Some(b"alice".to_vec()));
    assert!(a.l1().contains_key(b"user:1".as_slice()));
    // Served from the L1 now: a second read makes no round trip but gives the same value.
    assert_eq!(a.get(b"user:1").await.unwrap(), Some(b"alice".to_vec()));

    b.set(b"user:1", b"bob").await.unwrap();
    assert_eq!(next(&mut seen).await, Some(b"user:1".to_vec()));
    assert!(!a.l1().contains_key(b"user:1".as_slice()));
    assert_eq!(a.get(b"user:1").await.unwrap(), Some(b"bob".to_vec()));
    assert_eq!(a.stats().invalidated_keys, 1);

    // DEL by another client invalidates too; a missing key is not cached.
    b.del(b"user:1").await.unwrap();
    assert_eq!(next(&mut seen).await, Some(b"user:1".to_vec()));
    assert_eq!(a.get(b"user:1").await.unwrap(), None);
    assert!(!a.l1().contains_key(b"user:1".as_slice()));

    // The tier's own writes drop its L1 entry at once.
    a.set(b"user:2", b"carol").await.unwrap();
    assert_eq!(a.get(b"user:2").await.unwrap(), Some(b"carol".to_vec()));
    a.set(b"user:2", b"dave").await.unwrap();
    assert_eq!(a.get(b"user:2").await.unwrap(), Some(b"dave".to_vec()));

    // FLUSHALL by another client flushes the whole L1 (a null invalidation).
    b.call(&[b"FLUSHALL"]).await.unwrap();
    loop {
        if next(&mut seen).await.is_none() {
            break;
        }
    }
    assert!(!a.l1().contains_key(b"user:2".as_slice()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_flushes_the_l1_and_tracking_resumes_on_reconnect() {
    let server = TestServer::start().await;
    let (a, mut seen) = tier(server.addr, None).await;
    let b = client(server.addr).await;
    b.set(b"k", b"v1").await.unwrap();
    a.get(b"k").await.unwrap();
    assert!(a.l1().contains_key(b"k".as_slice()));

    let id = a
        .remote()
        .unwrap()
        .id()
        .expect("HELLO gives the connection id");
    b.call(&[b"CLIENT", b"KILL", b"ID", id.to_string().as_bytes()])
        .await
        .unwrap();
    assert_eq!(next(&mut seen).await, None, "the drop flushes the L1");
    assert!(!a.l1().contains_key(b"k".as_slice()));
    assert_eq!(a.stats().disconnects, 1);

    // The supervisor reconnects; wait for it, bounded.
    tokio::time::timeout(PATIENCE, async {
        while !a.is_connected() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the tier reconnects");
    assert_eq!(a.stats().reconnects, 1);
    assert_ne!(a.remote().unwrap().id(), Some(id));

    // Tracking is on again on the new connection.
    assert_eq!(a.get(b"k").await.unwrap(), Some(b"v1".to_vec()));
    b.set(b"k", b"v2").await.unwrap();
    assert_eq!(next(&mut seen).await, Some(b"k".to_vec()));
    assert_eq!(a.get(b"k").await.unwrap(), Some(b"v2".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_l1_ttl_bounds_how_long_an_entry_is_served() {
    let server = TestServer::start().await;
    let clock = Arc::new(ManualClock::new(1_000));
    let (a, _seen) = tier(server.addr, Some(Arc::clone(&clock))).await;
    a.set(b"k", b"v").await.unwrap();
    a.get(b"k").await.unwrap();
    clock.advance(Duration::from_secs(4));
    assert!(a.l1().contains_key(b"k".as_slice()));
    clock.advance(Duration::from_secs(2));
    assert!(!a.l1().contains_key(b"k".as_slice()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_client_fails_requests_instead_of_hanging() {
    let server = TestServer::start().await;
    let c = client(server.addr).await;
    assert!(c.id().is_some());
    c.close();
    c.closed().await;
    assert!(c.is_closed());
    assert_eq!(c.get(b"k").await, Err(larder::RemoteError::Disconnected));
}
