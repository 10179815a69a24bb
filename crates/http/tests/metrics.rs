//! `GET /metrics` on the admin listener: a valid Prometheus text exposition whose counters follow
//! what the proxy did (hits, misses, stale served, revalidations, coalesced requests, origin
//! requests, bytes, hit ratio per path prefix).

mod common;
mod support;

use common::{Seen, edge_manual, get, origin, respond};
use larder_http::metrics::check_exposition;
use std::collections::HashMap;
use std::time::Duration;
use support::{TOKEN, admin, call};

/// The samples of an exposition by series (name with labels).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn metrics_follow_the_request_path() {
    let o = origin(|seen: Seen, _| async move {
        if seen.uri.starts_with("/slow") {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let swr = seen.uri.starts_with("/swr");
        let cc = if swr {
            "max-age=1, stale-while-revalidate=600"
        } else {
            "max-age=1"
        };
        let headers = [("cache-control", cc), ("etag", "\"e\"")];
        if seen.header("if-none-match") == Some("\"e\"") {
            return respond(304, &headers, "");
        }
        respond(200, &headers, "0123456789")
    })
    .await;
    let (e, clock) = edge_manual(&o.url(), |c| {
        c.admin.metrics_prefixes = vec!["/a/".into(), "/swr".into()];
    })
    .await;
    let a = admin(&e.edge, vec![]).await;
    // /a/1: miss, hit, hit; /b: miss.
    for path in ["/a/1", "/a/1", "/a/1", "/b"] {
        get(e.addr, path, &[]).await;
    }
    // Two concurrent misses on a slow URL: one origin request, one coalesced (a hit).
    let (x, y) = tokio::join!(get(e.addr, "/slow", &[]), get(e.addr, "/slow", &[]));
    assert_eq!(
        (x.status, y.status),
        (http::StatusCode::OK, http::StatusCode::OK)
    );
    // /a/1 goes stale: revalidated with a 304.
    get(e.addr, "/swr", &[]).await;
    clock.advance(Duration::from_secs(5));
    get(e.addr, "/a/1", &[]).await;
    // /swr is served stale (and refreshed in the background).
    assert!(
        get(e.addr, "/swr", &[])
            .await
            .header("cache-status")
            .contains("stale-while-revalidate")
    );
    // Wait for the background refresh of /swr to reach the origin (it is counted there).
    for _ in 0..200 {
        if o.seen.lock().iter().filter(|s| s.uri == "/swr").count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let r = call(a, "GET", "/metrics", Some(TOKEN), "").await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/plain; version=0.0.4"));
    check_exposition(&r.body).unwrap_or_else(|e| panic!("{e}\n{}", r.body));
    let m = samples(&r.body);
    let v = |k: &str| m.get(k).copied().unwrap_or_else(|| panic!("{k} missing"));
    assert_eq!(v("larder_edge_hits_total"), 3.0);
    assert_eq!(v("larder_edge_misses_total"), 4.0, "/a/1, /b, /swr, /slow");
    assert_eq!(v("larder_edge_stale_served_total"), 1.0);
    assert_eq!(v("larder_edge_requests_total{result=\"revalidated\"}"), 1.0);
    assert_eq!(
        v("larder_edge_revalidations_total"),
        2.0,
        "/a/1 and /swr's refresh"
    );
    assert_eq!(v("larder_edge_revalidations_not_modified_total"), 2.0);
    assert_eq!(v("larder_edge_coalesced_total"), 1.0);
    assert_eq!(v("larder_edge_origin_requests_total"), 6.0);
    assert_eq!(v("larder_edge_bytes_in_total"), 40.0, "four 10-byte bodies");
    assert_eq!(
        v("larder_edge_bytes_out_total"),
        90.0,
        "nine 10-byte bodies"
    );
    assert_eq!(
        v("larder_edge_prefix_requests_total{prefix=\"/a/\",result=\"hit\"}"),
        2.0
    );
    assert_eq!(
        v("larder_edge_prefix_requests_total{prefix=\"/a/\",result=\"miss\"}"),
        2.0
    );
    assert_eq!(v("larder_edge_prefix_hit_ratio{prefix=\"/a/\"}"), 0.5);
    assert_eq!(v("larder_edge_prefix_hit_ratio{prefix=\"/swr\"}"), 0.5);
    assert_eq!(v("larder_edge_cache_objects"), 4.0);
    // Purges are counted.
    support::purge(a, "prefix=/a/&soft=1").await;
    let m = samples(&call(a, "GET", "/metrics", Some(TOKEN), "").await.body);
    assert_eq!(m["larder_edge_purges_total{mode=\"soft\"}"], 1.0);
    assert_eq!(m["larder_edge_purged_objects_total"], 1.0);
}
