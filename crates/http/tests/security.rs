//! What one client sends must not change what another receives: shared-cache privacy rules,
//! unkeyed inputs, web cache deception, request smuggling.

mod common;

use common::*;

/// An origin that answers with `headers` and reflects some request inputs in its body, the way
/// vulnerable applications do.
async fn reflecting_origin(headers: &'static [(&'static str, &'static str)]) -> Origin {
    origin(move |seen, _| async move {
        let reflect = |name: &str| seen.header(name).unwrap_or("-").to_string();
        let body = format!(
            "host={} url={} method={} user={}",
            reflect("x-forwarded-host"),
            reflect("x-original-url"),
            reflect("x-http-method-override"),
            reflect("authorization"),
        );
        respond(200, headers, &body)
    })
    .await
}

#[tokio::test]
async fn a_response_to_an_authorized_request_is_not_shared_unless_allowed() {
    let o = reflecting_origin(&[("cache-control", "max-age=60")]).await;
    let e = edge(&o.url(), |_| {}).await;
    let alice = get(e.addr, "/me", &[("authorization", "Bearer alice")]).await;
    assert!(String::from_utf8_lossy(&alice.body).contains("alice"));
    let other = get(e.addr, "/me", &[]).await;
    assert!(!String::from_utf8_lossy(&other.body).contains("alice"));
    assert_eq!(o.requests(), 2);

    let public = reflecting_origin(&[("cache-control", "public, max-age=60")]).await;
    let e = edge(&public.url(), |_| {}).await;
    get(e.addr, "/shared", &[("authorization", "Bearer alice")]).await;
    get(e.addr, "/shared", &[]).await;
    assert_eq!(
        public.requests(),
        1,
        "`public` allows sharing (RFC 9111 §3.5)"
    );
}

#[tokio::test]
async fn private_no_store_set_cookie_and_vary_star_are_never_shared() {
    let cases: [&'static [(&'static str, &'static str)]; 4] = [
        &[("cache-control", "private, max-age=60")],
        &[("cache-control", "no-store, max-age=60")],
        &[
            ("cache-control", "max-age=60"),
            ("set-cookie", "session=alice"),
        ],
        &[("cache-control", "max-age=60"), ("vary", "*")],
    ];
    for headers in cases {
        let o = reflecting_origin(headers).await;
        let e = edge(&o.url(), |_| {}).await;
        get(e.addr, "/p", &[]).await;
        let second = get(e.addr, "/p", &[]).await;
        assert!(
            !second.header("cache-status").contains("hit"),
            "{headers:?}"
        );
        assert_eq!(o.requests(), 2, "{headers:?}");
    }
}

#[tokio::test]
async fn unkeyed_headers_cannot_poison_what_others_receive() {
    let o = reflecting_origin(&[("cache-control", "max-age=60")]).await;
    let e = edge(&o.url(), |_| {}).await;
    let attack = [
        ("x-forwarded-host", "evil.test"),
        ("x-original-url", "/admin"),
        ("x-http-method-override", "DELETE"),
    ];
    get(e.addr, "/home", &attack).await;
    for (name, _) in attack {
        assert!(
            !o.last().headers.contains_key(name),
            "{name} reached the origin"
        );
    }
    let victim = get(e.addr, "/home", &[]).await;
    assert_eq!(victim.body, "host=- url=- method=- user=-");
}

#[tokio::test]
async fn an_oversized_header_is_refused_and_does_not_reach_the_cache() {
    let o = reflecting_origin(&[("cache-control", "max-age=60")]).await;
    let e = edge(&o.url(), |c| c.max_request_header_bytes = 16 << 10).await;
    let huge = "a".repeat(64 << 10);
    let reply = raw(
        e.addr,
        format!("GET /big HTTP/1.1\r\nHost: edge.test\r\nX-Junk: {huge}\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply:.80}");
    assert_eq!(o.requests(), 0);
    let victim = get(e.addr, "/big", &[]).await;
    assert_eq!(victim.status, 200);
}

#[tokio::test]
async fn web_cache_deception_paths_are_not_stored_without_the_origins_consent() {
    // The origin ignores the `/x.css` suffix and serves the account page, as its framework routes
    // it: without explicit freshness the response is not stored, whatever the extension says.
    let o = reflecting_origin(&[("content-type", "text/html")]).await;
    let e = edge(&o.url(), |_| {}).await;
    let alice = get(
        e.addr,
        "/account/settings/x.css",
        &[("authorization", "Bearer alice")],
    )
    .await;
    assert!(String::from_utf8_lossy(&alice.body).contains("alice"));
    let attacker = get(e.addr, "/account/settings/x.css", &[]).await;
    assert!(!String::from_utf8_lossy(&attacker.body).contains("alice"));
    assert_eq!(o.requests(), 2);

    // Marked private by the origin: the same.
    let o = origin(|_, _| async {
        respond(
            200,
            &[("cache-control", "private, max-age=600")],
            "alice's settings",
        )
    })
    .await;
    let e = edge(&o.url(), |_| {}).await;
    get(
        e.addr,
        "/account/settings/x.css",
        &[("cookie", "session=alice")],
    )
    .await;
    let attacker = get(e.addr, "/account/settings/x.css", &[]).await;
    assert!(!attacker.header("cache-status").contains("hit"));
    assert_eq!(o.requests(), 2);
}

#[tokio::test]
async fn conflicting_content_length_and_transfer_encoding_get_400_and_close() {
    let o = reflecting_origin(&[("cache-control", "max-age=60")]).await;
    let e = edge(&o.url(), |_| {}).await;
    for request in [
        "POST /x HTTP/1.1\r\nHost: edge.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: edge.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        // After a well-framed request on the same connection.
        "GET /ok HTTP/1.1\r\nHost: edge.test\r\n\r\nPOST /x HTTP/1.1\r\nHost: edge.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: edge.test\r\n\r\n",
    ] {
        // `raw` returns once the edge closes the connection.
        let reply = raw(e.addr, request.as_bytes()).await;
        assert!(reply.contains("HTTP/1.1 400"), "{request:?} -> {reply}");
        assert!(!reply.contains("smuggled"), "{reply}");
        assert!(o.seen.lock().iter().all(|s| s.method != "POST"));
    }
}
