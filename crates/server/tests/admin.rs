//! Server administration over the wire: INFO, CONFIG, COMMAND, SHUTDOWN, `maxmemory` and its
//! policies, and the LARDER command. Each test starts its own server on 127.0.0.1:0 and speaks
//! raw RESP.
//!
//! This test binary keeps the system allocator, so the server has no allocator figures and
//! charges `maxmemory` exactly by the engine's weight (key + value + 64 bytes per entry): the
//! eviction tests can count bytes. `admin_memory.rs` runs with jemalloc.

mod admin_support;

use admin_support::{Client, TestServer, field, start, strings};
use larder_protocol::Frame;
use larder_server::Config;
use larder_server::value::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_has_redis_sections_and_the_larder_section() {
    let server = start(Config::default()).await;
    let mut c = server.client().await;
    let info = c.text(&["INFO"]).await;
    for header in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Keyspace",
        "# Larder",
    ] {
        assert!(info.contains(header), "INFO lacks {header}");
    }
    assert_eq!(field(&info, "redis_version").as_deref(), Some("7.0.15"));
    assert_eq!(
        field(&info, "tcp_port"),
        Some(server.addr.port().to_string())
    );
    assert_eq!(field(&info, "role").as_deref(), Some("master"));
    assert_eq!(field(&info, "aof_enabled").as_deref(), Some("0"));
    assert_eq!(field(&info, "loading").as_deref(), Some("0"));
    assert_eq!(field(&info, "connected_clients").as_deref(), Some("1"));
    assert_eq!(field(&info, "blocked_clients").as_deref(), Some("0"));
    assert!(field(&info, "used_cpu_user").is_some());
    assert!(field(&info, "mem_fragmentation_ratio").is_some());
    assert!(
        !info.contains("cmdstat_"),
        "commandstats is not a default section"
    );
    // Sections by name, case-insensitively, each once.
    let cpu = c.text(&["INFO", "CPU"]).await;
    assert!(cpu.starts_with("# CPU") && !cpu.contains("used_memory"));
    let all = c.text(&["INFO", "cpu", "all"]).await;
    assert_eq!(all.matches("used_cpu_user_children").count(), 1);
    assert!(all.contains("cmdstat_info:calls="));
    let stats = c.text(&["INFO", "commandSTATS"]).await;
    assert!(stats.contains("rejected_calls") && !stats.contains("used_memory"));
    assert_eq!(c.text(&["INFO", "nosuchsection"]).await, "");
    server.stop().await;
}

/// `INFO commandstats` counts every command of a pipelined batch and the time they took (a
/// batch reads the clock once per command, each command's end being the next one's start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commandstats_count_the_calls_and_time_of_a_pipelined_batch() {
    let server = start(Config::default()).await;
    let mut c = server.client().await;
    let batch: Vec<Vec<Vec<u8>>> = (0..1000)
        .flat_map(|i| {
            let key = format!("k{i}").into_bytes();
            [
                vec![b"SET".to_vec(), key.clone(), b"v".to_vec()],
                vec![b"GET".to_vec(), key],
            ]
        })
        .collect();
    let replies = c.pipeline(&batch).await;
    assert_eq!(replies.len(), 2000);
    assert!(replies.iter().all(|r| !matches!(r, Frame::Error(_))));
    for name in ["set", "get"] {
        let stat = c
            .info_field("commandstats", &format!("cmdstat_{name}"))
            .await;
        let value = |field: &str| -> f64 {
            stat.split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
                .unwrap_or_else(|| panic!("no {field} in {stat}"))
                .parse()
                .expect("a number")
        };
        assert_eq!(value("calls"), 1000.0, "{stat}");
        assert!(value("usec") > 0.0, "{stat}");
        assert!(
            (value("usec_per_call") - value("usec") / 1000.0).abs() < 0.01,
            "{stat}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_follow_reads_writes_and_resetstat() {
    let server = start(Config::default()).await;
    let mut c = server.client().await;
    c.ok(&["SET", "user:1", "alice"]).await;
    c.ok(&["SET", "user:2", "bob"]).await;
    for _ in 0..3 {
        c.text(&["GET", "user:1"]).await;
    }
    for _ in 0..2 {
        assert_eq!(c.cmd(&["GET", "user:404"]).await, Frame::Null);
    }
    let stats = c.text(&["INFO", "stats"]).await;
    assert_eq!(field(&stats, "keyspace_hits").as_deref(), Some("3"));
    assert_eq!(field(&stats, "keyspace_misses").as_deref(), Some("2"));
    // A TTL shows in the keyspace line.
    let now = server.shared.keyspace.now();
    assert!(
        server
            .shared
            .keyspace
            .set_deadline(0, b"user:2", now + 100_000)
    );
    assert_eq!(
        c.info_field("keyspace", "db0").await,
        "keys=2,expires=1,avg_ttl=0"
    );
    // Errors are counted by code and per command.
    c.error(&["GET"]).await;
    let all = c.text(&["INFO", "all"]).await;
    assert_eq!(field(&all, "errorstat_ERR").as_deref(), Some("count=1"));
    assert!(
        field(&all, "cmdstat_get")
            .expect("cmdstat_get")
            .contains("calls=5,")
    );
    assert!(
        field(&all, "cmdstat_get")
            .expect("cmdstat_get")
            .ends_with("rejected_calls=1,failed_calls=0")
    );
    assert_eq!(field(&all, "total_error_replies").as_deref(), Some("1"));
    c.ok(&["CONFIG", "RESETSTAT"]).await;
    let all = c.text(&["INFO", "all"]).await;
    assert_eq!(field(&all, "keyspace_hits").as_deref(), Some("0"));
    assert_eq!(field(&all, "total_error_replies").as_deref(), Some("0"));
    assert!(field(&all, "cmdstat_get").is_none());
    assert!(field(&all, "errorstat_ERR").is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_get_matches_globs_and_several_patterns() {
    let server = start(Config::default()).await;
    let mut c = server.client().await;
    let got = strings(c.cmd(&["CONFIG", "GET", "maxmemory*"]).await);
    assert_eq!(
        got,
        [
            "maxmemory",
            "0",
            "maxmemory-policy",
            "allkeys-larder",
            "maxmemory-samples",
            "5",
            "maxmemory-clients",
            "0"
        ]
    );
    let got = strings(c.cmd(&["CONFIG", "GET", "HZ", "port", "hz"]).await);
    assert_eq!(got, ["port", &server.addr.port().to_string(), "hz", "10"]);
    // What clients and redis-benchmark read, answered truthfully.
    let got = strings(c.cmd(&["CONFIG", "GET", "save", "appendonly"]).await);
    assert_eq!(got, ["save", "", "appendonly", "no"]);
    assert!(strings(c.cmd(&["CONFIG", "GET", "nosuch"]).await).is_empty());
    assert!(strings(c.cmd(&["CONFIG", "GET", "*"]).await).len() >= 2 * 15);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_set_is_all_or_nothing_with_redis_errors() {
    let server = start(Config::default()).await;
    let mut c = server.client().await;
    c.ok(&["CONFIG", "SET", "timeout", "30", "hz", "20"]).await;
    assert_eq!(
        strings(c.cmd(&["CONFIG", "GET", "timeout", "hz"]).await),
        ["timeout", "30", "hz", "20"]
    );
    // One bad value: nothing changes.
    let e = c
        .error(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "10mb",
            "maxmemory-policy",
            "bogus",
        ])
        .await;
    assert!(
        e.starts_with(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: noeviction, allkeys-lru"
        ),
        "{e}"
    );
    assert_eq!(
        strings(c.cmd(&["CONFIG", "GET", "maxmemory"]).await),
        ["maxmemory", "0"]
    );
    assert_eq!(
        c.error(&["CONFIG", "SET", "timeout", "1", "nosuch", "x"])
            .await,
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    assert_eq!(
        c.error(&["CONFIG", "SET", "port", "7000"]).await,
        "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
    );
    assert_eq!(
        c.error(&["CONFIG", "SET", "hz", "5", "HZ", "6"]).await,
        "ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter"
    );
    assert_eq!(
        c.error(&["CONFIG", "SET", "timeout", "x"]).await,
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"
    );
    assert_eq!(
        c.error(&["CONFIG", "SET", "appendonly", "yes"]).await,
        "ERR CONFIG SET failed (possibly related to argument 'appendonly') - Larder keeps nothing on disk: the append-only file is not implemented"
    );
    assert_eq!(
        c.error(&["CONFIG", "SET", "timeout", "1", "hz"]).await,
        "ERR syntax error"
    );
    assert_eq!(
        c.error(&["CONFIG", "SET", "timeout"]).await,
        "ERR wrong number of arguments for 'config|set' command"
    );
    assert_eq!(
        c.error(&["CONFIG", "GET_XX"]).await,
        "ERR unknown subcommand 'GET_XX'. Try CONFIG HELP."
    );
    assert_eq!(
        strings(c.cmd(&["CONFIG", "GET", "timeout", "hz"]).await),
        ["timeout", "30", "hz", "20"]
    );
    // Memory units and keyspace-event classes are normalised as Redis does.
    c.ok(&[
        "CONFIG",
        "SET",
        "maxmemory",
        "2mb",
        "notify-keyspace-events",
        "KEA",
    ])
    .await;
    assert_eq!(
        strings(
            c.cmd(&["CONFIG", "GET", "maxmemory", "notify-keyspace-events"])
                .await
        ),
        ["maxmemory", "2097152", "notify-keyspace-events", "AKE"]
    );
    assert_eq!(server.shared.keyspace.limit().0, 2 << 20);
    server.stop().await;
}

/// Fills the server with 100-byte values until a write is refused; returns how many were
/// stored.
async fn fill_until_oom(c: &mut Client, prefix: &str) -> usize {
    let value = "v".repeat(100);
    for i in 0..100_000 {
        match c.cmd(&["SET", &format!("{prefix}{i}"), &value]).await {
            Frame::Simple(_) => {}
            Frame::Error(e) => {
                assert_eq!(
                    String::from_utf8_lossy(&e),
                    "OOM command not allowed when used memory > 'maxmemory'."
                );
                return i;
            }
            other => panic!("SET: {other:?}"),
        }
    }
    panic!("never refused")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noeviction_refuses_writes_but_reads_and_deletes_work() {
    let server = start(Config {
        maxmemory: 20_000,
        maxmemory_policy: "noeviction".into(),
        ..Config::default()
    })
    .await;
    let mut c = server.client().await;
    let stored = fill_until_oom(&mut c, "k").await;
    // Each key weighs 1 + 2..3 + 100 + 64 bytes: about 20,000 / 168 of them fit.
    assert!((100..=125).contains(&stored), "{stored}");
    assert_eq!(c.text(&["GET", "k0"]).await, "v".repeat(100));
    assert_eq!(
        field(&c.text(&["INFO", "stats"]).await, "evicted_keys").as_deref(),
        Some("0")
    );
    let cmdstat = c.info_field("commandstats", "cmdstat_set").await;
    assert!(
        cmdstat.ends_with("rejected_calls=1,failed_calls=0"),
        "{cmdstat}"
    );
    // Deleting is not refused (DEL when the keys commands are present), and frees room.
    if matches!(c.cmd(&["COMMAND", "INFO", "del"]).await, Frame::Array(ref a) if a[0] != Frame::NullArray)
    {
        assert_eq!(c.int(&["DEL", "k0", "k1", "k2"]).await, 3);
    } else {
        for k in ["k0", "k1", "k2"] {
            assert!(server.shared.keyspace.remove(0, k.as_bytes()).is_some());
        }
    }
    c.ok(&["SET", "again", "v"]).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_ttl_evicts_the_nearest_deadline_and_only_keys_with_a_ttl() {
    let server = start(Config {
        maxmemory_policy: "volatile-ttl".into(),
        ..Config::default()
    })
    .await;
    let ks = &server.shared.keyspace;
    let value = Value::string(&[b'x'; 100]);
    let now = ks.now();
    // Ten keys without a TTL and ten with deadlines in a shuffled order (t3 nearest).
    for i in 0..10u64 {
        ks.set(0, format!("p{i}").as_bytes(), value.clone(), u64::MAX)
            .unwrap();
        let deadline = now + 1_000_000 + ((i * 7) % 10) * 10_000;
        ks.set(0, format!("t{i}").as_bytes(), value.clone(), deadline)
            .unwrap();
    }
    // Each key weighs 112 + 64 = 176 bytes (the key is inline, the 100-byte value is in a
    // 112-byte buffer): 3,520 in all, and no room for one more.
    let mut c = server.client().await;
    c.ok(&["CONFIG", "SET", "maxmemory", "3600"]).await;
    let order: Vec<u64> = (0..10).map(|i| (i * 3) % 10).collect(); // (i*7)%10 == rank ⇔ i == rank*3 % 10
    let x = "x".repeat(100);
    for (n, &next) in order.iter().enumerate() {
        // Each write first evicts the TTL key with the nearest deadline to fit.
        c.ok(&["SET", &format!("n{n}"), &x]).await;
        if n > 0 {
            let gone = order[n - 1];
            assert!(!ks.exists(0, format!("t{gone}").as_bytes()), "t{gone}");
        }
        assert!(ks.exists(0, format!("t{next}").as_bytes()), "t{next}");
    }
    // The last TTL key goes with the next write; then nothing volatile is left: -OOM.
    c.ok(&["SET", "n10", &x]).await;
    assert_eq!(
        c.error(&["SET", "n11", &x]).await,
        "OOM command not allowed when used memory > 'maxmemory'."
    );
    for i in 0..10 {
        assert!(ks.exists(0, format!("p{i}").as_bytes()), "p{i} has no TTL");
        assert!(!ks.exists(0, format!("t{i}").as_bytes()), "t{i}");
    }
    let stats = c.text(&["INFO", "all"]).await;
    assert_eq!(field(&stats, "evicted_keys").as_deref(), Some("10"));
    assert_eq!(field(&stats, "volatile_evictions").as_deref(), Some("10"));
    assert_eq!(
        field(&stats, "db0").as_deref(),
        Some("keys=21,expires=0,avg_ttl=0")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_changes_at_run_time() {
    let server = start(Config {
        maxmemory: 20_000,
        maxmemory_policy: "allkeys-lru".into(),
        ..Config::default()
    })
    .await;
    let mut c = server.client().await;
    let value = "v".repeat(100);
    for i in 0..300 {
        c.ok(&["SET", &format!("a{i}"), &value]).await;
    }
    let evicted: u64 = c.info_field("stats", "evicted_keys").await.parse().unwrap();
    assert!(evicted >= 150, "{evicted}");
    assert!(server.shared.keyspace.store().weighted_size() <= 20_000);
    // noeviction: the next write that does not fit is refused.
    c.ok(&[
        "CONFIG",
        "SET",
        "maxmemory-policy",
        "noeviction",
        "maxmemory",
        "15000",
    ])
    .await;
    assert_eq!(
        c.info_field("memory", "maxmemory_policy").await,
        "noeviction"
    );
    assert_eq!(fill_until_oom(&mut c, "b").await, 0);
    // Back to an allkeys policy: writes evict again.
    c.ok(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"])
        .await;
    for i in 0..100 {
        c.ok(&["SET", &format!("c{i}"), &value]).await;
    }
    assert!(server.shared.keyspace.store().weighted_size() <= 15_000);
    assert_eq!(c.info_field("larder", "engine_policy").await, "lfu");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn larder_stats_and_hot_keys() {
    let server = start(Config::default()).await;
    let mut c = server.client().await;
    c.ok(&["SET", "user:hot", "1"]).await;
    c.ok(&["SET", "user:warm", "1"]).await;
    for _ in 0..400 {
        c.text(&["GET", "user:hot"]).await;
    }
    for _ in 0..40 {
        c.text(&["GET", "user:warm"]).await;
    }
    for _ in 0..10 {
        assert_eq!(c.cmd(&["GET", "session:none"]).await, Frame::Null);
    }
    let hot = match c.cmd(&["LARDER", "HOTKEYS", "2"]).await {
        Frame::Array(items) => items,
        other => panic!("{other:?}"),
    };
    assert!(!hot.is_empty() && hot.len() <= 2);
    match &hot[0] {
        Frame::Array(entry) => {
            assert_eq!(entry[0], Frame::Bulk(b"user:hot".to_vec()));
            assert!(matches!(entry[1], Frame::Integer(n) if n >= 300));
        }
        other => panic!("{other:?}"),
    }
    let stats = strings_map(c.cmd(&["LARDER", "STATS"]).await);
    assert_eq!(stats["hits"], "440");
    assert_eq!(stats["misses"], "10");
    assert_eq!(stats["misses_never_cached"], "10");
    assert!(
        stats["namespaces"].contains("user"),
        "{}",
        stats["namespaces"]
    );
    let info = c.text(&["INFO", "larder"]).await;
    assert_eq!(
        field(&info, "ns_user").as_deref(),
        Some("hits=440,misses=0,hit_ratio=1.0000")
    );
    assert_eq!(
        field(&info, "ns_session").as_deref(),
        Some("hits=0,misses=10,hit_ratio=0.0000")
    );
    assert!(
        field(&info, "hotkey_0")
            .expect("hotkey_0")
            .starts_with("key=user\\x3ahot,")
    );
    assert!(matches!(
        c.cmd(&["LARDER", "MRC", "4"]).await,
        Frame::Array(_)
    ));
    assert!(
        c.error(&["LARDER", "PREDICT"])
            .await
            .starts_with("ERR LARDER PREDICT needs a maxmemory")
    );
    assert!(matches!(c.cmd(&["LARDER", "HELP"]).await, Frame::Array(_)));
    assert!(
        c.error(&["LARDER", "NOPE"])
            .await
            .starts_with("ERR unknown subcommand or wrong number of arguments for 'NOPE'")
    );
    server.stop().await;
}

/// A flat RESP2 map reply as name → value text (nested values debug-printed).
fn strings_map(frame: Frame) -> std::collections::HashMap<String, String> {
    let Frame::Array(items) = frame else {
        panic!("expected a flat map, got {frame:?}");
    };
    items
        .chunks(2)
        .map(|pair| {
            let text = |f: &Frame| match f {
                Frame::Bulk(b) | Frame::Simple(b) => String::from_utf8_lossy(b).into_owned(),
                Frame::Integer(n) => n.to_string(),
                other => format!("{other:?}").replace("Bulk([", "(").to_string(),
            };
            let value = match &pair[1] {
                Frame::Array(_) => format!("{:?}", strings_nested(&pair[1])),
                v => text(v),
            };
            (text(&pair[0]), value)
        })
        .collect()
}

fn strings_nested(frame: &Frame) -> Vec<String> {
    match frame {
        Frame::Array(items) => items
            .iter()
            .flat_map(|f| match f {
                Frame::Bulk(b) => vec![String::from_utf8_lossy(b).into_owned()],
                Frame::Integer(n) => vec![n.to_string()],
                Frame::Array(_) => strings_nested(f),
                other => vec![format!("{other:?}")],
            })
            .collect(),
        other => vec![format!("{other:?}")],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_time_lastsave_function_debug_save_memory() {
    let server = start(Config::default()).await;
    let mut c = server.client().await;
    let count = c.int(&["COMMAND", "COUNT"]).await;
    assert!(count >= 20, "{count}");
    match c.cmd(&["COMMAND", "INFO", "get", "nosuch"]).await {
        Frame::Array(items) => {
            assert_eq!(items.len(), 2);
            match &items[0] {
                Frame::Array(get) => {
                    assert_eq!(get.len(), 10);
                    assert_eq!(get[0], Frame::Bulk(b"get".to_vec()));
                    assert_eq!(get[1], Frame::Integer(2));
                    assert_eq!(
                        &get[3..6],
                        &[Frame::Integer(1), Frame::Integer(1), Frame::Integer(1)]
                    );
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(items[1], Frame::NullArray);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        strings(c.cmd(&["COMMAND", "GETKEYS", "SET", "k", "v"]).await),
        ["k"]
    );
    assert_eq!(
        c.error(&["COMMAND", "GETKEYS", "PING"]).await,
        "ERR The command has no key arguments"
    );
    assert_eq!(
        c.error(&["COMMAND", "GETKEYS", "NOPE", "x"]).await,
        "ERR Invalid command specified"
    );
    let list = strings(
        c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "conf*"])
            .await,
    );
    assert_eq!(list, ["config"]);
    assert!(matches!(
        c.cmd(&["COMMAND", "DOCS", "get"]).await,
        Frame::Array(ref a) if a.len() == 2
    ));
    let time = strings(c.cmd(&["TIME"]).await);
    let secs: u64 = time[0].parse().unwrap();
    assert!(secs > 1_600_000_000);
    assert!(time[1].parse::<u32>().unwrap() < 1_000_000);
    assert!(c.int(&["LASTSAVE"]).await > 1_600_000_000);
    c.ok(&["FUNCTION", "FLUSH"]).await;
    c.ok(&["FUNCTION", "FLUSH", "ASYNC"]).await;
    assert_eq!(
        c.error(&["FUNCTION", "FLUSH", "LATER"]).await,
        "ERR FUNCTION FLUSH only supports SYNC|ASYNC option"
    );
    assert_eq!(
        c.error(&["DEBUG", "SLEEP", "0"]).await,
        "ERR DEBUG is not supported by Larder"
    );
    assert!(
        c.error(&["SAVE"])
            .await
            .contains("persistence is not implemented")
    );
    assert!(
        c.error(&["BGSAVE"])
            .await
            .contains("persistence is not implemented")
    );
    c.ok(&["SET", "key", "0123456789"]).await;
    // A short key and a short value are stored inline (no heap bytes): 64 per entry.
    assert_eq!(c.int(&["MEMORY", "USAGE", "key"]).await, 64);
    // A key of 22 bytes and more (database byte included) owns its heap bytes.
    let long = "k".repeat(30);
    c.ok(&["SET", &long, "0123456789"]).await;
    assert_eq!(c.int(&["MEMORY", "USAGE", &long]).await, 31 + 64);
    // A value of 15 bytes and more has a buffer of the allocator's next size class.
    c.ok(&["SET", "key", &"v".repeat(40)]).await;
    assert_eq!(c.int(&["MEMORY", "USAGE", "key"]).await, 48 + 64);
    assert_eq!(c.cmd(&["MEMORY", "USAGE", "none"]).await, Frame::Null);
    assert_eq!(
        c.error(&["MEMORY", "USAGE", "key", "SAMPLES"]).await,
        "ERR syntax error"
    );
    // This test binary keeps the system allocator: nothing to purge, OK as in Redis.
    assert_eq!(
        c.cmd(&["MEMORY", "PURGE"]).await,
        Frame::Simple(b"OK".to_vec())
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_the_server() {
    let server = start(Config::default()).await;
    let mut c = server.client().await;
    let mut other = server.client().await;
    assert!(
        c.error(&["SHUTDOWN", "SAVE"])
            .await
            .contains("SAVE is not supported")
    );
    assert_eq!(
        c.error(&["SHUTDOWN", "ABORT"]).await,
        "ERR No shutdown in progress."
    );
    assert_eq!(
        c.error(&["SHUTDOWN", "NOSAVE", "SAVE"]).await,
        "ERR syntax error"
    );
    c.send(&["SHUTDOWN", "NOSAVE"]).await;
    // No reply: the connection closes, as every other one, and the server returns.
    assert_eq!(c.read().await, None);
    assert_eq!(other.read().await, None);
    let TestServer { task, stop, .. } = server;
    task.await.expect("join").expect("run");
    drop(stop);
}
