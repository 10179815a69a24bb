//! Lists over real sockets: the list commands with their replies and errors, and the blocking
//! forms: clients served in arrival order, BLMOVE chains, timeouts (RESP2 and RESP3 nulls),
//! CLIENT UNBLOCK, a client that disconnects while blocked, input pipelined behind a blocking
//! command, and no lost wake-up when a push races with a block.

mod raw;

use larder_protocol::{Frame, encode_command};
use larder_server::Config;
use raw::{Client, bulk, error, start, within};
use std::time::Duration;

fn int(n: i64) -> Frame {
    Frame::Integer(n)
}

fn array(items: &[&str]) -> Frame {
    Frame::Array(items.iter().map(|s| bulk(s)).collect())
}

/// Waits until `INFO clients` reports `n` blocked clients.
async fn wait_blocked(client: &mut Client, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    loop {
        let Frame::Bulk(info) = client.call_str(&["INFO", "clients"]).await else {
            panic!("INFO replies a bulk string");
        };
        if String::from_utf8_lossy(&info).contains(&want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_commands_reply_like_redis() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        assert_eq!(c.call_str(&["RPUSH", "l", "a", "b", "c"]).await, int(3));
        assert_eq!(c.call_str(&["LPUSH", "l", "x", "y"]).await, int(5));
        assert_eq!(
            c.call_str(&["LRANGE", "l", "0", "-1"]).await,
            array(&["y", "x", "a", "b", "c"])
        );
        assert_eq!(
            c.call_str(&["LRANGE", "l", "-2", "100"]).await,
            array(&["b", "c"])
        );
        assert_eq!(c.call_str(&["LRANGE", "l", "3", "1"]).await, array(&[]));
        assert_eq!(c.call_str(&["LRANGE", "none", "0", "-1"]).await, array(&[]));
        assert_eq!(c.call_str(&["LINDEX", "l", "-1"]).await, bulk("c"));
        assert_eq!(c.call_str(&["LINDEX", "l", "9"]).await, Frame::Null);
        assert_eq!(c.call_str(&["LLEN", "l"]).await, int(5));
        assert_eq!(
            c.call_str(&["OBJECT", "ENCODING", "l"]).await,
            bulk("quicklist")
        );

        assert_eq!(
            c.call_str(&["LSET", "l", "0", "Y"]).await,
            Frame::Simple(b"OK".to_vec())
        );
        assert_eq!(
            c.call_str(&["LSET", "l", "9", "Y"]).await,
            error("ERR index out of range")
        );
        assert_eq!(
            c.call_str(&["LSET", "none", "0", "Y"]).await,
            error("ERR no such key")
        );
        assert_eq!(
            c.call_str(&["LINSERT", "l", "BEFORE", "a", "z"]).await,
            int(6)
        );
        assert_eq!(
            c.call_str(&["LINSERT", "l", "AFTER", "nope", "z"]).await,
            int(-1)
        );
        assert_eq!(
            c.call_str(&["LINSERT", "l", "NEAR", "a", "z"]).await,
            error("ERR syntax error")
        );
        assert_eq!(
            c.call_str(&["LRANGE", "l", "0", "-1"]).await,
            array(&["Y", "x", "z", "a", "b", "c"])
        );
        assert_eq!(c.call_str(&["LPOS", "l", "a"]).await, int(3));
        assert_eq!(c.call_str(&["RPUSH", "l", "a", "a"]).await, int(8));
        assert_eq!(
            c.call_str(&["LPOS", "l", "a", "RANK", "-1", "COUNT", "2"])
                .await,
            Frame::Array(vec![int(7), int(6)])
        );
        assert_eq!(c.call_str(&["LREM", "l", "-2", "a"]).await, int(2));
        assert_eq!(
            c.call_str(&["LTRIM", "l", "1", "-2"]).await,
            Frame::Simple(b"OK".to_vec())
        );
        assert_eq!(
            c.call_str(&["LRANGE", "l", "0", "-1"]).await,
            array(&["x", "z", "a", "b"])
        );

        assert_eq!(c.call_str(&["LPOP", "l"]).await, bulk("x"));
        assert_eq!(c.call_str(&["RPOP", "l", "2"]).await, array(&["b", "a"]));
        assert_eq!(c.call_str(&["LPOP", "l", "0"]).await, array(&[]));
        assert_eq!(
            c.call_str(&["LPOP", "l", "-1"]).await,
            error("ERR value is out of range, must be positive")
        );
        assert_eq!(c.call_str(&["LPOP", "l", "5"]).await, array(&["z"]));
        // The last element gone, the key is gone.
        assert_eq!(c.call_str(&["EXISTS", "l"]).await, int(0));
        assert_eq!(c.call_str(&["LPOP", "l"]).await, Frame::Null);
        assert_eq!(c.call_str(&["LPOP", "l", "1"]).await, Frame::NullArray);
        assert_eq!(c.call_str(&["LPUSHX", "l", "a"]).await, int(0));

        assert_eq!(c.call_str(&["RPUSH", "src", "1", "2", "3"]).await, int(3));
        assert_eq!(c.call_str(&["RPOPLPUSH", "src", "dst"]).await, bulk("3"));
        assert_eq!(
            c.call_str(&["LMOVE", "src", "dst", "LEFT", "RIGHT"]).await,
            bulk("1")
        );
        assert_eq!(
            c.call_str(&["LMOVE", "src", "src", "LEFT", "RIGHT"]).await,
            bulk("2")
        );
        assert_eq!(
            c.call_str(&["LRANGE", "dst", "0", "-1"]).await,
            array(&["3", "1"])
        );
        assert_eq!(
            c.call_str(&["LMPOP", "2", "none", "dst", "RIGHT", "COUNT", "5"])
                .await,
            Frame::Array(vec![bulk("dst"), array(&["1", "3"])])
        );
        assert_eq!(
            c.call_str(&["LMPOP", "1", "none", "LEFT"]).await,
            Frame::NullArray
        );
        assert_eq!(
            c.call_str(&["LMPOP", "0", "none", "LEFT"]).await,
            error("ERR numkeys should be greater than 0")
        );
        assert_eq!(
            c.call_str(&["LMPOP", "1", "x", "LEFT", "COUNT", "0"]).await,
            error("ERR count should be greater than 0")
        );

        assert_eq!(
            c.call_str(&["SET", "s", "v"]).await,
            Frame::Simple(b"OK".to_vec())
        );
        let wrongtype = error("WRONGTYPE Operation against a key holding the wrong kind of value");
        for cmd in [
            &["LPUSH", "s", "a"][..],
            &["LRANGE", "s", "0", "-1"],
            &["LPOP", "s"],
            &["LLEN", "s"],
            &["BLPOP", "s", "0"],
            &["LMOVE", "src", "s", "LEFT", "LEFT"],
        ] {
            assert_eq!(c.call_str(cmd).await, wrongtype, "{cmd:?}");
        }
        assert_eq!(
            c.call_str(&["BLPOP", "x", "-1"]).await,
            error("ERR timeout is negative")
        );
        assert_eq!(
            c.call_str(&["BLPOP", "x", "abc"]).await,
            error("ERR timeout is not a float or out of range")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_clients_are_served_in_arrival_order() {
    let server = start(Config::default()).await;
    within(async {
        let mut writer = Client::connect(server.addr).await;
        let mut waiters = Vec::new();
        for n in 0..3 {
            let mut w = Client::connect(server.addr).await;
            w.send(&[b"BLPOP", b"other", b"q", b"0"]).await;
            wait_blocked(&mut writer, n + 1).await;
            waiters.push(w);
        }
        assert_eq!(
            writer.call_str(&["RPUSH", "q", "a", "b", "c", "d"]).await,
            int(4)
        );
        // Served before the push's reply went out.
        assert_eq!(
            writer.call_str(&["LRANGE", "q", "0", "-1"]).await,
            array(&["d"])
        );
        for (w, want) in waiters.iter_mut().zip(["a", "b", "c"]) {
            assert_eq!(w.read().await, array(&["q", want]));
        }
        wait_blocked(&mut writer, 0).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blmove_chains_serve_every_link() {
    let server = start(Config::default()).await;
    within(async {
        let mut writer = Client::connect(server.addr).await;
        let mut first = Client::connect(server.addr).await;
        let mut second = Client::connect(server.addr).await;
        let mut last = Client::connect(server.addr).await;
        first
            .send(&[b"BLMOVE", b"l1", b"l2", b"RIGHT", b"LEFT", b"0"])
            .await;
        wait_blocked(&mut writer, 1).await;
        second.send(&[b"BRPOPLPUSH", b"l2", b"l3", b"0"]).await;
        wait_blocked(&mut writer, 2).await;
        last.send(&[b"BLMPOP", b"0", b"1", b"l3", b"LEFT", b"COUNT", b"2"])
            .await;
        wait_blocked(&mut writer, 3).await;
        writer.call_str(&["RPUSH", "l1", "x"]).await;
        assert_eq!(first.read().await, bulk("x"));
        assert_eq!(second.read().await, bulk("x"));
        assert_eq!(
            last.read().await,
            Frame::Array(vec![bulk("l3"), array(&["x"])])
        );
        for key in ["l1", "l2", "l3"] {
            assert_eq!(writer.call_str(&["EXISTS", key]).await, int(0));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_reply_the_null_of_the_protocol() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        assert_eq!(c.call_str(&["BLPOP", "k", "0.01"]).await, Frame::NullArray);
        assert_eq!(
            c.call_str(&["BLMPOP", "0.01", "1", "k", "LEFT"]).await,
            Frame::NullArray
        );
        assert_eq!(
            c.call_str(&["BRPOPLPUSH", "k", "d", "0.01"]).await,
            Frame::Null
        );
        assert_eq!(
            c.call_str(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0.01"])
                .await,
            Frame::Null
        );
        c.call_str(&["HELLO", "3"]).await;
        assert_eq!(c.call_str(&["BLPOP", "k", "0.01"]).await, Frame::Null);
        assert_eq!(
            c.call_str(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0.01"])
                .await,
            Frame::Null
        );
        assert_eq!(c.call_str(&["EXISTS", "d"]).await, int(0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_unblock_ends_the_wait() {
    let server = start(Config::default()).await;
    within(async {
        let mut admin = Client::connect(server.addr).await;
        let mut blocked = Client::connect(server.addr).await;
        let id = blocked.id().await.to_string();

        blocked.send(&[b"BLPOP", b"k", b"0"]).await;
        wait_blocked(&mut admin, 1).await;
        assert_eq!(admin.call_str(&["CLIENT", "UNBLOCK", &id]).await, int(1));
        assert_eq!(blocked.read().await, Frame::NullArray);

        blocked.send(&[b"BRPOPLPUSH", b"k", b"d", b"0"]).await;
        wait_blocked(&mut admin, 1).await;
        assert_eq!(
            admin.call_str(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]).await,
            int(1)
        );
        assert_eq!(blocked.read().await, Frame::Null);

        blocked.send(&[b"BLPOP", b"k", b"0"]).await;
        wait_blocked(&mut admin, 1).await;
        assert_eq!(
            admin.call_str(&["CLIENT", "UNBLOCK", &id, "ERROR"]).await,
            int(1)
        );
        assert_eq!(
            blocked.read().await,
            error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        );
        wait_blocked(&mut admin, 0).await;

        assert_eq!(admin.call_str(&["CLIENT", "UNBLOCK", &id]).await, int(0));
        assert_eq!(
            admin.call_str(&["CLIENT", "UNBLOCK", "abc"]).await,
            error("ERR value is not an integer or out of range")
        );
        assert_eq!(
            admin.call_str(&["CLIENT", "UNBLOCK", &id, "LATER"]).await,
            error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        );
        // Still usable afterwards.
        blocked.send(&[b"BLPOP", b"k", b"0"]).await;
        wait_blocked(&mut admin, 1).await;
        admin.call_str(&["LPUSH", "k", "v"]).await;
        assert_eq!(blocked.read().await, array(&["k", "v"]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_while_blocked_leaves_no_waiter() {
    let server = start(Config::default()).await;
    within(async {
        let mut writer = Client::connect(server.addr).await;
        {
            let mut gone = Client::connect(server.addr).await;
            gone.send(&[b"BLPOP", b"k", b"0"]).await;
            wait_blocked(&mut writer, 1).await;
        }
        wait_blocked(&mut writer, 0).await;
        assert_eq!(writer.call_str(&["RPUSH", "k", "v"]).await, int(1));
        assert_eq!(
            writer.call_str(&["LRANGE", "k", "0", "-1"]).await,
            array(&["v"])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_behind_a_blocking_command_waits_for_it() {
    let server = start(Config::default()).await;
    within(async {
        let mut writer = Client::connect(server.addr).await;
        let mut blocked = Client::connect(server.addr).await;
        let mut pipeline = Vec::new();
        encode_command(&mut pipeline, &[b"BLPOP", b"k", b"0"]);
        encode_command(&mut pipeline, &[b"RPUSH", b"seen", b"after"]);
        blocked.send_raw(&pipeline).await;
        wait_blocked(&mut writer, 1).await;
        // The RPUSH behind the BLPOP has not run.
        assert_eq!(writer.call_str(&["EXISTS", "seen"]).await, int(0));
        writer.call_str(&["RPUSH", "k", "v"]).await;
        assert_eq!(blocked.read().await, array(&["k", "v"]));
        assert_eq!(blocked.read().await, int(1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_racing_a_block_is_never_lost() {
    let server = start(Config::default()).await;
    within(async {
        let mut blocker = Client::connect(server.addr).await;
        let mut pusher = Some(Client::connect(server.addr).await);
        for i in 0..300 {
            let key = format!("race:{i}");
            let push = {
                let key = key.clone();
                let mut pusher = pusher.take().expect("the pusher is back");
                tokio::spawn(async move {
                    assert_eq!(pusher.call_str(&["RPUSH", &key, "v"]).await, int(1));
                    pusher
                })
            };
            assert_eq!(
                blocker.call_str(&["BLPOP", &key, "0"]).await,
                array(&[&key, "v"])
            );
            pusher = Some(push.await.expect("the pusher"));
        }
        wait_blocked(&mut blocker, 0).await;
    })
    .await;
}
