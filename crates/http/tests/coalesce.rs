//! Request coalescing and tiers: concurrent misses make one upstream request, through a chain
//! origin ← shield ← edges too.

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// An origin whose responses wait until the test opens the gate.
async fn gated_origin(cache_control: &'static str) -> (Origin, watch::Sender<bool>) {
    let (tx, rx) = watch::channel(false);
    let o = origin(move |_, n| {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|open| *open).await;
            respond(200, &[("cache-control", cache_control)], &format!("r{n}"))
        }
    })
    .await;
    (o, tx)
}

/// Waits (bounded) until `cond` holds; the condition is made true by other tasks.
async fn wait_until(cond: impl Fn() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not reached");
}

fn burst(addr: std::net::SocketAddr, n: usize) -> Vec<tokio::task::JoinHandle<Reply>> {
    (0..n)
        .map(|_| tokio::spawn(async move { get(addr, "/c", &[]).await }))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_make_one_origin_request() {
    let (o, gate) = gated_origin("max-age=60").await;
    let e = edge(&o.url(), |_| {}).await;
    let handles = burst(e.addr, 50);
    let edge = e.edge.clone();
    wait_until(|| edge.coalescer().coalesced() == 49).await;
    gate.send_replace(true);
    for h in handles {
        let r = h.await.expect("task");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "r1");
    }
    assert_eq!(o.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_go_upstream_themselves_when_the_response_is_not_storable() {
    let (o, gate) = gated_origin("no-store").await;
    let e = edge(&o.url(), |_| {}).await;
    let handles = burst(e.addr, 5);
    let edge = e.edge.clone();
    wait_until(|| edge.coalescer().coalesced() == 4).await;
    gate.send_replace(true);
    for h in handles {
        assert_eq!(h.await.expect("task").status, 200);
    }
    assert_eq!(o.requests(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_shield_and_three_edges_make_one_origin_fetch() {
    let (o, gate) = gated_origin("max-age=60").await;
    let shield = edge(&o.url(), |c| c.name = "shield".into()).await;
    let mut edges = Vec::new();
    for i in 0..3 {
        edges.push(edge(&shield.url(), |c| c.name = format!("edge{i}")).await);
    }
    let mut handles = Vec::new();
    for e in &edges {
        handles.extend(burst(e.addr, 10));
    }
    let (s, es): (Arc<_>, Vec<_>) = (
        shield.edge.clone(),
        edges.iter().map(|e| e.edge.clone()).collect(),
    );
    wait_until(|| {
        s.coalescer().coalesced() == 2 && es.iter().all(|e| e.coalescer().coalesced() == 9)
    })
    .await;
    gate.send_replace(true);
    for h in handles {
        let r = h.await.expect("task");
        assert_eq!(r.body, "r1");
        // Each hop appends its Cache-Status member, the origin's side first.
        assert!(r.header("cache-status").starts_with("shield;"), "{r:?}");
    }
    assert_eq!(o.requests(), 1);
}

#[tokio::test]
async fn age_and_freshness_stay_correct_along_the_chain() {
    let o = origin(|_, _| async {
        respond(200, &[("cache-control", "max-age=100"), ("age", "30")], "x")
    })
    .await;
    let (shield, shield_clock) = edge_manual(&o.url(), |_| {}).await;
    let (front, front_clock) = edge_manual(&shield.url(), |_| {}).await;
    // The shield stores it at age 30 and keeps it for 40 s.
    get(shield.addr, "/age", &[]).await;
    shield_clock.advance(Duration::from_secs(40));
    front_clock.advance(Duration::from_secs(40));
    // The edge's copy arrives 70 s old: 30 s left.
    let r = get(front.addr, "/age", &[]).await;
    assert!(r.header("age").parse::<u64>().expect("age") >= 70, "{r:?}");
    front_clock.advance(Duration::from_secs(25));
    let hit = get(front.addr, "/age", &[]).await;
    assert!(
        hit.header("cache-status").ends_with("hit; ttl=5"),
        "{hit:?}"
    );
    front_clock.advance(Duration::from_secs(10));
    let stale = get(front.addr, "/age", &[]).await;
    assert!(
        !stale.header("cache-status").ends_with("hit; ttl=-5"),
        "{stale:?}"
    );
    assert!(
        stale.header("cache-status").contains("fwd=stale"),
        "{stale:?}"
    );
}
