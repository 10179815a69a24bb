//! Server-assisted client-side caching (`CLIENT TRACKING`) over real sockets: default mode,
//! `BCAST` with prefixes, `OPTIN`/`OPTOUT`, `NOLOOP`, `REDIRECT` to a RESP2 subscriber, RESP3
//! pushes after the reply, flushes, the option errors, and a near cache that must never keep a
//! stale value while another client writes 10,000 times.

mod raw;

use larder_protocol::Frame;
use larder_server::Config;
use raw::{Client, bulk, error, start, within};
use std::collections::{HashMap, HashSet};

fn ok() -> Frame {
    Frame::Simple(b"OK".to_vec())
}

/// The keys of an `invalidate` push (`None` for a flush's null), or panics.
fn invalidated(frame: &Frame) -> Option<Vec<Vec<u8>>> {
    match frame {
        Frame::Push(parts) if parts.len() == 2 && parts[0] == bulk("invalidate") => {
            match &parts[1] {
                Frame::Array(keys) => Some(
                    keys.iter()
                        .map(|k| match k {
                            Frame::Bulk(k) => k.clone(),
                            other => panic!("key {other:?}"),
                        })
                        .collect(),
                ),
                Frame::Null => None,
                other => panic!("invalidate payload {other:?}"),
            }
        }
        other => panic!("expected an invalidate push, got {other:?}"),
    }
}

fn keys(names: &[&str]) -> Option<Vec<Vec<u8>>> {
    Some(names.iter().map(|n| n.as_bytes().to_vec()).collect())
}

/// A RESP3 client with tracking turned on with `options`.
async fn tracker(addr: std::net::SocketAddr, options: &[&str]) -> Client {
    let mut c = Client::connect(addr).await;
    assert!(matches!(c.call_str(&["HELLO", "3"]).await, Frame::Map(_)));
    let mut args = vec!["CLIENT", "TRACKING", "ON"];
    args.extend_from_slice(options);
    assert_eq!(c.call_str(&args).await, ok());
    c
}

/// Asserts that nothing is pending for `c`: its next frame is the reply to PING.
async fn nothing_pending(c: &mut Client) {
    assert_eq!(c.call_str(&["PING"]).await, Frame::Simple(b"PONG".to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_mode_invalidates_each_reader_once_per_read() {
    let server = start(Config::default()).await;
    within(async {
        let mut t = tracker(server.addr, &[]).await;
        let mut w = Client::connect(server.addr).await;
        w.call_str(&["SET", "k", "1"]).await;
        w.call_str(&["SET", "unread", "1"]).await;
        assert_eq!(t.call_str(&["GET", "k"]).await, bulk("1"));
        // A missing key is tracked too: the client may cache its absence.
        assert_eq!(t.call_str(&["GET", "absent"]).await, Frame::Null);

        assert_eq!(w.call_str(&["INCR", "k"]).await, Frame::Integer(2));
        assert_eq!(invalidated(&t.read().await), keys(&["k"]));
        // Forgotten once invalidated: a second write sends nothing until the key is read again.
        w.call_str(&["INCR", "k"]).await;
        w.call_str(&["SET", "unread", "2"]).await;
        nothing_pending(&mut t).await;

        w.call_str(&["SET", "absent", "now"]).await;
        assert_eq!(invalidated(&t.read().await), keys(&["absent"]));

        // Tracking off: nothing more.
        t.call_str(&["GET", "k"]).await;
        assert_eq!(t.call_str(&["CLIENT", "TRACKING", "OFF"]).await, ok());
        w.call_str(&["SET", "k", "x"]).await;
        nothing_pending(&mut t).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_are_invalidated_after_the_reply_unless_noloop() {
    let server = start(Config::default()).await;
    within(async {
        let mut t = tracker(server.addr, &[]).await;
        t.call_str(&["GET", "k"]).await;
        // The reply first, then the invalidation the command caused.
        assert_eq!(t.call_str(&["SET", "k", "v"]).await, ok());
        assert_eq!(invalidated(&t.read().await), keys(&["k"]));

        let mut n = tracker(server.addr, &["NOLOOP"]).await;
        let mut w = Client::connect(server.addr).await;
        n.call_str(&["MGET", "a", "b"]).await;
        assert_eq!(n.call_str(&["SET", "a", "mine"]).await, ok());
        nothing_pending(&mut n).await;
        w.call_str(&["SET", "b", "theirs"]).await;
        assert_eq!(invalidated(&n.read().await), keys(&["b"]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcast_sends_every_modified_key_under_the_prefixes() {
    let server = start(Config::default()).await;
    within(async {
        let mut t = tracker(
            server.addr,
            &["BCAST", "PREFIX", "user:", "PREFIX", "cart:"],
        )
        .await;
        let mut w = Client::connect(server.addr).await;
        // Nothing read, yet every change under a prefix is sent: one message per prefix
        // for the command.
        w.call_str(&["MSET", "user:1", "a", "other", "x", "user:2", "b"])
            .await;
        let mut got = invalidated(&t.read().await).expect("keys");
        got.sort();
        assert_eq!(Some(got), keys(&["user:1", "user:2"]));
        w.call_str(&["SET", "other", "y"]).await;
        w.call_str(&["SET", "cart:9", "1"]).await;
        assert_eq!(invalidated(&t.read().await), keys(&["cart:9"]));
        nothing_pending(&mut t).await;

        let info = t.call_str(&["CLIENT", "TRACKINGINFO"]).await;
        let Frame::Map(pairs) = info else {
            panic!("TRACKINGINFO {info:?}")
        };
        assert_eq!(pairs[0].0, bulk("flags"));
        assert_eq!(pairs[0].1, Frame::Set(vec![bulk("on"), bulk("bcast")]));
        assert_eq!(pairs[2].1, Frame::Array(vec![bulk("cart:"), bulk("user:")]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optin_and_optout_follow_client_caching() {
    let server = start(Config::default()).await;
    within(async {
        let mut w = Client::connect(server.addr).await;
        let mut i = tracker(server.addr, &["OPTIN"]).await;
        i.call_str(&["GET", "not-cached"]).await;
        assert_eq!(i.call_str(&["CLIENT", "CACHING", "YES"]).await, ok());
        i.call_str(&["GET", "cached"]).await;
        // CACHING YES applies to one command only.
        i.call_str(&["GET", "not-cached-either"]).await;
        w.call_str(&["MSET", "not-cached", "1", "not-cached-either", "1"])
            .await;
        w.call_str(&["SET", "cached", "1"]).await;
        assert_eq!(invalidated(&i.read().await), keys(&["cached"]));
        nothing_pending(&mut i).await;

        let mut o = tracker(server.addr, &["OPTOUT"]).await;
        assert_eq!(o.call_str(&["CLIENT", "CACHING", "NO"]).await, ok());
        o.call_str(&["GET", "skipped"]).await;
        o.call_str(&["GET", "kept"]).await;
        w.call_str(&["SET", "skipped", "1"]).await;
        w.call_str(&["SET", "kept", "1"]).await;
        assert_eq!(invalidated(&o.read().await), keys(&["kept"]));

        assert_eq!(
            o.call_str(&["CLIENT", "CACHING", "YES"]).await,
            error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp2_clients_redirect_to_a_subscriber_of_the_invalidate_channel() {
    let server = start(Config::default()).await;
    within(async {
        let mut r = Client::connect(server.addr).await;
        let rid = r.id().await;
        r.call_str(&["SUBSCRIBE", "__redis__:invalidate"]).await;
        let mut t = Client::connect(server.addr).await;
        assert_eq!(
            t.call_str(&["CLIENT", "TRACKING", "ON", "REDIRECT", &rid.to_string()])
                .await,
            ok()
        );
        assert_eq!(
            t.call_str(&["CLIENT", "GETREDIR"]).await,
            Frame::Integer(rid)
        );
        t.call_str(&["GET", "k"]).await;
        let mut w = Client::connect(server.addr).await;
        w.call_str(&["SET", "k", "1"]).await;
        assert_eq!(
            r.read().await,
            Frame::Array(vec![
                bulk("message"),
                bulk("__redis__:invalidate"),
                Frame::Array(vec![bulk("k")]),
            ])
        );
        // A flush invalidates everything: a null.
        w.call_str(&["FLUSHALL"]).await;
        assert_eq!(
            r.read().await,
            Frame::Array(vec![
                bulk("message"),
                bulk("__redis__:invalidate"),
                Frame::Null,
            ])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_invalidates_every_key_with_a_null() {
    let server = start(Config::default()).await;
    within(async {
        let mut t = tracker(server.addr, &[]).await;
        t.call_str(&["GET", "k"]).await;
        let mut w = Client::connect(server.addr).await;
        w.call_str(&["FLUSHDB"]).await;
        assert_eq!(invalidated(&t.read().await), None);
        // The table was emptied: a later write of k sends nothing.
        w.call_str(&["SET", "k", "1"]).await;
        nothing_pending(&mut t).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_options_are_checked_with_redis_errors() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        assert_eq!(
            c.call_str(&["CLIENT", "TRACKING", "ON", "PREFIX", "a"]).await,
            error("ERR PREFIX option requires BCAST mode to be enabled")
        );
        assert_eq!(
            c.call_str(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FOOBAR", "PREFIX", "FOO"])
                .await,
            error("ERR Prefix 'FOOBAR' overlaps with another provided prefix 'FOO'. Prefixes for a single client must not overlap.")
        );
        assert_eq!(
            c.call_str(&["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"]).await,
            error("ERR You can't specify both OPTIN mode and OPTOUT mode")
        );
        assert_eq!(
            c.call_str(&["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"]).await,
            error("ERR The client ID you want redirect to does not exist")
        );
        assert_eq!(
            c.call_str(&["CLIENT", "CACHING", "YES"]).await,
            error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
        );
        assert_eq!(c.call_str(&["CLIENT", "TRACKING", "ON"]).await, ok());
        assert_eq!(
            c.call_str(&["CLIENT", "TRACKING", "ON", "BCAST"]).await,
            error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
        );
        assert_eq!(c.call_str(&["CLIENT", "GETREDIR"]).await, Frame::Integer(0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_table_limit_keys_are_evicted_with_an_invalidation() {
    let server = start(Config::default()).await;
    within(async {
        let mut admin = Client::connect(server.addr).await;
        admin
            .call_str(&["CONFIG", "SET", "tracking-table-max-keys", "2"])
            .await;
        let mut t = tracker(server.addr, &[]).await;
        // The third key read pushes one of the three out, reported as invalidated.
        let reply = t.call_str(&["MGET", "a", "b", "c"]).await;
        assert_eq!(
            reply,
            Frame::Array(vec![Frame::Null, Frame::Null, Frame::Null])
        );
        let evicted = invalidated(&t.read().await).expect("keys");
        assert_eq!(evicted.len(), 1);
        nothing_pending(&mut t).await;
    })
    .await;
}

/// Removes the keys of an invalidation push from `cache`; how many it named.
fn forget(push: &Frame, cache: &mut HashMap<Vec<u8>, Frame>) -> usize {
    let keys = invalidated(push).expect("keys");
    for key in &keys {
        cache.remove(key);
    }
    keys.len()
}

/// Sends PING and applies the invalidations that come before its reply.
async fn drain(t: &mut Client, cache: &mut HashMap<Vec<u8>, Frame>) -> usize {
    t.send(&[b"PING"]).await;
    let mut n = 0;
    loop {
        match t.read().await {
            push @ Frame::Push(_) => n += forget(&push, cache),
            reply => {
                assert_eq!(reply, Frame::Simple(b"PONG".to_vec()));
                return n;
            }
        }
    }
}

/// The near-cache guarantee: while one client writes 10,000 times to keys another caches, the
/// cache never ends up holding a value the server no longer has; and every key written after a
/// read is reported exactly as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_invalidation_is_lost_under_10k_concurrent_writes() {
    const KEYS: usize = 1000;
    const ROUNDS: usize = 10;
    let server = start(Config::default()).await;
    within(async {
        let mut t = tracker(server.addr, &[]).await;
        let mut w = Client::connect(server.addr).await;
        let names: Vec<String> = (0..KEYS).map(|i| format!("key:{i}")).collect();

        // Phase 1: every key read, then every key written once: each reported once.
        let mut mget: Vec<&str> = vec!["MGET"];
        mget.extend(names.iter().map(String::as_str));
        t.call_str(&mget).await;
        for name in &names {
            w.call_str(&["SET", name, "0"]).await;
        }
        let mut reported = HashSet::new();
        while reported.len() < KEYS {
            for key in invalidated(&t.read().await).expect("keys") {
                assert!(reported.insert(key), "a key reported twice");
            }
        }
        nothing_pending(&mut t).await;

        // Phase 2: a near cache reads while the writer writes 10,000 times.
        let mut writer = Some({
            let names = names.clone();
            tokio::spawn(async move {
                for round in 1..=ROUNDS {
                    for chunk in names.chunks(100) {
                        // Pipelined: 100 SETs, then their replies.
                        let mut out = Vec::new();
                        for name in chunk {
                            larder_protocol::encode_command(
                                &mut out,
                                &[b"SET", name.as_bytes(), round.to_string().as_bytes()],
                            );
                        }
                        w.send_raw(&out).await;
                        for _ in chunk {
                            assert_eq!(w.read().await, ok());
                        }
                    }
                }
            })
        });
        let mut cache: HashMap<Vec<u8>, Frame> = HashMap::new();
        let mut invalidations = 0usize;
        let mut next = 0usize;
        let mut finished = false;
        loop {
            if next > 0 && next % KEYS == 0 {
                if finished {
                    break;
                }
                // A PING's reply comes after every invalidation queued before it.
                invalidations += drain(&mut t, &mut cache).await;
                if writer.as_ref().is_some_and(|w| w.is_finished()) {
                    finished = true;
                    if let Some(writer) = writer.take() {
                        writer.await.expect("the writer completed");
                    }
                    // Every write was acknowledged, so its invalidation is queued for `t`.
                    invalidations += drain(&mut t, &mut cache).await;
                }
            }
            let name = names[next % KEYS].as_bytes().to_vec();
            next += 1;
            if cache.contains_key(&name) {
                continue;
            }
            t.send(&[b"GET", &name]).await;
            loop {
                match t.read().await {
                    push @ Frame::Push(_) => invalidations += forget(&push, &mut cache),
                    reply => {
                        cache.insert(name.clone(), reply);
                        break;
                    }
                }
            }
        }
        assert!(invalidations > 0);
        // Whatever the cache holds is what the server holds: the last round's value.
        let last = bulk(&ROUNDS.to_string());
        for name in &names {
            if let Some(value) = cache.get(name.as_bytes()) {
                assert_eq!(value, &last, "{name} is stale in the near cache");
            }
        }
        assert_eq!(cache.len(), KEYS);
    })
    .await;
}
