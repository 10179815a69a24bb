//! `larder edge` against a scripted origin: storing, reuse, validation, stale serving,
//! invalidation, Vary, HEAD, cache keys and targeted fields.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test]
async fn a_fresh_response_is_served_from_the_cache_with_age_and_cache_status() {
    let o =
        origin(|_, _| async { respond(200, &[("cache-control", "max-age=60")], "hello") }).await;
    let e = edge(&o.url(), |_| {}).await;
    let first = get(e.addr, "/a", &[]).await;
    assert_eq!(first.body, "hello");
    assert!(
        first.header("cache-status").contains("fwd=uri-miss"),
        "{first:?}"
    );
    assert!(first.header("cache-status").contains("stored"));
    let second = get(e.addr, "/a", &[]).await;
    assert_eq!(second.body, "hello");
    assert!(
        second.header("cache-status").starts_with("larder; hit"),
        "{second:?}"
    );
    assert!(second.headers.contains_key("age"));
    assert_eq!(o.requests(), 1);
}

#[tokio::test]
async fn a_response_without_freshness_is_not_stored() {
    let o = origin(|_, _| async { respond(200, &[], "x") }).await;
    let e = edge(&o.url(), |_| {}).await;
    get(e.addr, "/a", &[]).await;
    get(e.addr, "/a", &[]).await;
    assert_eq!(o.requests(), 2);
}

#[tokio::test]
async fn a_stale_response_is_revalidated_and_the_304_merged() {
    let o = origin(|seen, n| async move {
        if n == 1 {
            respond(
                200,
                &[
                    ("cache-control", "max-age=10"),
                    ("etag", "\"v1\""),
                    ("x-v", "1"),
                ],
                "body",
            )
        } else {
            assert_eq!(seen.headers["if-none-match"], "\"v1\"");
            // The test's clock runs ahead of the origin's Date: a longer lifetime keeps the merged
            // response fresh.
            respond(304, &[("cache-control", "max-age=100"), ("x-v", "2")], "")
        }
    })
    .await;
    let (e, clock) = edge_manual(&o.url(), |_| {}).await;
    get(e.addr, "/r", &[]).await;
    clock.advance(Duration::from_secs(20));
    let revalidated = get(e.addr, "/r", &[]).await;
    assert_eq!(revalidated.body, "body");
    assert_eq!(revalidated.header("x-v"), "2");
    assert!(
        revalidated
            .header("cache-status")
            .contains("fwd-status=304")
    );
    let hit = get(e.addr, "/r", &[]).await;
    assert!(hit.header("cache-status").contains("hit"));
    assert_eq!(hit.header("x-v"), "2");
    assert_eq!(o.requests(), 2);
}

#[tokio::test]
async fn stale_while_revalidate_serves_stale_and_refreshes_once() {
    let o = origin(|_, n| async move {
        let body = format!("v{n}");
        // The refreshed copy lives longer than the test clock's lead over the origin's Date.
        let cc = if n == 1 {
            "max-age=1, stale-while-revalidate=60"
        } else {
            "max-age=100"
        };
        respond(200, &[("cache-control", cc)], &body)
    })
    .await;
    let (e, clock) = edge_manual(&o.url(), |_| {}).await;
    get(e.addr, "/s", &[]).await;
    clock.advance(Duration::from_secs(5));
    let replies = futures_join(e.addr, "/s", 5).await;
    for r in &replies {
        assert_eq!(r.body, "v1");
        assert!(r.header("cache-status").contains("stale-while-revalidate"));
    }
    wait_until(|| o.requests() >= 2).await;
    // The refreshed response replaces the stale one.
    wait_until_async(|| async { get(e.addr, "/s", &[]).await.body == "v2" }).await;
    assert_eq!(o.requests(), 2, "one background refresh");
}

#[tokio::test]
async fn stale_if_error_serves_stale_when_the_origin_fails() {
    let o = origin(|_, n| async move {
        if n == 1 {
            respond(
                200,
                &[("cache-control", "max-age=1, stale-if-error=60")],
                "good",
            )
        } else {
            respond(503, &[], "down")
        }
    })
    .await;
    let (e, clock) = edge_manual(&o.url(), |_| {}).await;
    get(e.addr, "/e", &[]).await;
    clock.advance(Duration::from_secs(5));
    let r = get(e.addr, "/e", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "good");
    assert!(r.header("cache-status").contains("stale-if-error"));
}

#[tokio::test]
async fn must_revalidate_is_never_served_stale_on_error() {
    let o = origin(|_, n| async move {
        if n == 1 {
            respond(
                200,
                &[(
                    "cache-control",
                    "max-age=1, must-revalidate, stale-if-error=60",
                )],
                "x",
            )
        } else {
            respond(503, &[], "down")
        }
    })
    .await;
    let (e, clock) = edge_manual(&o.url(), |_| {}).await;
    get(e.addr, "/m", &[]).await;
    clock.advance(Duration::from_secs(5));
    assert_eq!(get(e.addr, "/m", &[]).await.status, 503);
}

#[tokio::test]
async fn unsafe_methods_invalidate_the_url_and_its_location() {
    let o = origin(|seen, _| async move {
        if seen.method == "POST" {
            respond(201, &[("location", "/other")], "")
        } else {
            respond(200, &[("cache-control", "max-age=60")], "x")
        }
    })
    .await;
    let e = edge(&o.url(), |_| {}).await;
    get(e.addr, "/p", &[]).await;
    get(e.addr, "/other", &[]).await;
    let post = send(e.addr, "POST", "/p", &[]).await;
    assert_eq!(post.status, 201);
    get(e.addr, "/p", &[]).await;
    get(e.addr, "/other", &[]).await;
    assert_eq!(o.requests(), 5);
}

#[tokio::test]
async fn vary_selects_variants_and_head_is_answered_from_a_stored_get() {
    let o = origin(|seen, _| async move {
        let lang = seen.header("accept-language").unwrap_or("").to_string();
        respond(
            200,
            &[("cache-control", "max-age=60"), ("vary", "Accept-Language")],
            &lang,
        )
    })
    .await;
    let e = edge(&o.url(), |_| {}).await;
    assert_eq!(
        get(e.addr, "/v", &[("accept-language", "fr")]).await.body,
        "fr"
    );
    assert_eq!(
        get(e.addr, "/v", &[("accept-language", "de")]).await.body,
        "de"
    );
    assert_eq!(
        get(e.addr, "/v", &[("accept-language", "fr")]).await.body,
        "fr"
    );
    let head = send(e.addr, "HEAD", "/v", &[("accept-language", "de")]).await;
    assert!(head.header("cache-status").contains("hit"));
    assert_eq!(head.header("content-length"), "2");
    assert_eq!(o.requests(), 2);
}

#[tokio::test]
async fn dropped_query_parameters_leave_the_key_and_the_upstream_request() {
    let o = origin(|_, _| async { respond(200, &[("cache-control", "max-age=60")], "x") }).await;
    let e = edge(&o.url(), |c| {
        c.keys = vec![larder_http::KeyRule {
            prefix: "/shop/".into(),
            query_drop: vec!["utm_*".into()],
            ..larder_http::KeyRule::default()
        }];
    })
    .await;
    get(e.addr, "/shop/item?b=2&utm_source=mail&a=1", &[]).await;
    assert_eq!(o.last().uri, "/shop/item?a=1&b=2");
    get(e.addr, "/shop/item?a=1&utm_campaign=x&b=2", &[]).await;
    assert_eq!(o.requests(), 1);
}

#[tokio::test]
async fn targeted_fields_take_precedence_and_are_not_sent_downstream() {
    let o = origin(|_, _| async {
        respond(
            200,
            &[
                ("cache-control", "no-store"),
                ("larder-cache-control", "max-age=60"),
                ("surrogate-control", "max-age=60"),
            ],
            "x",
        )
    })
    .await;
    let e = edge(&o.url(), |_| {}).await;
    get(e.addr, "/t", &[]).await;
    let r = get(e.addr, "/t", &[]).await;
    assert!(r.header("cache-status").contains("hit"));
    assert!(!r.headers.contains_key("larder-cache-control"));
    assert!(!r.headers.contains_key("surrogate-control"));
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(o.requests(), 1);
}

#[tokio::test]
async fn bodies_over_the_object_limit_stream_through_unstored() {
    let big = "y".repeat(300_000);
    let body = big.clone();
    let o = origin(move |_, _| {
        let body = body.clone();
        async move { respond(200, &[("cache-control", "max-age=60")], &body) }
    })
    .await;
    let e = edge(&o.url(), |c| c.max_object_bytes = 100_000).await;
    assert_eq!(get(e.addr, "/big", &[]).await.body.len(), big.len());
    assert_eq!(get(e.addr, "/big", &[]).await.body.len(), big.len());
    assert_eq!(o.requests(), 2);
}

async fn futures_join(addr: std::net::SocketAddr, path: &'static str, n: usize) -> Vec<Reply> {
    let handles: Vec<_> = (0..n)
        .map(|_| tokio::spawn(async move { get(addr, path, &[]).await }))
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// Waits (bounded) for a condition another task makes true.
async fn wait_until(cond: impl Fn() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}

async fn wait_until_async<F, Fut>(cond: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}

#[tokio::test]
async fn a_soft_purged_response_is_revalidated_conditionally() {
    let o = origin(|seen, n| async move {
        let conditional = seen.header("if-none-match") == Some("\"e1\"");
        if n == 1 || !conditional {
            respond(
                200,
                &[("cache-control", "max-age=600"), ("etag", "\"e1\"")],
                "page",
            )
        } else {
            respond(304, &[("cache-control", "max-age=600")], "")
        }
    })
    .await;
    let e = edge(&o.url(), |_| {}).await;
    get(e.addr, "/soft", &[]).await;
    let mut keys = Vec::new();
    e.edge.cache().for_each(|key, variants| {
        if variants.iter().any(|r| r.url == "http://edge.test/soft") {
            keys.push(key.to_string());
        }
    });
    assert_eq!(keys.len(), 1);
    assert!(e.edge.cache().mark_stale(&keys[0]));
    let r = get(e.addr, "/soft", &[]).await;
    assert_eq!(r.body, "page");
    assert!(
        r.header("cache-status")
            .contains("fwd=stale; fwd-status=304"),
        "{r:?}"
    );
    assert!(
        get(e.addr, "/soft", &[])
            .await
            .header("cache-status")
            .contains("hit")
    );
    assert_eq!(o.requests(), 2);
    assert!(e.edge.cache().remove(&keys[0]));
    let fresh = get(e.addr, "/soft", &[]).await;
    assert!(
        fresh.header("cache-status").contains("fwd=uri-miss"),
        "{fresh:?}"
    );
    assert!(!o.last().headers.contains_key("if-none-match"));
    assert_eq!(o.requests(), 3);
}

#[tokio::test]
async fn a_client_conditional_miss_is_stored_and_answered_304() {
    let o = origin(|seen, _| async move {
        assert!(!seen.headers.contains_key("if-none-match"));
        respond(
            200,
            &[("cache-control", "max-age=600"), ("etag", "\"e1\"")],
            "page",
        )
    })
    .await;
    let e = edge(&o.url(), |_| {}).await;
    let r = get(e.addr, "/c", &[("if-none-match", "\"e1\"")]).await;
    assert_eq!(r.status, 304);
    assert_eq!(get(e.addr, "/c", &[]).await.body, "page");
    assert_eq!(o.requests(), 1);
}

#[tokio::test]
async fn an_object_near_the_size_limit_is_stored() {
    let body = "z".repeat(900_000);
    let b = body.clone();
    let o = origin(move |_, _| {
        let b = b.clone();
        async move { respond(200, &[("cache-control", "max-age=60")], &b) }
    })
    .await;
    let e = edge(&o.url(), |c| {
        c.capacity_bytes = 4 << 20;
        c.max_object_bytes = 1 << 20;
    })
    .await;
    get(e.addr, "/near", &[]).await;
    let hit = get(e.addr, "/near", &[]).await;
    assert_eq!(hit.body.len(), body.len());
    assert!(
        hit.header("cache-status").contains("hit"),
        "{:?}",
        hit.headers
    );
    assert_eq!(o.requests(), 1);
}

#[tokio::test]
async fn http2_clients_share_the_cache_with_http1_clients() {
    use http_body_util::{BodyExt, Full};
    let o = origin(|_, _| async { respond(200, &[("cache-control", "max-age=60")], "both") }).await;
    let e = edge(&o.url(), |_| {}).await;
    assert_eq!(get(e.addr, "/h2", &[]).await.body, "both");
    let stream = tokio::net::TcpStream::connect(e.addr)
        .await
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    let request = http::Request::get("http://edge.test/h2")
        .body(Full::new(bytes::Bytes::new()))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.version(), http::Version::HTTP_2);
    let status = response.headers()["cache-status"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(status.contains("hit"), "{status}");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, "both");
    assert_eq!(o.requests(), 1);
}
