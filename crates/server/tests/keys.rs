//! The generic key commands against a running server, through the `redis` crate: glob KEYS,
//! RENAME keeping the TTL, COPY and MOVE across databases, SWAPDB seen from two connections,
//! FLUSHDB, DBSIZE, RANDOMKEY, SCAN and OBJECT.

use larder_engine::NEVER;
use larder_server::shared::Shared;
use larder_server::value::Value;
use larder_server::{Config, Server};
use redis::aio::MultiplexedConnection;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A server on a free port, stopped when dropped.
struct Running {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _stop: oneshot::Sender<()>,
}

async fn start() -> Running {
    let config = Config {
        port: 0,
        ..Config::default()
    };
    let server = Server::bind(config).await.expect("bind");
    let addr = server.local_addr().expect("local addr");
    let shared = Arc::clone(server.shared());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        shared,
        _stop: stop,
    }
}

impl Running {
    /// A connection with database `db` selected.
    async fn connect(&self, db: usize) -> MultiplexedConnection {
        let client = redis::Client::open(format!("redis://{}/{db}", self.addr)).expect("url");
        client
            .get_multiplexed_async_connection()
            .await
            .expect("connect")
    }
}

async fn query<T: redis::FromRedisValue>(con: &mut MultiplexedConnection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query_async(con)
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The error a command answers, as `CODE detail`.
async fn error(con: &mut MultiplexedConnection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    let e = cmd
        .query_async::<redis::Value>(con)
        .await
        .expect_err("an error reply");
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

/// Asserts each command's error reply.
async fn assert_errors(con: &mut MultiplexedConnection, cases: &[(&[&str], &str)]) {
    for (args, text) in cases {
        assert_eq!(error(con, args).await, *text, "{args:?}");
    }
}

/// Every key a full SCAN iteration returns, with `options` after the cursor.
async fn scan_all(con: &mut MultiplexedConnection, options: &[&str]) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut cursor = "0".to_owned();
    loop {
        let mut args = vec!["SCAN", &cursor];
        args.extend_from_slice(options);
        let (next, keys): (String, Vec<String>) = query(con, &args).await;
        seen.extend(keys);
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
}

async fn set(con: &mut MultiplexedConnection, key: &str, value: &str) {
    let () = query(con, &["SET", key, value]).await;
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_matches_the_full_glob_syntax() {
    let server = start().await;
    let mut con = server.connect(0).await;
    for key in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "other",
    ] {
        set(&mut con, key, "v").await;
    }
    let keys = |pattern: &'static str| {
        let mut con = con.clone();
        async move { sorted(query(&mut con, &["KEYS", pattern]).await) }
    };
    assert_eq!(keys("h?llo").await, ["h*llo", "hallo", "hello", "hxllo"]);
    assert_eq!(keys("h*llo").await.len(), 6);
    assert_eq!(keys("h[ae]llo").await, ["hallo", "hello"]);
    assert_eq!(keys("h[^e]llo").await, ["h*llo", "hallo", "hxllo"]);
    assert_eq!(keys("h[a-b]llo").await, ["hallo"]);
    assert_eq!(keys("h\\*llo").await, ["h*llo"]);
    assert_eq!(keys("*").await.len(), 7);
    assert!(keys("nothing*").await.is_empty());
    // Keys of other databases never show.
    let mut other = server.connect(1).await;
    let none: Vec<String> = query(&mut other, &["KEYS", "*"]).await;
    assert!(none.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_moves_the_value_and_its_ttl() {
    let server = start().await;
    let keyspace = &server.shared.keyspace;
    let mut con = server.connect(0).await;
    let deadline = keyspace.now() + 100_000;
    keyspace
        .set(0, b"src", Value::string(b"payload"), deadline)
        .expect("set");
    let () = query(&mut con, &["RENAME", "src", "dst"]).await;
    assert!(!keyspace.exists(0, b"src"));
    assert_eq!(keyspace.deadline(0, b"dst"), Some(deadline));
    let value: String = query(&mut con, &["GET", "dst"]).await;
    assert_eq!(value, "payload");

    // A replaced target takes the source's (absent) TTL, not its own.
    keyspace
        .set(0, b"target", Value::string(b"old"), deadline)
        .expect("set");
    set(&mut con, "plain", "new").await;
    let () = query(&mut con, &["RENAME", "plain", "target"]).await;
    assert_eq!(keyspace.deadline(0, b"target"), Some(NEVER));

    // RENAMENX refuses an existing target and changes nothing.
    set(&mut con, "a", "1").await;
    let n: i64 = query(&mut con, &["RENAMENX", "a", "target"]).await;
    assert_eq!(n, 0);
    let n: i64 = query(&mut con, &["RENAMENX", "a", "fresh"]).await;
    assert_eq!(n, 1);
    assert_errors(
        &mut con,
        &[
            (&["RENAME", "missing", "x"], "ERR no such key"),
            (&["RENAME", "missing", "missing"], "ERR no such key"),
        ],
    )
    .await;
    let () = query(&mut con, &["RENAME", "fresh", "fresh"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_move_across_databases() {
    let server = start().await;
    let keyspace = &server.shared.keyspace;
    let mut db0 = server.connect(0).await;
    let mut db3 = server.connect(3).await;
    let deadline = keyspace.now() + 100_000;
    keyspace
        .set(0, b"k", Value::string(b"v"), deadline)
        .expect("set");

    let n: i64 = query(&mut db0, &["COPY", "k", "k", "DB", "3"]).await;
    assert_eq!(n, 1);
    let copied: String = query(&mut db3, &["GET", "k"]).await;
    assert_eq!(copied, "v");
    assert_eq!(keyspace.deadline(3, b"k"), Some(deadline));
    assert!(keyspace.exists(0, b"k"), "COPY keeps the source");

    // No REPLACE: an existing target stays; REPLACE overwrites it.
    set(&mut db0, "k2", "other").await;
    let n: i64 = query(&mut db0, &["COPY", "k2", "k", "DB", "3"]).await;
    assert_eq!(n, 0);
    let n: i64 = query(&mut db0, &["COPY", "k2", "k", "DB", "3", "REPLACE"]).await;
    assert_eq!(n, 1);
    let replaced: String = query(&mut db3, &["GET", "k"]).await;
    assert_eq!(replaced, "other");
    assert_eq!(keyspace.deadline(3, b"k"), Some(NEVER));

    // The copy is independent of its source.
    set(&mut db3, "k", "changed").await;
    let source: String = query(&mut db0, &["GET", "k2"]).await;
    assert_eq!(source, "other");

    // MOVE carries the value and its TTL, and refuses an existing target.
    let n: i64 = query(&mut db0, &["MOVE", "k", "5"]).await;
    assert_eq!(n, 1);
    assert!(!keyspace.exists(0, b"k"));
    assert_eq!(keyspace.deadline(5, b"k"), Some(deadline));
    set(&mut db3, "k2", "taken").await;
    let n: i64 = query(&mut db0, &["MOVE", "k2", "3"]).await;
    assert_eq!(n, 0, "MOVE never overwrites");
    let kept: String = query(&mut db3, &["GET", "k2"]).await;
    assert_eq!(kept, "taken");
    let n: i64 = query(&mut db0, &["MOVE", "missing", "3"]).await;
    assert_eq!(n, 0);

    assert_errors(
        &mut db0,
        &[
            (
                &["MOVE", "k2", "0"],
                "ERR source and destination objects are the same",
            ),
            (
                &["COPY", "k2", "k2"],
                "ERR source and destination objects are the same",
            ),
            (&["MOVE", "k2", "16"], "ERR DB index is out of range"),
            (
                &["COPY", "k2", "x", "DB", "notanumber"],
                "ERR value is not an integer or out of range",
            ),
            (&["COPY", "k2", "x", "BOGUS"], "ERR syntax error"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapdb_is_seen_by_both_connections() {
    let server = start().await;
    let mut first = server.connect(0).await;
    let mut second = server.connect(1).await;
    set(&mut first, "in0", "zero").await;
    set(&mut second, "in1", "one").await;

    let () = query(&mut first, &["SWAPDB", "0", "1"]).await;
    let gone: Option<String> = query(&mut first, &["GET", "in0"]).await;
    assert_eq!(gone, None);
    let swapped: String = query(&mut first, &["GET", "in1"]).await;
    assert_eq!(swapped, "one");
    let swapped: String = query(&mut second, &["GET", "in0"]).await;
    assert_eq!(swapped, "zero");
    let n: i64 = query(&mut second, &["DBSIZE"]).await;
    assert_eq!(n, 1);

    assert_errors(
        &mut first,
        &[
            (&["SWAPDB", "x", "1"], "ERR invalid first DB index"),
            (&["SWAPDB", "0", "x"], "ERR invalid second DB index"),
            (&["SWAPDB", "0", "16"], "ERR DB index is out of range"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushdb_leaves_other_databases() {
    let server = start().await;
    let mut db0 = server.connect(0).await;
    let mut db2 = server.connect(2).await;
    for i in 0..10 {
        set(&mut db0, &format!("a{i}"), "x").await;
        set(&mut db2, &format!("b{i}"), "x").await;
    }
    let () = query(&mut db0, &["FLUSHDB"]).await;
    let n: i64 = query(&mut db0, &["DBSIZE"]).await;
    assert_eq!(n, 0);
    let n: i64 = query(&mut db2, &["DBSIZE"]).await;
    assert_eq!(n, 10);
    let () = query(&mut db2, &["FLUSHDB", "ASYNC"]).await;
    let n: i64 = query(&mut db2, &["DBSIZE"]).await;
    assert_eq!(n, 0);

    set(&mut db0, "x", "1").await;
    set(&mut db2, "y", "1").await;
    let () = query(&mut db0, &["FLUSHALL", "SYNC"]).await;
    let n: i64 = query(&mut db2, &["DBSIZE"]).await;
    assert_eq!(n, 0);
    assert_errors(&mut db0, &[(&["FLUSHDB", "LATER"], "ERR syntax error")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbsize_and_exists_follow_deletes() {
    let server = start().await;
    let mut con = server.connect(0).await;
    for i in 0..20 {
        set(&mut con, &format!("k{i}"), "v").await;
    }
    let n: i64 = query(&mut con, &["DBSIZE"]).await;
    assert_eq!(n, 20);
    let n: i64 = query(&mut con, &["DEL", "k0", "k1", "k1", "missing"]).await;
    assert_eq!(n, 2);
    let n: i64 = query(&mut con, &["UNLINK", "k2", "k3"]).await;
    assert_eq!(n, 2);
    let n: i64 = query(&mut con, &["DBSIZE"]).await;
    assert_eq!(n, 16);
    let n: i64 = query(&mut con, &["EXISTS", "k4", "k4", "k0", "k5"]).await;
    assert_eq!(n, 3, "EXISTS counts a key once per mention");
    let n: i64 = query(&mut con, &["TOUCH", "k4", "k0"]).await;
    assert_eq!(n, 1);
    let kind: String = query(&mut con, &["TYPE", "k4"]).await;
    assert_eq!(kind, "string");
    let kind: String = query(&mut con, &["TYPE", "k0"]).await;
    assert_eq!(kind, "none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomkey_is_nil_on_an_empty_database() {
    let server = start().await;
    let mut con = server.connect(0).await;
    let key: Option<String> = query(&mut con, &["RANDOMKEY"]).await;
    assert_eq!(key, None);
    set(&mut con, "only", "v").await;
    let mut other = server.connect(1).await;
    let key: Option<String> = query(&mut other, &["RANDOMKEY"]).await;
    assert_eq!(key, None, "a key in another database is not picked");
    let key: Option<String> = query(&mut con, &["RANDOMKEY"]).await;
    assert_eq!(key.as_deref(), Some("only"));
    let _: i64 = query(&mut con, &["DEL", "only"]).await;
    let key: Option<String> = query(&mut con, &["RANDOMKEY"]).await;
    assert_eq!(key, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_visits_every_key_of_the_database() {
    let server = start().await;
    let mut con = server.connect(0).await;
    let mut other = server.connect(1).await;
    for i in 0..500 {
        set(&mut con, &format!("user:{i}"), "v").await;
        set(&mut other, &format!("elsewhere:{i}"), "v").await;
    }
    let seen = scan_all(&mut con, &["COUNT", "50"]).await;
    assert_eq!(seen.len(), 500);
    assert!(seen.iter().all(|k| k.starts_with("user:")));
    let matched = scan_all(&mut con, &["MATCH", "user:1?", "TYPE", "string"]).await;
    assert_eq!(matched.len(), 10);
    let (_, keys): (String, Vec<String>) =
        query(&mut con, &["SCAN", "0", "TYPE", "list", "COUNT", "100000"]).await;
    assert!(keys.is_empty());

    assert_errors(
        &mut con,
        &[
            (&["SCAN", "abc"], "ERR invalid cursor"),
            (&["SCAN", "0", "COUNT", "0"], "ERR syntax error"),
            (&["SCAN", "0", "MATCH"], "ERR syntax error"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_reports_encoding_and_access_counter() {
    let server = start().await;
    let mut con = server.connect(0).await;
    set(&mut con, "int", "12345").await;
    set(&mut con, "short", "hello").await;
    set(&mut con, "long", &"x".repeat(100)).await;
    for (key, encoding) in [("int", "int"), ("short", "embstr"), ("long", "raw")] {
        let got: String = query(&mut con, &["OBJECT", "ENCODING", key]).await;
        assert_eq!(got, encoding, "{key}");
    }
    let none: Option<String> = query(&mut con, &["OBJECT", "ENCODING", "missing"]).await;
    assert_eq!(none, None);

    let before: i64 = query(&mut con, &["OBJECT", "FREQ", "short"]).await;
    for _ in 0..5 {
        let _: String = query(&mut con, &["GET", "short"]).await;
    }
    let after: i64 = query(&mut con, &["OBJECT", "FREQ", "short"]).await;
    assert!(
        after > before,
        "reads raise the access counter ({before} -> {after})"
    );
    assert!(after <= 3);
    let refs: i64 = query(&mut con, &["OBJECT", "REFCOUNT", "short"]).await;
    assert_eq!(refs, 1);
    assert!(
        error(&mut con, &["OBJECT", "IDLETIME", "short"])
            .await
            .contains("not tracked")
    );
    let help: Vec<String> = query(&mut con, &["OBJECT", "HELP"]).await;
    assert!(help[0].starts_with("OBJECT <subcommand>"));

    assert_errors(
        &mut con,
        &[
            (
                &["OBJECT", "FOO", "short"],
                "ERR unknown subcommand 'FOO'. Try OBJECT HELP.",
            ),
            (
                &["OBJECT", "ENCODING"],
                "ERR wrong number of arguments for 'object|encoding' command",
            ),
        ],
    )
    .await;
}
