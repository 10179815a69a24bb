//! Pub/sub over real sockets: RESP2 and RESP3 subscribers, patterns, the counts `PUBSUB` and
//! `CLIENT LIST` report, `CLIENT REPLY OFF`, and a subscriber that stops reading (disconnected
//! at the output-buffer limit without slowing the publisher, or by `CLIENT KILL` while its
//! connection is stuck writing).

mod raw;

use larder_protocol::{Frame, encode_command};
use larder_server::Config;
use raw::{Client, bulk, field, line_of, start, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A RESP2 pub/sub message or confirmation: an array of bulks and a final integer or bulk.
fn array(parts: &[Frame]) -> Frame {
    Frame::Array(parts.to_vec())
}

fn push(parts: &[Frame]) -> Frame {
    Frame::Push(parts.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp2_subscriber_receives_messages_and_is_restricted() {
    let server = start(Config::default()).await;
    within(async {
        let mut sub = Client::connect(server.addr).await;
        let mut publisher = Client::connect(server.addr).await;

        sub.send(&[b"SUBSCRIBE", b"a", b"b", b"a"]).await;
        assert_eq!(sub.read().await, array(&[bulk("subscribe"), bulk("a"), Frame::Integer(1)]));
        assert_eq!(sub.read().await, array(&[bulk("subscribe"), bulk("b"), Frame::Integer(2)]));
        // Subscribing twice to a channel confirms again and counts once.
        assert_eq!(sub.read().await, array(&[bulk("subscribe"), bulk("a"), Frame::Integer(2)]));

        assert_eq!(publisher.call_str(&["PUBLISH", "a", "hello"]).await, Frame::Integer(1));
        assert_eq!(publisher.call_str(&["PUBLISH", "nobody", "x"]).await, Frame::Integer(0));
        assert_eq!(sub.read().await, array(&[bulk("message"), bulk("a"), bulk("hello")]));
        // Binary-safe messages.
        assert_eq!(
            publisher.call(&[b"PUBLISH", b"b", b"\r\n\0\xff"]).await,
            Frame::Integer(1)
        );
        assert_eq!(
            sub.read().await,
            array(&[bulk("message"), bulk("b"), Frame::Bulk(b"\r\n\0\xff".to_vec())])
        );

        // Only the subscriber commands, PING, QUIT and RESET run in RESP2 subscribed mode.
        assert_eq!(
            sub.call_str(&["GET", "k"]).await,
            raw::error(
                "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            )
        );
        assert_eq!(sub.call_str(&["PING"]).await, array(&[bulk("pong"), bulk("")]));
        assert_eq!(sub.call_str(&["PING", "hi"]).await, array(&[bulk("pong"), bulk("hi")]));

        // UNSUBSCRIBE from a channel it never joined: confirmed, count unchanged.
        assert_eq!(
            sub.call_str(&["UNSUBSCRIBE", "zzz"]).await,
            array(&[bulk("unsubscribe"), bulk("zzz"), Frame::Integer(2)])
        );
        // Without arguments: one confirmation per channel, counting down.
        sub.send(&[b"UNSUBSCRIBE"]).await;
        let mut left = Vec::new();
        let mut names = Vec::new();
        for _ in 0..2 {
            match sub.read().await {
                Frame::Array(parts) => {
                    assert_eq!(parts[0], bulk("unsubscribe"));
                    names.push(parts[1].clone());
                    left.push(parts[2].clone());
                }
                other => panic!("{other:?}"),
            }
        }
        names.sort_by_key(|f| format!("{f:?}"));
        assert_eq!(names, vec![bulk("a"), bulk("b")]);
        assert_eq!(left, vec![Frame::Integer(1), Frame::Integer(0)]);
        // Subscribed to nothing: a nil channel and 0.
        assert_eq!(
            sub.call_str(&["UNSUBSCRIBE"]).await,
            array(&[bulk("unsubscribe"), Frame::Null, Frame::Integer(0)])
        );
        assert_eq!(
            sub.call_str(&["PUNSUBSCRIBE"]).await,
            array(&[bulk("punsubscribe"), Frame::Null, Frame::Integer(0)])
        );
        // Out of subscribed mode, everything runs again and nothing is delivered.
        assert_eq!(publisher.call_str(&["PUBLISH", "a", "late"]).await, Frame::Integer(0));
        assert_eq!(sub.call_str(&["GET", "k"]).await, Frame::Null);
        assert_eq!(sub.call_str(&["PING"]).await, Frame::Simple(b"PONG".to_vec()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_subscriber_gets_pushes_and_runs_any_command() {
    let server = start(Config::default()).await;
    within(async {
        let mut sub = Client::connect(server.addr).await;
        let mut publisher = Client::connect(server.addr).await;
        assert!(matches!(sub.call_str(&["HELLO", "3"]).await, Frame::Map(_)));

        assert_eq!(
            sub.call_str(&["SUBSCRIBE", "news"]).await,
            push(&[bulk("subscribe"), bulk("news"), Frame::Integer(1)])
        );
        assert_eq!(
            sub.call_str(&["SET", "k", "v"]).await,
            Frame::Simple(b"OK".to_vec())
        );
        assert_eq!(sub.call_str(&["GET", "k"]).await, bulk("v"));
        assert_eq!(
            sub.call_str(&["PING"]).await,
            Frame::Simple(b"PONG".to_vec())
        );

        assert_eq!(
            publisher.call_str(&["PUBLISH", "news", "hi"]).await,
            Frame::Integer(1)
        );
        assert_eq!(
            sub.read().await,
            push(&[bulk("message"), bulk("news"), bulk("hi")])
        );

        // A message published before a command was sent arrives before its reply.
        assert_eq!(
            publisher.call_str(&["PUBLISH", "news", "first"]).await,
            Frame::Integer(1)
        );
        sub.send(&[b"GET", b"k"]).await;
        assert_eq!(
            sub.read().await,
            push(&[bulk("message"), bulk("news"), bulk("first")])
        );
        assert_eq!(sub.read().await, bulk("v"));

        // Publishing to itself: the message, then the count.
        sub.send(&[b"PUBLISH", b"news", b"me"]).await;
        assert_eq!(
            sub.read().await,
            push(&[bulk("message"), bulk("news"), bulk("me")])
        );
        assert_eq!(sub.read().await, Frame::Integer(1));

        // A RESP2 and a RESP3 subscriber on one channel get each their own encoding.
        let mut old = Client::connect(server.addr).await;
        old.send(&[b"SUBSCRIBE", b"news"]).await;
        assert_eq!(
            old.read().await,
            array(&[bulk("subscribe"), bulk("news"), Frame::Integer(1)])
        );
        assert_eq!(
            publisher.call_str(&["PUBLISH", "news", "both"]).await,
            Frame::Integer(2)
        );
        assert_eq!(
            sub.read().await,
            push(&[bulk("message"), bulk("news"), bulk("both")])
        );
        assert_eq!(
            old.read().await,
            array(&[bulk("message"), bulk("news"), bulk("both")])
        );

        assert_eq!(
            sub.call_str(&["UNSUBSCRIBE", "news"]).await,
            push(&[bulk("unsubscribe"), bulk("news"), Frame::Integer(0)])
        );
        assert_eq!(
            sub.call_str(&["UNSUBSCRIBE"]).await,
            push(&[bulk("unsubscribe"), Frame::Null, Frame::Integer(0)])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patterns_match_channels_with_glob_syntax() {
    let server = start(Config::default()).await;
    within(async {
        let mut sub = Client::connect(server.addr).await;
        let mut publisher = Client::connect(server.addr).await;
        sub.send(&[b"PSUBSCRIBE", b"news.*", b"h?llo", b"[ab]x"])
            .await;
        for (n, pattern) in ["news.*", "h?llo", "[ab]x"].iter().enumerate() {
            assert_eq!(
                sub.read().await,
                array(&[
                    bulk("psubscribe"),
                    bulk(pattern),
                    Frame::Integer(n as i64 + 1)
                ])
            );
        }
        for (channel, receivers) in [
            ("news.uk", 1),
            ("news", 0),
            ("hallo", 1),
            ("hllo", 0),
            ("bx", 1),
            ("cx", 0),
        ] {
            assert_eq!(
                publisher.call_str(&["PUBLISH", channel, "m"]).await,
                Frame::Integer(receivers),
                "{channel}"
            );
        }
        for (pattern, channel) in [("news.*", "news.uk"), ("h?llo", "hallo"), ("[ab]x", "bx")] {
            assert_eq!(
                sub.read().await,
                array(&[bulk("pmessage"), bulk(pattern), bulk(channel), bulk("m")])
            );
        }

        // A channel and a pattern that both match: two deliveries, two receivers.
        sub.send(&[b"SUBSCRIBE", b"news.uk"]).await;
        assert_eq!(
            sub.read().await,
            array(&[bulk("subscribe"), bulk("news.uk"), Frame::Integer(4)])
        );
        assert_eq!(
            publisher.call_str(&["PUBLISH", "news.uk", "x"]).await,
            Frame::Integer(2)
        );
        assert_eq!(
            sub.read().await,
            array(&[bulk("message"), bulk("news.uk"), bulk("x")])
        );
        assert_eq!(
            sub.read().await,
            array(&[bulk("pmessage"), bulk("news.*"), bulk("news.uk"), bulk("x")])
        );

        assert_eq!(
            publisher.call_str(&["PUBSUB", "NUMPAT"]).await,
            Frame::Integer(3)
        );
        // NUMSUB counts channel subscribers only.
        assert_eq!(
            publisher
                .call_str(&["PUBSUB", "NUMSUB", "news.uk", "hallo"])
                .await,
            array(&[
                bulk("news.uk"),
                Frame::Integer(1),
                bulk("hallo"),
                Frame::Integer(0)
            ])
        );
        // The count after PUNSUBSCRIBE includes the channel subscription.
        assert_eq!(
            sub.call_str(&["PUNSUBSCRIBE", "news.*"]).await,
            array(&[bulk("punsubscribe"), bulk("news.*"), Frame::Integer(3)])
        );
        assert_eq!(
            publisher.call_str(&["PUBLISH", "news.uk", "y"]).await,
            Frame::Integer(1)
        );
        assert_eq!(
            sub.read().await,
            array(&[bulk("message"), bulk("news.uk"), bulk("y")])
        );
        sub.send(&[b"PUNSUBSCRIBE"]).await;
        let mut left = Vec::new();
        for _ in 0..2 {
            match sub.read().await {
                Frame::Array(parts) => {
                    assert_eq!(parts[0], bulk("punsubscribe"));
                    left.push(parts[2].clone());
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(left, vec![Frame::Integer(2), Frame::Integer(1)]);
        assert_eq!(
            publisher.call_str(&["PUBSUB", "NUMPAT"]).await,
            Frame::Integer(0)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pubsub_introspection_and_client_list_counts() {
    let server = start(Config::default()).await;
    within(async {
        let mut admin = Client::connect(server.addr).await;
        let mut one = Client::connect(server.addr).await;
        let mut two = Client::connect(server.addr).await;
        let one_id = one.id().await;
        let two_id = two.id().await;

        one.send(&[b"SUBSCRIBE", b"alpha", b"beta"]).await;
        one.read().await;
        one.read().await;
        one.send(&[b"PSUBSCRIBE", b"al*"]).await;
        one.read().await;
        two.send(&[b"SUBSCRIBE", b"alpha"]).await;
        two.read().await;

        let mut channels = match admin.call_str(&["PUBSUB", "CHANNELS"]).await {
            Frame::Array(c) => c,
            other => panic!("{other:?}"),
        };
        channels.sort_by_key(|f| format!("{f:?}"));
        assert_eq!(channels, vec![bulk("alpha"), bulk("beta")]);
        assert_eq!(
            admin.call_str(&["PUBSUB", "CHANNELS", "b*"]).await,
            array(&[bulk("beta")])
        );
        assert_eq!(
            admin.call_str(&["PUBSUB", "NUMSUB", "alpha", "beta", "gamma"]).await,
            array(&[
                bulk("alpha"),
                Frame::Integer(2),
                bulk("beta"),
                Frame::Integer(1),
                bulk("gamma"),
                Frame::Integer(0)
            ])
        );
        assert_eq!(admin.call_str(&["PUBSUB", "NUMSUB"]).await, array(&[]));
        assert_eq!(admin.call_str(&["PUBSUB", "NUMPAT"]).await, Frame::Integer(1));

        let list = admin.client_list().await;
        let line = line_of(&list, one_id).expect("listed");
        assert_eq!(
            (field(&line, "sub"), field(&line, "psub"), field(&line, "flags")),
            ("2", "1", "P")
        );
        let line = line_of(&list, two_id).expect("listed");
        assert_eq!((field(&line, "sub"), field(&line, "psub")), ("1", "0"));
        let line = line_of(&list, admin.id().await).expect("listed");
        assert_eq!(
            (field(&line, "sub"), field(&line, "psub"), field(&line, "flags")),
            ("0", "0", "N")
        );

        // Unsubscribing updates the counts.
        one.send(&[b"UNSUBSCRIBE", b"beta"]).await;
        one.read().await;
        let line = line_of(&admin.client_list().await, one_id).expect("listed");
        assert_eq!((field(&line, "sub"), field(&line, "psub")), ("1", "1"));

        // A subscriber that disconnects leaves the registry.
        drop(one);
        admin.wait_gone(one_id).await;
        assert_eq!(
            admin.call_str(&["PUBSUB", "NUMSUB", "alpha"]).await,
            array(&[bulk("alpha"), Frame::Integer(1)])
        );
        assert_eq!(admin.call_str(&["PUBSUB", "NUMPAT"]).await, Frame::Integer(0));
        assert_eq!(
            admin.call_str(&["PUBSUB", "CHANNELS"]).await,
            array(&[bulk("alpha")])
        );

        // Errors, with Redis's texts.
        assert_eq!(
            admin.call_str(&["PUBSUB", "NUMPAT", "x"]).await,
            raw::error("ERR wrong number of arguments for 'pubsub|numpat' command")
        );
        assert_eq!(
            admin.call_str(&["PUBSUB", "NOPE"]).await,
            raw::error("ERR unknown subcommand 'NOPE'. Try PUBSUB HELP.")
        );
        assert_eq!(
            admin.call_str(&["PUBSUB", "CHANNELS", "a", "b"]).await,
            raw::error(
                "ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
            )
        );
        assert_eq!(
            admin.call_str(&["PUBLISH", "x"]).await,
            raw::error("ERR wrong number of arguments for 'publish' command")
        );
        assert_eq!(
            admin.call_str(&["SUBSCRIBE"]).await,
            raw::error("ERR wrong number of arguments for 'subscribe' command")
        );
        match admin.call_str(&["PUBSUB", "HELP"]).await {
            Frame::Array(lines) => assert_eq!(
                lines[0],
                Frame::Simple(
                    b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".to_vec()
                )
            ),
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reply_off_silences_replies_but_not_pushes() {
    let server = start(Config::default()).await;
    within(async {
        let mut sub = Client::connect(server.addr).await;
        let mut publisher = Client::connect(server.addr).await;
        sub.send(&[b"CLIENT", b"REPLY", b"OFF"]).await;
        sub.send(&[b"SUBSCRIBE", b"c"]).await;
        assert_eq!(
            sub.read().await,
            array(&[bulk("subscribe"), bulk("c"), Frame::Integer(1)])
        );
        assert_eq!(
            publisher.call_str(&["PUBLISH", "c", "m"]).await,
            Frame::Integer(1)
        );
        assert_eq!(
            sub.read().await,
            array(&[bulk("message"), bulk("c"), bulk("m")])
        );
        // PING's reply is silenced; the next thing read is the unsubscribe confirmation.
        sub.send(&[b"PING"]).await;
        sub.send(&[b"UNSUBSCRIBE"]).await;
        assert_eq!(
            sub.read().await,
            array(&[bulk("unsubscribe"), bulk("c"), Frame::Integer(0)])
        );
        sub.send(&[b"CLIENT", b"REPLY", b"ON"]).await;
        assert_eq!(sub.read().await, Frame::Simple(b"OK".to_vec()));
    })
    .await;
}

/// The acceptance test for the output limit: a subscriber that never reads, a publisher that
/// sends 64 MB in 1 KB messages. Every PUBLISH returns (the publisher never waits for the
/// subscriber: if it did, this test would hang until its guard time), the subscriber is
/// disconnected once about 32 MB (the default hard limit) are pending for it, and it leaves
/// CLIENT LIST and the channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_is_disconnected_without_slowing_the_publisher() {
    let server = start(Config::default()).await;
    within(async {
        let mut sub = Client::connect(server.addr).await;
        let sub_id = sub.id().await;
        assert_eq!(
            sub.call_str(&["SUBSCRIBE", "firehose"]).await,
            array(&[bulk("subscribe"), bulk("firehose"), Frame::Integer(1)])
        );
        // From here on the subscriber reads nothing.

        let mut publisher = Client::connect(server.addr).await;
        let message = vec![b'm'; 1024];
        const TOTAL: usize = 64 << 20;
        const BATCH: usize = 256;
        let mut request = Vec::new();
        for _ in 0..BATCH {
            encode_command(&mut request, &[b"PUBLISH", b"firehose", &message]);
        }
        let (mut delivered, mut replies) = (0usize, 0usize);
        for _ in 0..TOTAL / message.len() / BATCH {
            publisher.stream.write_all(&request).await.expect("writes");
            for _ in 0..BATCH {
                match publisher.read().await {
                    Frame::Integer(n) => delivered += n as usize,
                    other => panic!("PUBLISH replied {other:?}"),
                }
                replies += 1;
            }
        }
        assert_eq!(replies, TOTAL / message.len());
        // The subscriber was cut off: not everything was delivered, but at least the hard
        // limit's worth was accepted for it before that.
        let encoded = b"*3\r\n$7\r\nmessage\r\n$8\r\nfirehose\r\n$1024\r\n".len() + 1024 + 2;
        assert!(delivered < replies, "delivered all {delivered} messages");
        assert!(
            delivered * encoded > 32 << 20,
            "cut off after {delivered} messages"
        );
        assert_eq!(
            publisher.call_str(&["PUBLISH", "firehose", "after"]).await,
            Frame::Integer(0)
        );

        publisher.wait_gone(sub_id).await;
        assert_eq!(
            publisher.call_str(&["PUBSUB", "NUMSUB", "firehose"]).await,
            array(&[bulk("firehose"), Frame::Integer(0)])
        );

        // The subscriber, reading at last, finds what was already on its way, then the end.
        let mut received = 0usize;
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            match sub.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received += n,
            }
        }
        assert!(received < TOTAL, "received {received} bytes");
    })
    .await;
}

/// CLIENT KILL reaches a subscriber whose connection is stuck writing to a peer that does not
/// read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_ends_a_subscriber_stuck_in_a_write() {
    let server = start(Config {
        // No output limit: only CLIENT KILL can end it.
        client_output_buffer_limit_pubsub: "0 0 0".to_owned(),
        ..Config::default()
    })
    .await;
    within(async {
        let mut sub = Client::connect(server.addr).await;
        let sub_id = sub.id().await;
        sub.call_str(&["SUBSCRIBE", "c"]).await;
        let mut publisher = Client::connect(server.addr).await;
        let message = vec![b'x'; 64 << 10];
        // Publish until the server holds output it cannot write (omem > 1 MB): the kernel's
        // buffers are full and the subscriber's connection is waiting in a write.
        loop {
            for _ in 0..16 {
                assert_eq!(
                    publisher.call(&[b"PUBLISH", b"c", &message]).await,
                    Frame::Integer(1)
                );
            }
            let line = line_of(&publisher.client_list().await, sub_id).expect("listed");
            if field(&line, "omem").parse::<u64>().expect("a number") > 1 << 20 {
                break;
            }
        }
        assert_eq!(
            publisher
                .call_str(&["CLIENT", "KILL", "ID", &sub_id.to_string()])
                .await,
            Frame::Integer(1)
        );
        publisher.wait_gone(sub_id).await;
        assert_eq!(
            publisher.call(&[b"PUBLISH", b"c", b"after"]).await,
            Frame::Integer(0)
        );
    })
    .await;
}

/// Redis executes requests in the order they reach it, and its own tests rely on it: an
/// UNSUBSCRIBE sent (not yet confirmed) before another connection's PUBLISH is in effect for
/// that PUBLISH. Larder runs connections in parallel; its arrival-order fence keeps this for
/// the clients a message would reach (not for a client whose SUBSCRIBE is still on its way:
/// a subscriber waits for the confirmation before counting on messages).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_sent_after_an_unsubscribe_does_not_reach_the_subscriber() {
    let server = start(Config::default()).await;
    within(async {
        let mut publisher = Client::connect(server.addr).await;
        for round in 0..200 {
            let mut sub = Client::connect(server.addr).await;
            sub.call_str(&["SUBSCRIBE", "c"]).await;
            sub.send(&[b"PSUBSCRIBE", b"c*"]).await;
            sub.read().await;
            // Sent, not waited for.
            sub.send(&[b"UNSUBSCRIBE"]).await;
            sub.send(&[b"PUNSUBSCRIBE"]).await;
            assert_eq!(
                publisher.call_str(&["PUBLISH", "c", "m"]).await,
                Frame::Integer(0),
                "round {round}"
            );
        }
    })
    .await;
}

/// A client library works against it: the `redis` crate's RESP2 PubSub and its RESP3
/// connection with a push channel (which may run commands while subscribed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_crate_subscribes_over_resp2_and_resp3() {
    let server = start(Config::default()).await;
    let addr = server.addr;
    within(async move {
        let client = redis::Client::open(format!("redis://{addr}/")).expect("a URL");
        let mut publisher = client
            .get_multiplexed_async_connection()
            .await
            .expect("connects");

        // RESP2: the crate's blocking PubSub, on a thread of its own.
        let (subscribed, ready) = tokio::sync::oneshot::channel();
        let resp2 = tokio::task::spawn_blocking(move || {
            let mut con = client.get_connection().expect("connects");
            let mut pubsub = con.as_pubsub();
            pubsub.subscribe("news").expect("subscribes");
            pubsub.psubscribe("n*").expect("psubscribes");
            subscribed.send(()).expect("the test waits");
            (0..2)
                .map(|_| {
                    let msg = pubsub.get_message().expect("a message");
                    let pattern: Option<String> = msg.get_pattern().ok();
                    (
                        msg.get_channel_name().to_owned(),
                        pattern,
                        msg.get_payload::<String>().expect("text"),
                    )
                })
                .collect::<Vec<_>>()
        });
        ready.await.expect("subscribed");
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg("news")
            .arg("hello")
            .query_async(&mut publisher)
            .await
            .expect("publishes");
        assert_eq!(receivers, 2);
        let mut got = resp2.await.expect("the thread ends");
        got.sort();
        assert_eq!(
            got,
            vec![
                ("news".to_owned(), None, "hello".to_owned()),
                ("news".to_owned(), Some("n*".to_owned()), "hello".to_owned()),
            ]
        );

        // RESP3: pushes arrive on the connection's push channel.
        let client = redis::Client::open(format!("redis://{addr}/?protocol=resp3")).expect("a URL");
        let (pushes, mut received) = tokio::sync::mpsc::unbounded_channel();
        let config = redis::AsyncConnectionConfig::new().set_push_sender(pushes);
        let mut con = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("connects");
        con.subscribe("alerts").await.expect("subscribes");
        let value: Option<String> = redis::cmd("GET")
            .arg("missing")
            .query_async(&mut con)
            .await
            .expect("runs while subscribed");
        assert_eq!(value, None);
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg("alerts")
            .arg("fire")
            .query_async(&mut publisher)
            .await
            .expect("publishes");
        assert_eq!(receivers, 1);
        loop {
            let push = received.recv().await.expect("a push");
            if push.kind == redis::PushKind::Message {
                assert_eq!(
                    push.data,
                    vec![
                        redis::Value::BulkString(b"alerts".to_vec()),
                        redis::Value::BulkString(b"fire".to_vec())
                    ]
                );
                break;
            }
        }
    })
    .await;
}

/// Clients that are each other's publishers and subscribers at once, pipelining: every
/// message arrives, every PUBLISH counts its receiver, nobody stalls (the arrival-order
/// fence never makes two clients wait for each other).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_publishing_to_each_other_all_get_through() {
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 300;
    let server = start(Config::default()).await;
    within(async {
        let mut clients = Vec::new();
        for i in 0..CLIENTS {
            let mut client = Client::connect(server.addr).await;
            client.call_str(&["HELLO", "3"]).await;
            client.call_str(&["SUBSCRIBE", &format!("c{i}")]).await;
            clients.push(client);
        }
        let tasks: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, mut client)| {
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    for round in 0..ROUNDS {
                        let to = format!("c{}", (i + 1 + round % (CLIENTS - 1)) % CLIENTS);
                        encode_command(&mut request, &[b"PUBLISH", to.as_bytes(), b"m"]);
                    }
                    client.send_raw(&request).await;
                    let (mut replies, mut messages) = (0, 0);
                    while replies < ROUNDS || messages < ROUNDS {
                        match client.read().await {
                            Frame::Integer(1) => replies += 1,
                            Frame::Push(_) => messages += 1,
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    (replies, messages)
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("no panic"), (ROUNDS, ROUNDS));
        }
    })
    .await;
}

/// A subscriber under a constant flood of messages still gets its UNSUBSCRIBE read and
/// executed: input and pushed messages take turns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_subscriber_can_still_unsubscribe() {
    let server = start(Config::default()).await;
    within(async {
        let mut sub = Client::connect(server.addr).await;
        sub.call_str(&["SUBSCRIBE", "flood"]).await;
        let mut publisher = Client::connect(server.addr).await;
        let flood = tokio::spawn(async move {
            let mut batch = Vec::new();
            for _ in 0..100 {
                encode_command(&mut batch, &[b"PUBLISH", b"flood", &[b'f'; 100]]);
            }
            // Publish until the subscriber is gone (a million messages at most).
            for _ in 0..10_000 {
                publisher.send_raw(&batch).await;
                let mut last = Frame::Null;
                for _ in 0..100 {
                    last = publisher.read().await;
                }
                if last == Frame::Integer(0) {
                    return true;
                }
            }
            false
        });
        for _ in 0..1000 {
            assert!(matches!(sub.read().await, Frame::Array(_)));
        }
        sub.send(&[b"UNSUBSCRIBE", b"flood"]).await;
        loop {
            match sub.read().await {
                Frame::Array(parts) if parts[0] == bulk("message") => {}
                Frame::Array(parts) => {
                    assert_eq!(
                        parts,
                        vec![bulk("unsubscribe"), bulk("flood"), Frame::Integer(0)]
                    );
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(
            flood.await.expect("no panic"),
            "the subscriber was never unsubscribed"
        );
    })
    .await;
}
