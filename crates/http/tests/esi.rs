//! Edge Side Includes through the proxy: only responses marked by `Surrogate-Control` are
//! processed, fragments are cached under their own keys with their own freshness, `alt` and
//! `onerror="continue"`, failures, nesting and its limit.

mod common;

use common::{Origin, Seen, edge, get, origin, respond};
use std::time::Duration;

const ESI: (&str, &str) = ("surrogate-control", "max-age=60, content=\"ESI/1.0\"");

/// An origin serving pages and fragments by path.
async fn site() -> Origin {
    origin(|seen: Seen, _| async move {
        let path = seen.uri.split('?').next().unwrap_or("/").to_string();
        let cached = ("cache-control", "max-age=60");
        match path.as_str() {
            "/page" => respond(
                200,
                &[ESI, ("etag", "\"tpl\""), ("content-type", "text/html")],
                "<h1><esi:include src=\"/frag/cached\"/></h1><p><esi:include src=\"live\"/></p>\
                 <esi:remove>no-esi fallback</esi:remove><!--esi <b>hidden</b>-->",
            ),
            "/private" => respond(
                200,
                &[
                    ("surrogate-control", "content=\"ESI/1.0\""),
                    ("cache-control", "private"),
                ],
                "hello <esi:include src=\"/frag/cached\"/>",
            ),
            "/plain" => respond(200, &[cached], "<esi:include src=\"/frag/cached\"/>"),
            "/frag/cached" => respond(200, &[cached], "CACHED"),
            "/live" => respond(200, &[("cache-control", "no-store")], "LIVE"),
            "/fallbacks" => respond(
                200,
                &[ESI],
                "a<esi:include src=\"/missing\" alt=\"/frag/cached\"/>b\
                 <esi:include src=\"/missing\" onerror=\"continue\"/>c",
            ),
            "/broken" => respond(200, &[ESI], "a<esi:include src=\"/missing\"/>b"),
            "/nested" => respond(200, &[ESI], "[<esi:include src=\"/level/1\"/>]"),
            "/level/1" => respond(200, &[ESI], "1(<esi:include src=\"/level/2\"/>)"),
            "/level/2" => respond(200, &[ESI], "2(<esi:include src=\"/frag/cached\"/>)"),
            "/slow" => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                respond(200, &[], "late")
            }
            "/timeouts" => respond(
                200,
                &[ESI],
                "x<esi:include src=\"/slow\" alt=\"/frag/cached\"/>y",
            ),
            _ => respond(404, &[], "not found"),
        }
    })
    .await
}

fn count(o: &Origin, path: &str) -> usize {
    o.seen.lock().iter().filter(|s| s.uri == path).count()
}

#[tokio::test]
async fn a_marked_page_is_assembled_and_fragments_keep_their_own_freshness() {
    let o = site().await;
    let e = edge(&o.url(), |_| {}).await;
    for round in 0..3 {
        let r = get(e.addr, "/page", &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            "<h1>CACHED</h1><p>LIVE</p> <b>hidden</b>",
            "round {round}"
        );
        assert_eq!(r.header("content-length"), r.body.len().to_string());
        assert_eq!(r.header("surrogate-control"), "");
        assert_eq!(r.header("larder-esi-pending"), "");
        assert_eq!(
            r.header("etag"),
            "",
            "the template's validator is not the page's"
        );
    }
    // The template and the cacheable fragment were fetched once, the no-store one every time.
    assert_eq!(count(&o, "/page"), 1);
    assert_eq!(count(&o, "/frag/cached"), 1);
    assert_eq!(count(&o, "/live"), 3);
    // The fragment is a cache entry of its own.
    let r = get(e.addr, "/frag/cached", &[]).await;
    assert!(r.header("cache-status").contains("hit"));
    assert_eq!(count(&o, "/frag/cached"), 1);
}

#[tokio::test]
async fn only_marked_responses_are_processed() {
    let o = site().await;
    let e = edge(&o.url(), |_| {}).await;
    let r = get(e.addr, "/plain", &[]).await;
    assert_eq!(&r.body[..], b"<esi:include src=\"/frag/cached\"/>");
    assert_eq!(count(&o, "/frag/cached"), 0);
    // Disabled in the configuration: passed through as it is (marker field removed).
    let off = edge(&o.url(), |c| c.esi.enabled = false).await;
    let r = get(off.addr, "/page", &[]).await;
    assert!(String::from_utf8_lossy(&r.body).contains("<esi:include"));
    assert_eq!(r.header("larder-esi-pending"), "");
}

#[tokio::test]
async fn an_uncacheable_page_is_assembled_from_cached_fragments() {
    let o = site().await;
    let e = edge(&o.url(), |_| {}).await;
    for _ in 0..2 {
        assert_eq!(
            &get(e.addr, "/private", &[]).await.body[..],
            b"hello CACHED"
        );
    }
    assert_eq!(count(&o, "/private"), 2);
    assert_eq!(count(&o, "/frag/cached"), 1);
}

#[tokio::test]
async fn alt_continue_and_failures() {
    let o = site().await;
    let e = edge(&o.url(), |_| {}).await;
    assert_eq!(&get(e.addr, "/fallbacks", &[]).await.body[..], b"aCACHEDbc");
    let r = get(e.addr, "/broken", &[]).await;
    assert_eq!(r.status, 502);
    assert!(!String::from_utf8_lossy(&r.body).contains("esi:"));
}

#[tokio::test]
async fn a_slow_fragment_times_out_to_its_alt() {
    let o = site().await;
    let e = edge(&o.url(), |c| c.esi.fragment_timeout_ms = 200).await;
    assert_eq!(&get(e.addr, "/timeouts", &[]).await.body[..], b"xCACHEDy");
}

#[tokio::test]
async fn nested_fragments_are_processed_down_to_the_depth_limit() {
    let o = site().await;
    let e = edge(&o.url(), |_| {}).await;
    assert_eq!(
        &get(e.addr, "/nested", &[]).await.body[..],
        b"[1(2(CACHED))]"
    );
    let shallow = edge(&o.url(), |c| c.esi.max_depth = 2).await;
    assert_eq!(get(shallow.addr, "/nested", &[]).await.status, 502);
}
