//! Bad input over real sockets: malformed RESP gets Redis's error text and the connection
//! closes; wrong arity and unknown commands get an error and the connection stays; a client
//! that sends half a request and goes silent holds nothing up; garbage never brings the
//! server down.

mod raw;

use larder_protocol::{Frame, encode_command};
use larder_server::Config;
use raw::{Client, TestServer, bulk, error, line_of, start, within};

/// Sends `bytes` on a new connection and expects `-ERR Protocol error: <what>`, then the
/// connection closing.
async fn refused(server: &TestServer, bytes: &[u8], what: &str) {
    let mut client = Client::connect(server.addr).await;
    client.send_raw(bytes).await;
    assert_eq!(
        client.read().await,
        error(&format!("ERR Protocol error: {what}")),
        "for {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(64)])
    );
    assert!(client.closed().await, "the connection stays open");
}

/// The server still serves a new client.
async fn still_serving(server: &TestServer) {
    let mut client = Client::connect(server.addr).await;
    assert_eq!(
        client.call_str(&["PING"]).await,
        Frame::Simple(b"PONG".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lengths_get_redis_errors_and_close_the_connection() {
    let server = start(Config::default()).await;
    within(async {
        let invalid_multibulk = "invalid multibulk length";
        let invalid_bulk = "invalid bulk length";
        refused(&server, b"*3000000000\r\n", invalid_multibulk).await;
        refused(&server, b"*2147483648\r\n", invalid_multibulk).await;
        refused(&server, b"*abc\r\n", invalid_multibulk).await;
        refused(&server, b"*1x\r\n", invalid_multibulk).await;
        refused(
            &server,
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n",
            invalid_bulk,
        )
        .await;
        refused(&server, b"*1\r\n$-1\r\n", invalid_bulk).await;
        refused(&server, b"*1\r\n$blabla\r\n", invalid_bulk).await;
        refused(&server, b"*1\r\n$2000000000\r\n", invalid_bulk).await;
        refused(&server, b"*1\r\nfoo\r\n", "expected '$', got 'f'").await;
        refused(&server, b"*1\r\n+PING\r\n", "expected '$', got '+'").await;
        refused(
            &server,
            b"SET \"\"\"k\"\"\" v\r\n",
            "unbalanced quotes in request",
        )
        .await;
        still_serving(&server).await;
    })
    .await;
}

/// A length line or bulk data not ended by CRLF. Redis skips the two bytes unread (and goes
/// on out of step with the client); Larder refuses them with its own texts (see the protocol
/// crate's docs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_crlf_is_refused() {
    let server = start(Config::default()).await;
    within(async {
        refused(
            &server,
            b"*1\r\n$4\r\nPINGXY",
            "bulk data not terminated by CRLF",
        )
        .await;
        refused(&server, b"*1\rX", "line not terminated by CRLF").await;
        refused(&server, b"*1\r\n$4\rX", "line not terminated by CRLF").await;
        // A bare LF is not a line end in a multibulk: the count line runs on.
        refused(&server, b"*1\n$4\r\nPING\r\n", "invalid multibulk length").await;
        // Inline requests end at LF, with or without CR, as in Redis.
        let mut client = Client::connect(server.addr).await;
        client.send_raw(b"PING\nPING\r\n").await;
        assert_eq!(client.read().await, Frame::Simple(b"PONG".to_vec()));
        assert_eq!(client.read().await, Frame::Simple(b"PONG".to_vec()));
        still_serving(&server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_requests_are_bounded_at_64_kb() {
    let server = start(Config::default()).await;
    within(async {
        // More than 64 KB without a newline, sent in one piece or trickled.
        let mut line = b"ECHO ".to_vec();
        line.resize(65 * 1024, b'a');
        refused(&server, &line, "too big inline request").await;
        let mut client = Client::connect(server.addr).await;
        for chunk in line.chunks(4096) {
            client.send_raw(chunk).await;
        }
        assert_eq!(
            client.read().await,
            error("ERR Protocol error: too big inline request")
        );
        assert!(client.closed().await);
        // The same bound for a count line (`*` then no CR), and a NUL ends the search for the
        // line end as in Redis.
        let mut count = b"*".to_vec();
        count.resize(65 * 1024, b'1');
        refused(&server, &count, "too big mbulk count string").await;
        let mut nul = b"\0".to_vec();
        nul.resize(65 * 1024, b'x');
        nul.push(b'\n');
        refused(&server, &nul, "too big inline request").await;

        // A long inline request under the bound is served.
        let mut client = Client::connect(server.addr).await;
        let arg = "b".repeat(60 * 1024);
        client.send_raw(format!("ECHO {arg}\r\n").as_bytes()).await;
        assert_eq!(client.read().await, bulk(&arg));
        // Empty lines and negative counts are empty requests.
        client.send_raw(b"\r\n\n*-10\r\n*0\r\nPING\r\n").await;
        assert_eq!(client.read().await, Frame::Simple(b"PONG".to_vec()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_arguments_are_bounded_by_proto_max_bulk_len() {
    let server = start(Config {
        proto_max_bulk_len: 1 << 20,
        ..Config::default()
    })
    .await;
    within(async {
        refused(
            &server,
            format!("*2\r\n$4\r\nECHO\r\n${}\r\n", (1 << 20) + 1).as_bytes(),
            "invalid bulk length",
        )
        .await;
        // At the limit exactly, the argument is accepted.
        let mut client = Client::connect(server.addr).await;
        let arg = vec![b'z'; 1 << 20];
        assert_eq!(client.call(&[b"ECHO", &arg]).await, Frame::Bulk(arg));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_query_buffer_limit_closes_the_connection() {
    let server = start(Config {
        client_query_buffer_limit: 1 << 20,
        ..Config::default()
    })
    .await;
    within(async {
        let mut client = Client::connect(server.addr).await;
        client
            .send_raw(format!("*2\r\n$4\r\nECHO\r\n${}\r\n", 4 << 20).as_bytes())
            .await;
        // The server stops reading and closes once more than 1 MB is buffered; writes may
        // fail from then on.
        let chunk = vec![b'q'; 64 * 1024];
        for _ in 0..64 {
            if tokio::io::AsyncWriteExt::write_all(&mut client.stream, &chunk)
                .await
                .is_err()
            {
                break;
            }
        }
        assert!(client.closed().await);
        still_serving(&server).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_clients_get_redis_smaller_bounds() {
    let server = start(Config {
        requirepass: "secret".to_owned(),
        ..Config::default()
    })
    .await;
    within(async {
        refused(&server, b"*11\r\n", "unauthenticated multibulk length").await;
        refused(
            &server,
            b"*2\r\n$4\r\nAUTH\r\n$16385\r\n",
            "unauthenticated bulk length",
        )
        .await;
        let mut client = Client::connect(server.addr).await;
        assert_eq!(
            client.call_str(&["PING"]).await,
            error("NOAUTH Authentication required.")
        );
        assert_eq!(
            client.call_str(&["AUTH", "secret"]).await,
            Frame::Simple(b"OK".to_vec())
        );
        // Authenticated, the usual bounds apply.
        let many: Vec<&[u8]> = std::iter::once(&b"PUBSUB"[..])
            .chain(std::iter::once(&b"NUMSUB"[..]))
            .chain(std::iter::repeat_n(&b"c"[..], 20))
            .collect();
        assert!(matches!(client.call(&many).await, Frame::Array(a) if a.len() == 40));
        // In one write: AUTH, then a request over the unauthenticated bounds, which Redis
        // parses only once AUTH has run; then RESET logs out, and the bounds are back.
        let mut pipelined = Client::connect(server.addr).await;
        let mut batch = Vec::new();
        encode_command(&mut batch, &[b"AUTH", b"secret"]);
        encode_command(&mut batch, &many);
        encode_command(&mut batch, &[b"RESET"]);
        encode_command(&mut batch, &many);
        pipelined.send_raw(&batch).await;
        assert_eq!(pipelined.read().await, Frame::Simple(b"OK".to_vec()));
        assert!(matches!(pipelined.read().await, Frame::Array(a) if a.len() == 40));
        assert_eq!(pipelined.read().await, Frame::Simple(b"RESET".to_vec()));
        assert_eq!(
            pipelined.read().await,
            error("ERR Protocol error: unauthenticated multibulk length")
        );
        assert!(pipelined.closed().await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_errors_keep_the_connection() {
    let server = start(Config::default()).await;
    within(async {
        let mut client = Client::connect(server.addr).await;
        assert_eq!(
            client.call_str(&["PING", "x", "y", "z"]).await,
            error("ERR wrong number of arguments for 'ping' command")
        );
        assert_eq!(
            client.call_str(&["GET"]).await,
            error("ERR wrong number of arguments for 'get' command")
        );
        assert_eq!(
            client.call_str(&["NOSUCHCOMMAND", "a"]).await,
            error("ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' ")
        );
        // Many arguments in one request.
        let mut many: Vec<&[u8]> = vec![b"PUBSUB", b"NUMSUB"];
        many.extend(std::iter::repeat_n(&b"k"[..], 20_000));
        match client.call(&many).await {
            Frame::Array(a) => assert_eq!(a.len(), 40_000),
            other => panic!("{other:?}"),
        }
        // Requests before a protocol error in the same packet are answered first.
        client.send_raw(b"PING\r\n*1\r\n$4\r\nPING\r\n*x\r\n").await;
        assert_eq!(client.read().await, Frame::Simple(b"PONG".to_vec()));
        assert_eq!(client.read().await, Frame::Simple(b"PONG".to_vec()));
        assert_eq!(
            client.read().await,
            error("ERR Protocol error: invalid multibulk length")
        );
        assert!(client.closed().await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_holds_up_nobody() {
    let server = start(Config::default()).await;
    within(async {
        // Half a request of each kind, then silence.
        let mut halves = Vec::new();
        for half in [
            &b"*2\r\n$4\r\nECHO\r\n$13\r\nhal"[..],
            b"*2\r\n$4\r\nEC",
            b"*2",
            b"ECHO inl",
        ] {
            let mut client = Client::connect(server.addr).await;
            let id = client.id().await;
            client.send_raw(half).await;
            halves.push((client, id));
        }
        // Everybody else is served meanwhile.
        let mut others = Vec::new();
        for _ in 0..8 {
            others.push(Client::connect(server.addr).await);
        }
        for round in 0..100 {
            for other in &mut others {
                let text = format!("r{round}");
                assert_eq!(other.call_str(&["ECHO", &text]).await, bulk(&text));
            }
        }
        // The silent clients are still connected, and finishing the request completes it.
        let list = others[0].client_list().await;
        for (_, id) in &halves {
            assert!(line_of(&list, *id).is_some());
        }
        let (first, _) = &mut halves[0];
        first.send_raw(b"f-way-done\r\n").await;
        assert_eq!(first.read().await, bulk("half-way-done"));
        // One that hangs up mid-request is forgotten.
        let (last, last_id) = halves.pop().expect("four");
        drop(last);
        others[0].wait_gone(last_id).await;
    })
    .await;
}

/// With `timeout` set, a client that sends half a request and goes silent is closed once
/// idle for that long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_timeout_closes_a_silent_half_request() {
    let server = start(Config {
        timeout: 1,
        ..Config::default()
    })
    .await;
    within(async {
        let mut client = Client::connect(server.addr).await;
        client.send_raw(b"*2\r\n$4\r\nECHO\r\n$10\r\nhal").await;
        assert!(client.closed().await);
        still_serving(&server).await;
    })
    .await;
}

/// Random bytes (a fixed-seed generator, so failures repeat) on many connections: each gets
/// replies, errors or silence, and the server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_brings_the_server_down() {
    let server = start(Config::default()).await;
    within(async {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"*$:+-\r\n0123456789-PINGECHOabc \"'\\\0\xff";
        for _ in 0..200 {
            let len = (next() % 200) as usize;
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            // Some structured starts, to get past the first byte.
            if next() % 2 == 0 {
                let mut valid = Vec::new();
                encode_command(&mut valid, &[b"ECHO", b"x"]);
                valid.truncate((next() % valid.len() as u64) as usize);
                valid.extend_from_slice(&bytes);
                bytes = valid;
            }
            let mut client = Client::connect(server.addr).await;
            client.send_raw(&bytes).await;
            // Ask for a reply to something valid too, unless the connection is gone.
            let _ = tokio::io::AsyncWriteExt::write_all(&mut client.stream, b"\r\nPING\r\n").await;
            drop(client);
        }
        still_serving(&server).await;
    })
    .await;
}

/// A pipelined batch is read ahead (its keys prefetched) before it runs; that must change no
/// reply. The same requests, sent in one write to one server and one at a time to another,
/// get the same answers: across a `SELECT` in the middle of the batch, an inline request that
/// ends the read-ahead, commands whose second argument is not a key, a key too long to prefetch,
/// wrong types, runs of requests on the members of one large set, hash and sorted set (whose
/// entries the read-ahead prefetches, a member too long for it among them) and a request left
/// incomplete at the end of the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelined_batch_answers_as_the_same_requests_one_at_a_time() {
    // A key too long to be prefetched, beside short ones.
    let long = "k".repeat(300);
    // A field or member over 64 bytes puts a hash or sorted set in its table encoding at once
    // (a set of strings always is).
    let wide = "w".repeat(70);
    let requests: Vec<Vec<&str>> = vec![
        vec!["SET", &long, "long"],
        vec!["GET", &long],
        vec!["SET", "a", "1"],
        vec!["GET", "a"],
        vec!["SELECT", "1"],
        vec!["GET", "a"],
        vec!["SET", "a", "in-db-1"],
        vec!["APPEND", "a", "-and-more-than-fourteen-bytes"],
        vec!["SELECT", "0"],
        vec!["INCR", "a"],
        vec!["GET", "a"],
        vec!["HSET", "h", "f", "v"],
        vec!["GET", "h"],
        vec!["CLIENT", "SETNAME", "batch"],
        vec!["ECHO", "h"],
        vec!["RPUSH", "l", "x", "y"],
        vec!["LRANGE", "l", "0", "-1"],
        vec!["DEL", "a", "h"],
        vec!["GET", "a"],
        vec!["MSET", "m1", "v1", "m2", "v2"],
        vec!["MGET", "m1", "m2", "a"],
        vec!["SADD", "s", "m1", "m2", "m3"],
        vec!["SADD", "s", "m4"],
        vec!["SISMEMBER", "s", "m1"],
        vec!["SISMEMBER", "s", "nope"],
        vec!["SREM", "s", "m2"],
        vec!["SISMEMBER", "s", "m2"],
        vec!["SADD", "s", &long],
        vec!["SISMEMBER", "s", &long],
        vec!["SMISMEMBER", "s", "m1", "m2", "m4"],
        vec!["HSET", "hash", &wide, "v", "f1", "v1"],
        vec!["HGET", "hash", "f1"],
        vec!["HGET", "hash", "f2"],
        vec!["HINCRBY", "hash", "n", "5"],
        vec!["HDEL", "hash", "f1"],
        vec!["HGET", "hash", "f1"],
        vec!["HGET", "hash", "n"],
        vec!["SADD", "hash", "f"],
        vec!["ZADD", "z", "1", &wide, "2", "b"],
        vec!["ZSCORE", "z", "b"],
        vec!["ZRANK", "z", "b"],
        vec!["ZREM", "z", "b"],
        vec!["ZSCORE", "z", "b"],
        vec!["SCARD", "s"],
        vec!["SELECT", "1"],
        vec!["GET", "a"],
    ];
    let mut batch = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        let args: Vec<&[u8]> = request.iter().map(|a| a.as_bytes()).collect();
        if i == 14 {
            // An inline request in the middle.
            batch.extend_from_slice(b"PING\r\n");
        }
        encode_command(&mut batch, &args);
    }
    within(async {
        let pipelined = start(Config::default()).await;
        let one_by_one = start(Config::default()).await;
        let mut batched = Client::connect(pipelined.addr).await;
        let mut incomplete = Vec::new();
        encode_command(&mut incomplete, &[b"GET", b"m1"]);
        batch.extend_from_slice(&incomplete[..incomplete.len() - 3]);
        batched.send_raw(&batch).await;
        let mut single = Client::connect(one_by_one.addr).await;
        for (i, request) in requests.iter().enumerate() {
            if i == 14 {
                assert_eq!(batched.read().await, single.call_str(&["PING"]).await);
            }
            let expected = single.call_str(request).await;
            assert_eq!(batched.read().await, expected, "request {i}: {request:?}");
        }
        // The incomplete request runs once its end arrives (in database 1, where the batch
        // left the connection).
        batched.send_raw(&incomplete[incomplete.len() - 3..]).await;
        assert_eq!(batched.read().await, Frame::Null);
        assert_eq!(single.call_str(&["GET", "m1"]).await, Frame::Null);
    })
    .await;
}
