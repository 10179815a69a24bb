//! Keyspace notifications over real sockets: the `notify-keyspace-events` classes, the
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` channels, Redis's event names for
//! string and generic commands, and the events of keys the engine removes by itself (expired,
//! evicted).

mod raw;

use larder_protocol::Frame;
use larder_server::Config;
use raw::{Client, bulk, error, start, within};

fn ok() -> Frame {
    Frame::Simple(b"OK".to_vec())
}

/// A subscriber to every channel (`PSUBSCRIBE *`).
async fn listener(addr: std::net::SocketAddr) -> Client {
    let mut sub = Client::connect(addr).await;
    sub.call_str(&["PSUBSCRIBE", "*"]).await;
    sub
}

/// The next message `sub` receives, as (channel, message).
async fn next(sub: &mut Client) -> (String, String) {
    match sub.read().await {
        Frame::Array(parts) => match parts.as_slice() {
            [_, _, Frame::Bulk(channel), Frame::Bulk(message)] => (
                String::from_utf8_lossy(channel).into_owned(),
                String::from_utf8_lossy(message).into_owned(),
            ),
            other => panic!("not a pmessage: {other:?}"),
        },
        other => panic!("not a pmessage: {other:?}"),
    }
}

/// Every message until the marker `c` publishes, in order.
async fn until_marker(sub: &mut Client, c: &mut Client) -> Vec<(String, String)> {
    c.call_str(&["PUBLISH", "marker", "end"]).await;
    let mut seen = Vec::new();
    loop {
        let message = next(sub).await;
        if message.0 == "marker" {
            return seen;
        }
        seen.push(message);
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_and_keyevent_channels_carry_redis_event_names() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        let mut sub = listener(server.addr).await;
        // Off by default: nothing is published.
        c.call_str(&["SET", "quiet", "1"]).await;
        assert_eq!(until_marker(&mut sub, &mut c).await, vec![]);

        assert_eq!(
            c.call_str(&["CONFIG", "SET", "notify-keyspace-events", "KEA"])
                .await,
            ok()
        );
        assert_eq!(
            c.call_str(&["CONFIG", "GET", "notify-keyspace-events"])
                .await,
            Frame::Array(vec![bulk("notify-keyspace-events"), bulk("AKE")])
        );
        c.call_str(&["SET", "foo", "bar"]).await;
        c.call_str(&["APPEND", "foo", "x"]).await;
        c.call_str(&["INCRBY", "n", "2"]).await;
        c.call_str(&["INCRBYFLOAT", "n", "0.5"]).await;
        c.call_str(&["SETRANGE", "foo", "0", "z"]).await;
        c.call_str(&["EXPIRE", "foo", "100"]).await;
        c.call_str(&["PERSIST", "foo"]).await;
        c.call_str(&["RENAME", "foo", "bar"]).await;
        c.call_str(&["DEL", "bar", "nothing"]).await;
        assert_eq!(
            until_marker(&mut sub, &mut c).await,
            pairs(&[
                ("__keyspace@0__:foo", "set"),
                ("__keyevent@0__:set", "foo"),
                ("__keyspace@0__:foo", "append"),
                ("__keyevent@0__:append", "foo"),
                ("__keyspace@0__:n", "incrby"),
                ("__keyevent@0__:incrby", "n"),
                ("__keyspace@0__:n", "incrbyfloat"),
                ("__keyevent@0__:incrbyfloat", "n"),
                ("__keyspace@0__:foo", "setrange"),
                ("__keyevent@0__:setrange", "foo"),
                ("__keyspace@0__:foo", "expire"),
                ("__keyevent@0__:expire", "foo"),
                ("__keyspace@0__:foo", "persist"),
                ("__keyevent@0__:persist", "foo"),
                ("__keyspace@0__:foo", "rename_from"),
                ("__keyevent@0__:rename_from", "foo"),
                ("__keyspace@0__:bar", "rename_to"),
                ("__keyevent@0__:rename_to", "bar"),
                ("__keyspace@0__:bar", "del"),
                ("__keyevent@0__:del", "bar"),
            ])
        );
        // A write that changes nothing (SET NX on an existing key) reports nothing.
        c.call_str(&["SET", "n", "1", "NX"]).await;
        assert_eq!(until_marker(&mut sub, &mut c).await, vec![]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classes_mask_events_and_new_keymiss_move_copy_are_reported() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        let mut sub = listener(server.addr).await;
        // Generic events only, keyevent channel only.
        c.call_str(&["CONFIG", "SET", "notify-keyspace-events", "Eg"]).await;
        c.call_str(&["SET", "a", "1"]).await;
        c.call_str(&["SETEX", "b", "100", "1"]).await;
        c.call_str(&["MOVE", "a", "2"]).await;
        c.call_str(&["COPY", "b", "c", "DB", "3"]).await;
        assert_eq!(
            until_marker(&mut sub, &mut c).await,
            pairs(&[
                ("__keyevent@0__:expire", "b"),
                ("__keyevent@0__:move_from", "a"),
                ("__keyevent@2__:move_to", "a"),
                ("__keyevent@3__:copy_to", "c"),
            ])
        );
        // New keys and misses: their own classes, outside `A`.
        c.call_str(&["CONFIG", "SET", "notify-keyspace-events", "KAnm"]).await;
        c.call_str(&["SET", "fresh", "1"]).await;
        c.call_str(&["SET", "fresh", "2"]).await;
        c.call_str(&["GET", "missing"]).await;
        c.call_str(&["EXISTS", "fresh", "gone"]).await;
        assert_eq!(
            until_marker(&mut sub, &mut c).await,
            pairs(&[
                ("__keyspace@0__:fresh", "new"),
                ("__keyspace@0__:fresh", "set"),
                ("__keyspace@0__:fresh", "set"),
                ("__keyspace@0__:missing", "keymiss"),
                ("__keyspace@0__:gone", "keymiss"),
            ])
        );
        // An unknown class letter is refused and changes nothing.
        assert_eq!(
            c.call_str(&["CONFIG", "SET", "notify-keyspace-events", "Kq"]).await,
            error("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        );
        c.call_str(&["CONFIG", "SET", "notify-keyspace-events", ""]).await;
        c.call_str(&["SET", "fresh", "3"]).await;
        assert_eq!(until_marker(&mut sub, &mut c).await, vec![]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_the_engine_expires_or_evicts_are_reported() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        let mut sub = listener(server.addr).await;
        c.call_str(&["CONFIG", "SET", "notify-keyspace-events", "Exe"])
            .await;
        // Background expiry (the active cycle): nobody touches the key.
        c.call_str(&["PSETEX", "soon", "20", "1"]).await;
        assert_eq!(
            next(&mut sub).await,
            ("__keyevent@0__:expired".to_owned(), "soon".to_owned())
        );
        // In another database, reported under that database.
        c.call_str(&["SELECT", "5"]).await;
        c.call_str(&["PSETEX", "later", "20", "1"]).await;
        assert_eq!(
            next(&mut sub).await,
            ("__keyevent@5__:expired".to_owned(), "later".to_owned())
        );
        // Eviction when maxmemory drops under an allkeys policy.
        c.call_str(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
            .await;
        c.call_str(&["SET", "big", "value"]).await;
        c.call_str(&["CONFIG", "SET", "maxmemory", "1"]).await;
        assert_eq!(
            next(&mut sub).await,
            ("__keyevent@5__:evicted".to_owned(), "big".to_owned())
        );
        c.call_str(&["CONFIG", "SET", "maxmemory", "0"]).await;
    })
    .await;
}
