//! Purging through the admin listener: the token, every selector, hard and soft modes, the tag
//! index, fan-out to peer edges, and a soft purge of 1,000 URLs under load.

mod common;
mod support;

use common::{Origin, Seen, edge, get, origin, respond};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use support::{TOKEN, admin, call, purge};

/// An origin whose responses are fresh for an hour, carry an ETag per path, and are tagged:
/// `Cache-Tag: all, <first path segment>` and `Surrogate-Key: path-<last segment>`. A request
/// carrying the current ETag gets 304.
async fn tagged_origin() -> Origin {
    origin(|seen: Seen, _| async move {
        let path = seen.uri.split('?').next().unwrap_or("/").to_string();
        let etag = format!("\"{}\"", path.len());
        let first = path.split('/').nth(1).unwrap_or("").to_string();
        let last = path.rsplit('/').next().unwrap_or("").to_string();
        let cache_tag = format!("all, {first}");
        let surrogate = format!("path-{last} extra");
        let headers = [
            ("cache-control", "max-age=3600"),
            ("etag", etag.as_str()),
            ("cache-tag", cache_tag.as_str()),
            ("surrogate-key", surrogate.as_str()),
        ];
        if seen.header("if-none-match") == Some(etag.as_str()) {
            return respond(304, &headers, "");
        }
        respond(200, &headers, &format!("body of {path}"))
    })
    .await
}

const PATHS: [&str; 5] = ["/news/a", "/news/b", "/shop/x.css", "/shop/y.js", "/about"];

/// Warms every path; returns the origin's count afterwards.
async fn warm(o: &Origin, addr: std::net::SocketAddr) -> usize {
    for p in PATHS {
        get(addr, p, &[]).await;
    }
    for p in PATHS {
        assert!(
            get(addr, p, &[])
                .await
                .header("cache-status")
                .contains("hit")
        );
    }
    o.requests()
}

/// Which of `PATHS` now go to the origin.
async fn refetched(o: &Origin, addr: std::net::SocketAddr) -> Vec<&'static str> {
    let mut out = Vec::new();
    for p in PATHS {
        let before = o.requests();
        get(addr, p, &[]).await;
        if o.requests() > before {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn a_purge_without_the_right_token_gets_401_and_purges_nothing() {
    let o = tagged_origin().await;
    let e = edge(&o.url(), |_| {}).await;
    let a = admin(&e.edge, vec![]).await;
    let before = warm(&o, e.addr).await;
    for token in [None, Some("wrong"), Some(""), Some("s3cret-token-and-more")] {
        let r = call(a, "POST", "/purge", token, "all=1").await;
        assert_eq!(r.status, 401);
        let r = call(a, "PURGE", "/news/a", token, "").await;
        assert_eq!(r.status, 401);
        assert_eq!(call(a, "GET", "/metrics", token, "").await.status, 401);
    }
    assert!(refetched(&o, e.addr).await.is_empty());
    assert_eq!(o.requests(), before);
}

#[tokio::test]
async fn hard_purges_by_url_prefix_wildcard_tag_and_everything() {
    let o = tagged_origin().await;
    let e = edge(&o.url(), |_| {}).await;
    let a = admin(&e.edge, vec![]).await;
    let cases: [(&str, &[&str]); 7] = [
        ("url=http://edge.test/news/a", &["/news/a"]),
        ("url=/about", &["/about"]),
        ("prefix=/shop/", &["/shop/x.css", "/shop/y.js"]),
        ("wildcard=/*/?.css", &["/shop/x.css"]),
        ("tag=news", &["/news/a", "/news/b"]),
        ("tag=path-y.js&tag=path-about", &["/shop/y.js", "/about"]),
        ("all=1", &PATHS),
    ];
    for (form, expected) in cases {
        warm(&o, e.addr).await;
        let answer = purge(a, form).await;
        assert_eq!(answer["mode"], "hard", "{form}");
        assert_eq!(answer["purged"], expected.len(), "{form}: {answer}");
        assert_eq!(refetched(&o, e.addr).await, expected, "{form}");
    }
    // The PURGE method purges one path (on every host).
    warm(&o, e.addr).await;
    let r = call(a, "PURGE", "/news/b", Some(TOKEN), "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["purged"], 1);
    assert_eq!(refetched(&o, e.addr).await, ["/news/b"]);
    // Bad requests purge nothing.
    warm(&o, e.addr).await;
    for form in ["", "soft=1", "colour=blue"] {
        assert_eq!(
            call(a, "POST", "/purge", Some(TOKEN), form).await.status,
            400
        );
    }
    assert!(refetched(&o, e.addr).await.is_empty());
}

#[tokio::test]
async fn a_soft_purge_revalidates_conditionally_and_the_304_refreshes() {
    let o = tagged_origin().await;
    let e = edge(&o.url(), |_| {}).await;
    let a = admin(&e.edge, vec![]).await;
    warm(&o, e.addr).await;
    let answer = purge(a, "tag=news&soft=1").await;
    assert_eq!(answer["mode"], "soft");
    assert_eq!(answer["purged"], 2);
    let mark = o.seen.lock().len();
    for p in ["/news/a", "/news/b"] {
        let r = get(e.addr, p, &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..], format!("body of {p}").as_bytes());
        assert!(r.header("cache-status").contains("fwd-status=304"));
        // Fresh again after the 304.
        assert!(
            get(e.addr, p, &[])
                .await
                .header("cache-status")
                .contains("hit")
        );
    }
    let seen: Vec<Seen> = o.seen.lock()[mark..].to_vec();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.header("if-none-match").is_some()));
    // The others were not touched.
    assert!(refetched(&o, e.addr).await.is_empty());
}

#[tokio::test]
async fn the_tag_index_follows_what_is_stored() {
    let o = tagged_origin().await;
    let e = edge(&o.url(), |_| {}).await;
    let a = admin(&e.edge, vec![]).await;
    warm(&o, e.addr).await;
    let index = e.edge.cache().tag_index();
    assert!(index.complete());
    // all, <segment>, path-<last>, extra: 4 tags per object.
    assert_eq!(index.pairs(), 4 * PATHS.len());
    purge(a, "url=/about").await;
    assert_eq!(index.pairs(), 4 * (PATHS.len() - 1));
    purge(a, "prefix=/shop/").await;
    assert_eq!(index.pairs(), 4 * (PATHS.len() - 3));
    purge(a, "all=1").await;
    assert_eq!(index.pairs(), 0);
}

#[tokio::test]
async fn purges_fan_out_to_peer_edges() {
    let o = tagged_origin().await;
    let peers = [
        edge(&o.url(), |_| {}).await,
        edge(&o.url(), |_| {}).await,
        edge(&o.url(), |_| {}).await,
    ];
    let mut peer_admins = Vec::new();
    for p in &peers {
        peer_admins.push(format!("http://{}", admin(&p.edge, vec![]).await));
    }
    let main = edge(&o.url(), |_| {}).await;
    let a = admin(&main.edge, peer_admins.clone()).await;
    for e in peers.iter().chain([&main]) {
        warm(&o, e.addr).await;
    }
    let answer = purge(a, "tag=news").await;
    assert_eq!(answer["purged"], 2);
    assert_eq!(answer["all_peers_ok"], true, "{answer}");
    assert!(answer["propagation_ms"].as_f64().is_some());
    let reported = answer["peers"].as_array().expect("peers");
    assert_eq!(reported.len(), 3);
    for (r, url) in reported.iter().zip(&peer_admins) {
        assert_eq!(r["peer"], url.as_str());
        assert_eq!(r["ok"], true);
        assert_eq!(r["purged"], 2);
    }
    for e in peers.iter().chain([&main]) {
        assert_eq!(refetched(&o, e.addr).await, ["/news/a", "/news/b"]);
    }
    // A peer that is down is reported, and the others are still purged.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let other = edge(&o.url(), |_| {}).await;
    let a2 = admin(&other.edge, vec![peer_admins[0].clone(), dead.clone()]).await;
    warm(&o, peers[0].addr).await;
    let answer = purge(a2, "prefix=/shop/").await;
    assert_eq!(answer["all_peers_ok"], false);
    assert!(answer["propagation_ms"].is_null());
    assert_eq!(answer["peers"][0]["ok"], true);
    assert_eq!(answer["peers"][1]["ok"], false);
    assert_eq!(answer["peers"][1]["peer"], dead.as_str());
    assert_eq!(
        refetched(&o, peers[0].addr).await,
        ["/shop/x.css", "/shop/y.js"]
    );
}

/// The figure: after a soft purge of 1,000 URLs under load, the origin sees only
/// conditional requests, answered 304. Prints the counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_purge_of_1000_urls_under_load_sends_only_conditional_requests() {
    const URLS: usize = 1000;
    const CLIENTS: usize = 8;
    let after_purge = Arc::new(AtomicBool::new(false));
    let (conditional, answered_304, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (flag, c, n304, oth) = (
        after_purge.clone(),
        conditional.clone(),
        answered_304.clone(),
        other.clone(),
    );
    let o = origin(move |seen: Seen, _| {
        let (flag, c, n304, oth) = (flag.clone(), c.clone(), n304.clone(), oth.clone());
        async move {
            let etag = format!("\"v1-{}\"", seen.uri);
            let headers = [("cache-control", "max-age=3600"), ("etag", etag.as_str())];
            let matches = seen.header("if-none-match") == Some(etag.as_str());
            if flag.load(Ordering::SeqCst) {
                if seen.header("if-none-match").is_some() {
                    c.fetch_add(1, Ordering::SeqCst);
                }
                if matches {
                    n304.fetch_add(1, Ordering::SeqCst);
                } else {
                    oth.fetch_add(1, Ordering::SeqCst);
                }
            }
            if matches {
                respond(304, &headers, "")
            } else {
                respond(200, &headers, &"x".repeat(512))
            }
        }
    })
    .await;
    let e = edge(&o.url(), |_| {}).await;
    let a = admin(&e.edge, vec![]).await;
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let addr = e.addr;
    let fetch = move |client: Client<_, Empty<bytes::Bytes>>, i: usize| {
        let uri = format!("http://{addr}/load/{i}");
        async move {
            let r = client
                .request(
                    http::Request::get(uri)
                        .header("host", "edge.test")
                        .body(Empty::new())
                        .expect("request"),
                )
                .await
                .expect("response");
            assert_eq!(r.status(), 200);
            let body = r.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(body.len(), 512);
        }
    };
    for i in 0..URLS {
        fetch(client.clone(), i).await;
    }
    assert_eq!(o.requests(), URLS);
    // Load: CLIENTS clients sweep all URLs twice, each from its own offset; the purge lands
    // while they run.
    let purged_flag = Arc::new(AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let (client, fetch, purged_flag) = (client.clone(), fetch, purged_flag.clone());
        load.spawn(async move {
            let mut done_after_purge = 0;
            let mut i = c * URLS / CLIENTS;
            // Run until a whole sweep has been made after the purge.
            while done_after_purge < URLS {
                fetch(client.clone(), i % URLS).await;
                i += 1;
                if purged_flag.load(Ordering::SeqCst) {
                    done_after_purge += 1;
                }
            }
        });
    }
    tokio::task::yield_now().await;
    after_purge.store(true, Ordering::SeqCst);
    let before = o.requests();
    let answer = purge(a, "prefix=/load/&soft=1").await;
    purged_flag.store(true, Ordering::SeqCst);
    assert_eq!(answer["purged"], URLS);
    while let Some(r) = load.join_next().await {
        r.expect("client");
    }
    let after = o.requests() - before;
    let (conditional, answered_304, other) = (
        conditional.load(Ordering::SeqCst),
        answered_304.load(Ordering::SeqCst),
        other.load(Ordering::SeqCst),
    );
    eprintln!(
        "soft purge of {URLS} URLs under load ({CLIENTS} clients): origin requests after the purge {after}, conditional {conditional}, answered 304 {answered_304}, other {other}"
    );
    assert_eq!(other, 0);
    assert_eq!(conditional, after);
    assert_eq!(answered_304, after);
    // Every URL was revalidated (at least once; coalescing keeps it near once).
    assert!(after >= URLS, "{after}");
}
