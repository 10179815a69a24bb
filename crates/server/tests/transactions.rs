//! Transactions over real sockets: MULTI/EXEC/DISCARD with queue-time and run-time errors,
//! WATCH made dirty by other clients' writes, flushes, SWAPDB and expiry, and EXEC's atomicity
//! against concurrent writers.

mod raw;

use larder_protocol::Frame;
use larder_server::Config;
use raw::{Client, bulk, error, start, within};
use std::time::Duration;

fn ok() -> Frame {
    Frame::Simple(b"OK".to_vec())
}

fn queued() -> Frame {
    Frame::Simple(b"QUEUED".to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_the_queue_and_reports_each_commands_reply() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(c.call_str(&["SET", "a", "1"]).await, queued());
        assert_eq!(c.call_str(&["INCR", "a"]).await, queued());
        // A run-time error answers for itself; the others still run.
        assert_eq!(c.call_str(&["SET", "s", "text"]).await, queued());
        assert_eq!(c.call_str(&["INCR", "s"]).await, queued());
        assert_eq!(c.call_str(&["GET", "a"]).await, queued());
        // Nothing ran yet.
        let mut other = Client::connect(server.addr).await;
        assert_eq!(other.call_str(&["EXISTS", "a"]).await, Frame::Integer(0));
        assert_eq!(
            c.call_str(&["EXEC"]).await,
            Frame::Array(vec![
                ok(),
                Frame::Integer(2),
                ok(),
                error("ERR value is not an integer or out of range"),
                bulk("2"),
            ])
        );
        assert_eq!(other.call_str(&["GET", "a"]).await, bulk("2"));
        // An empty transaction answers an empty array; SELECT inside one applies.
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(c.call_str(&["EXEC"]).await, Frame::Array(vec![]));
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(c.call_str(&["SELECT", "3"]).await, queued());
        assert_eq!(c.call_str(&["SET", "in3", "x"]).await, queued());
        assert_eq!(c.call_str(&["EXEC"]).await, Frame::Array(vec![ok(), ok()]));
        assert_eq!(c.call_str(&["EXISTS", "in3"]).await, Frame::Integer(1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_time_errors_abort_and_misuse_is_refused() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        assert_eq!(c.call_str(&["EXEC"]).await, error("ERR EXEC without MULTI"));
        assert_eq!(c.call_str(&["DISCARD"]).await, error("ERR DISCARD without MULTI"));
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(
            c.call_str(&["MULTI"]).await,
            error("ERR MULTI calls can not be nested")
        );
        assert_eq!(
            c.call_str(&["WATCH", "x"]).await,
            error("ERR WATCH inside MULTI is not allowed")
        );
        assert_eq!(c.call_str(&["SET", "k", "v"]).await, queued());
        // Neither of those aborted the transaction.
        assert_eq!(c.call_str(&["EXEC"]).await, Frame::Array(vec![ok()]));

        // An unknown command or a wrong arity does.
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(c.call_str(&["SET", "k", "w"]).await, queued());
        assert!(matches!(c.call_str(&["NOSUCH", "x"]).await, Frame::Error(_)));
        assert_eq!(
            c.call_str(&["GET"]).await,
            error("ERR wrong number of arguments for 'get' command")
        );
        assert_eq!(
            c.call_str(&["EXEC"]).await,
            error("EXECABORT Transaction discarded because of previous errors.")
        );
        assert_eq!(c.call_str(&["GET", "k"]).await, bulk("v"));
        // The client left MULTI: commands run again.
        assert_eq!(c.call_str(&["PING"]).await, Frame::Simple(b"PONG".to_vec()));
        // So do commands that Redis refuses inside a transaction.
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(
            c.call_str(&["SHUTDOWN"]).await,
            error("ERR Command not allowed inside a transaction")
        );
        assert!(matches!(c.call_str(&["EXEC"]).await, Frame::Error(e) if e.starts_with(b"EXECABORT")));
        // A wrong EXEC itself discards and says why.
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(
            c.call_str(&["EXEC", "x"]).await,
            error("EXECABORT Transaction discarded because of: ERR wrong number of arguments for 'exec' command")
        );
        assert_eq!(c.call_str(&["EXEC"]).await, error("ERR EXEC without MULTI"));
        // DISCARD drops the queue.
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(c.call_str(&["DEL", "k"]).await, queued());
        assert_eq!(c.call_str(&["DISCARD"]).await, ok());
        assert_eq!(c.call_str(&["GET", "k"]).await, bulk("v"));
        // RESET leaves a transaction too.
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(c.call_str(&["RESET"]).await, Frame::Simple(b"RESET".to_vec()));
        assert_eq!(c.call_str(&["EXEC"]).await, error("ERR EXEC without MULTI"));
    })
    .await;
}

/// WATCH k, another client writes k (or not), then MULTI … EXEC: a null array when it did.
async fn watched_exec(c: &mut Client) -> Frame {
    assert_eq!(c.call_str(&["MULTI"]).await, ok());
    assert_eq!(c.call_str(&["PING"]).await, queued());
    c.call_str(&["EXEC"]).await
}

fn ran() -> Frame {
    Frame::Array(vec![Frame::Simple(b"PONG".to_vec())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_key_changed_by_anyone_fails_exec() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        let mut other = Client::connect(server.addr).await;
        other.call_str(&["SET", "k", "1"]).await;

        // Untouched: runs.
        assert_eq!(c.call_str(&["WATCH", "k", "absent"]).await, ok());
        assert_eq!(watched_exec(&mut c).await, ran());
        // Changed by another client: a null array; changed by the client itself too.
        c.call_str(&["WATCH", "k"]).await;
        other.call_str(&["INCR", "k"]).await;
        assert_eq!(watched_exec(&mut c).await, Frame::NullArray);
        c.call_str(&["WATCH", "k"]).await;
        c.call_str(&["APPEND", "k", "0"]).await;
        assert_eq!(watched_exec(&mut c).await, Frame::NullArray);
        // After an EXEC (failed or not) nothing is watched any more.
        other.call_str(&["SET", "k", "2"]).await;
        assert_eq!(watched_exec(&mut c).await, ran());
        // A key created while watched.
        c.call_str(&["WATCH", "absent"]).await;
        other.call_str(&["SET", "absent", "now"]).await;
        assert_eq!(watched_exec(&mut c).await, Frame::NullArray);
        // Expiry set, key deleted, renamed away.
        for write in [
            &["EXPIRE", "k", "100"][..],
            &["DEL", "absent"][..],
            &["RENAME", "k", "k2"][..],
        ] {
            c.call_str(&["WATCH", "k", "absent"]).await;
            other.call_str(write).await;
            assert_eq!(watched_exec(&mut c).await, Frame::NullArray, "{write:?}");
        }
        // UNWATCH forgets; the same key in another database is another key.
        c.call_str(&["WATCH", "k2"]).await;
        assert_eq!(c.call_str(&["UNWATCH"]).await, ok());
        other.call_str(&["SET", "k2", "x"]).await;
        assert_eq!(watched_exec(&mut c).await, ran());
        c.call_str(&["WATCH", "k2"]).await;
        other.call_str(&["SELECT", "1"]).await;
        other.call_str(&["SET", "k2", "x"]).await;
        assert_eq!(watched_exec(&mut c).await, ran());
        // DISCARD unwatches too.
        c.call_str(&["WATCH", "k2"]).await;
        c.call_str(&["MULTI"]).await;
        c.call_str(&["DISCARD"]).await;
        other.call_str(&["SELECT", "0"]).await;
        other.call_str(&["SET", "k2", "y"]).await;
        assert_eq!(watched_exec(&mut c).await, ran());
        // RESP3 answers a null.
        c.call_str(&["HELLO", "3"]).await;
        c.call_str(&["WATCH", "k2"]).await;
        other.call_str(&["SET", "k2", "z"]).await;
        assert_eq!(watched_exec(&mut c).await, Frame::Null);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushes_and_swapdb_touch_watched_keys_that_exist() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        let mut other = Client::connect(server.addr).await;
        // FLUSHDB and FLUSHALL touch a watched key that exists, not one that does not.
        for flush in [&["FLUSHDB"][..], &["FLUSHALL"][..]] {
            other.call_str(&["SET", "k", "1"]).await;
            c.call_str(&["WATCH", "k"]).await;
            other.call_str(flush).await;
            assert_eq!(watched_exec(&mut c).await, Frame::NullArray, "{flush:?}");
            c.call_str(&["WATCH", "k"]).await;
            other.call_str(flush).await;
            assert_eq!(watched_exec(&mut c).await, ran(), "{flush:?}");
        }
        // SWAPDB touches a watched key that exists in either database.
        other.call_str(&["SELECT", "1"]).await;
        other.call_str(&["SET", "k", "in1"]).await;
        c.call_str(&["WATCH", "k"]).await;
        other.call_str(&["SWAPDB", "0", "1"]).await;
        assert_eq!(watched_exec(&mut c).await, Frame::NullArray);
        c.call_str(&["WATCH", "nowhere"]).await;
        other.call_str(&["SWAPDB", "0", "1"]).await;
        assert_eq!(watched_exec(&mut c).await, ran());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_key_that_expires_fails_exec_but_a_stale_one_does_not() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        c.call_str(&["SET", "k", "1", "PX", "30"]).await;
        c.call_str(&["WATCH", "k"]).await;
        while c.call_str(&["EXISTS", "k"]).await != Frame::Integer(0) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(watched_exec(&mut c).await, Frame::NullArray);
        // Watching a key that is already gone: its absence is no change.
        c.call_str(&["WATCH", "k"]).await;
        assert_eq!(watched_exec(&mut c).await, ran());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exec_runs_alone_while_other_clients_write() {
    let server = start(Config::default()).await;
    within(async {
        let addr = server.addr;
        let writers: Vec<_> = (0..3)
            .map(|_| {
                tokio::spawn(async move {
                    let mut w = Client::connect(addr).await;
                    for _ in 0..2000 {
                        w.call_str(&["INCR", "counter"]).await;
                    }
                })
            })
            .collect();
        let mut c = Client::connect(addr).await;
        for _ in 0..20 {
            c.call_str(&["MULTI"]).await;
            for _ in 0..50 {
                assert_eq!(c.call_str(&["INCR", "counter"]).await, queued());
            }
            let Frame::Array(replies) = c.call_str(&["EXEC"]).await else {
                panic!("EXEC answers an array");
            };
            let values: Vec<i64> = replies
                .iter()
                .map(|r| match r {
                    Frame::Integer(n) => *n,
                    other => panic!("INCR replied {other:?}"),
                })
                .collect();
            // No other client's INCR landed between two of the transaction's.
            assert!(values.windows(2).all(|w| w[1] == w[0] + 1), "{values:?}");
        }
        for w in writers {
            w.await.expect("writer");
        }
        assert_eq!(
            c.call_str(&["GET", "counter"]).await,
            bulk(&(3 * 2000 + 20 * 50).to_string())
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_bounded_by_the_query_buffer_limit() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        c.call_str(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"])
            .await;
        let big = "x".repeat(600 * 1024);
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(c.call_str(&["SET", "a", &big]).await, queued());
        assert_eq!(
            c.call_str(&["SET", "b", &big]).await,
            error("ERR MULTI queue over client-query-buffer-limit")
        );
        assert_eq!(
            c.call_str(&["EXEC"]).await,
            error("EXECABORT Transaction discarded because of previous errors.")
        );
        assert_eq!(c.call_str(&["EXISTS", "a"]).await, Frame::Integer(0));
        // The count starts afresh with the next transaction.
        assert_eq!(c.call_str(&["MULTI"]).await, ok());
        assert_eq!(c.call_str(&["SET", "a", &big]).await, queued());
        assert_eq!(c.call_str(&["EXEC"]).await, Frame::Array(vec![ok()]));
    })
    .await;
}
