//! The `redis` crate, a real client library, against an in-process server: RESP2 and RESP3
//! connections, the connection handshake it performs (HELLO 3, SELECT from the URL),
//! GET/SET/PING/HELLO round trips, pipelines, concurrent clients and error replies.

use inproc::TestServer;
use larder_server::Config;
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, ErrorKind, ProtocolVersion, Value};
use std::collections::HashMap;

mod inproc;

async fn start() -> TestServer {
    TestServer::start(Config::default()).await
}

fn url(server: &TestServer, tail: &str) -> String {
    format!("redis://{}/{tail}", server.addr)
}

async fn connect(server: &TestServer, tail: &str) -> MultiplexedConnection {
    redis::Client::open(url(server, tail))
        .expect("a valid URL")
        .get_multiplexed_async_connection()
        .await
        .expect("the redis crate connects")
}

/// The HELLO reply as field -> value, whatever the protocol (a map in RESP3, a flat array in
/// RESP2).
async fn hello(con: &mut MultiplexedConnection, version: u8) -> HashMap<String, Value> {
    let reply: Value = redis::cmd("HELLO")
        .arg(version)
        .query_async(con)
        .await
        .expect("HELLO answers");
    let pairs: Vec<(Value, Value)> = match reply {
        Value::Map(pairs) => {
            assert_eq!(version, 3, "a map reply only in RESP3");
            pairs
        }
        Value::Array(items) => {
            assert_eq!(version, 2, "a flat array only in RESP2");
            let mut items = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                pairs.push((k, v));
            }
            pairs
        }
        other => panic!("HELLO {version} answered {other:?}"),
    };
    pairs
        .into_iter()
        .map(|(k, v)| (redis::from_redis_value::<String>(&k).expect("field"), v))
        .collect()
}

fn text(value: &Value) -> String {
    redis::from_redis_value(value).expect("a string value")
}

fn int(value: &Value) -> i64 {
    redis::from_redis_value(value).expect("an integer value")
}

async fn get_set_ping(con: &mut MultiplexedConnection) {
    let pong: String = redis::cmd("PING").query_async(con).await.expect("PING");
    assert_eq!(pong, "PONG");
    let echoed: String = redis::cmd("PING")
        .arg("hello")
        .query_async(con)
        .await
        .expect("PING message");
    assert_eq!(echoed, "hello");

    let () = con.set("greeting", "hello").await.expect("SET");
    let got: Option<String> = con.get("greeting").await.expect("GET");
    assert_eq!(got.as_deref(), Some("hello"));
    let missing: Option<String> = con.get("no-such-key").await.expect("GET missing");
    assert_eq!(missing, None);

    // Binary-safe values, including CR, LF and NUL, and an empty value.
    let binary: Vec<u8> = (0..=255u8).chain(*b"\r\n\0\r\n").collect();
    let () = con.set("binary", &binary).await.expect("SET binary");
    let back: Vec<u8> = con.get("binary").await.expect("GET binary");
    assert_eq!(back, binary);
    let () = con.set("empty", "").await.expect("SET empty");
    let empty: Option<Vec<u8>> = con.get("empty").await.expect("GET empty");
    assert_eq!(empty, Some(Vec::new()));

    // A value larger than one read buffer.
    let large = vec![b'x'; 1 << 20];
    let () = con.set("large", &large).await.expect("SET large");
    let back: Vec<u8> = con.get("large").await.expect("GET large");
    assert_eq!(back.len(), large.len());

    // Integers come back as the strings that were stored.
    let () = con.set("number", 42).await.expect("SET number");
    let n: i64 = con.get("number").await.expect("GET number");
    assert_eq!(n, 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp2_round_trips() {
    let server = start().await;
    let mut con = connect(&server, "").await;
    get_set_ping(&mut con).await;

    let fields = hello(&mut con, 2).await;
    assert_eq!(text(&fields["server"]), "redis");
    assert_eq!(text(&fields["version"]), larder_server::REDIS_VERSION);
    assert_eq!(int(&fields["proto"]), 2);
    assert_eq!(text(&fields["mode"]), "standalone");
    assert_eq!(text(&fields["role"]), "master");
    assert!(int(&fields["id"]) > 0);

    // A nil in RESP2 is a null bulk string.
    let raw: Value = redis::cmd("GET")
        .arg("no-such-key")
        .query_async(&mut con)
        .await
        .expect("GET");
    assert_eq!(raw, Value::Nil);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_round_trips() {
    let server = start().await;
    // The URL form: the crate sends HELLO 3 while connecting and fails if the server refuses.
    let mut con = connect(&server, "?protocol=resp3").await;
    get_set_ping(&mut con).await;

    let fields = hello(&mut con, 3).await;
    assert_eq!(text(&fields["server"]), "redis");
    assert_eq!(text(&fields["version"]), larder_server::REDIS_VERSION);
    assert_eq!(int(&fields["proto"]), 3);

    // The connection-info form.
    let mut info: redis::ConnectionInfo = url(&server, "").parse().expect("connection info");
    info.redis.protocol = ProtocolVersion::RESP3;
    let mut con2 = redis::Client::open(info)
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("RESP3 connection from ConnectionInfo");
    let got: Option<String> = con2.get("greeting").await.expect("GET");
    assert_eq!(
        got.as_deref(),
        Some("hello"),
        "both connections see one keyspace"
    );
    let fields = hello(&mut con2, 3).await;
    assert_eq!(int(&fields["proto"]), 3);

    // Switching back to RESP2 on the same connection.
    let fields = hello(&mut con2, 2).await;
    assert_eq!(int(&fields["proto"]), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_keep_order() {
    let server = start().await;
    for tail in ["", "?protocol=resp3"] {
        let mut con = connect(&server, tail).await;
        let mut pipe = redis::pipe();
        for i in 0..1000 {
            pipe.set(format!("p:{i}"), i).ignore();
        }
        for i in 0..1000 {
            pipe.get(format!("p:{i}"));
        }
        let values: Vec<i64> = pipe.query_async(&mut con).await.expect("pipeline");
        assert_eq!(values, (0..1000).collect::<Vec<i64>>(), "protocol {tail:?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_share_the_keyspace() {
    let server = start().await;
    let mut tasks = Vec::new();
    for client in 0..8 {
        let mut con = connect(
            &server,
            if client % 2 == 0 {
                ""
            } else {
                "?protocol=resp3"
            },
        )
        .await;
        tasks.push(tokio::spawn(async move {
            for i in 0..200 {
                let key = format!("c{client}:{i}");
                let () = con.set(&key, i).await.expect("SET");
                let back: i64 = con.get(&key).await.expect("GET");
                assert_eq!(back, i);
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let mut con = connect(&server, "").await;
    for client in 0..8 {
        let last: i64 = con.get(format!("c{client}:199")).await.expect("GET");
        assert_eq!(last, 199);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_database_is_selected() {
    let server = start().await;
    let mut db3 = connect(&server, "3").await;
    let mut db0 = connect(&server, "").await;
    let () = db3.set("where", "three").await.expect("SET in db 3");
    let in0: Option<String> = db0.get("where").await.expect("GET in db 0");
    assert_eq!(in0, None, "databases are separate");
    let mut db3_resp3 = connect(&server, "3?protocol=resp3").await;
    let in3: Option<String> = db3_resp3.get("where").await.expect("GET in db 3");
    assert_eq!(in3.as_deref(), Some("three"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_reach_the_client_and_the_connection_survives() {
    let server = start().await;
    for tail in ["", "?protocol=resp3"] {
        let mut con = connect(&server, tail).await;
        let err = redis::cmd("NO-SUCH-COMMAND")
            .arg("x")
            .query_async::<Value>(&mut con)
            .await
            .expect_err("an unknown command is an error");
        assert_eq!(err.kind(), ErrorKind::ResponseError, "{err}");
        assert!(
            err.to_string()
                .contains("unknown command 'NO-SUCH-COMMAND'"),
            "{err}"
        );
        let err = redis::cmd("GET")
            .query_async::<Value>(&mut con)
            .await
            .expect_err("GET without a key is an error");
        assert!(
            err.to_string()
                .contains("wrong number of arguments for 'get' command"),
            "{err}"
        );
        let err = redis::cmd("SELECT")
            .arg(16)
            .query_async::<Value>(&mut con)
            .await
            .expect_err("there are 16 databases");
        assert!(
            err.to_string().contains("DB index is out of range"),
            "{err}"
        );
        let pong: String = redis::cmd("PING")
            .query_async(&mut con)
            .await
            .expect("PING");
        assert_eq!(pong, "PONG", "the connection is still usable");
    }
    server.stop().await;
}
