//! SORT and SORT_RO over real sockets: numeric and ALPHA order over lists, sets and sorted
//! sets, DESC and LIMIT, BY and GET patterns (string keys, hash fields, `#`, `nosort`), STORE
//! (a list, an empty result deleting the destination, waking a blocked client, touching a
//! WATCHed key), the errors, and COMMAND GETKEYS.

mod raw;

use larder_protocol::Frame;
use larder_server::Config;
use raw::{Client, bulk, error, start, within};
use std::time::Duration;

fn int(n: i64) -> Frame {
    Frame::Integer(n)
}

fn words(items: &str) -> Frame {
    Frame::Array(items.split_whitespace().map(bulk).collect())
}

async fn call(c: &mut Client, line: &str) -> Frame {
    let args: Vec<&str> = line.split(' ').collect();
    c.call_str(&args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorts_lists_sets_and_sorted_sets() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        call(&mut c, "RPUSH l 3 10 -1.5 2 1e2").await;
        assert_eq!(call(&mut c, "SORT l").await, words("-1.5 2 3 10 1e2"));
        assert_eq!(call(&mut c, "SORT l DESC").await, words("1e2 10 3 2 -1.5"));
        // ALPHA compares bytes.
        assert_eq!(call(&mut c, "SORT l ALPHA").await, words("-1.5 10 1e2 2 3"));
        assert_eq!(call(&mut c, "SORT l LIMIT 1 2").await, words("2 3"));
        assert_eq!(call(&mut c, "SORT l LIMIT -5 2").await, words("-1.5 2"));
        assert_eq!(call(&mut c, "SORT l LIMIT 5 1").await, words(""));
        assert_eq!(call(&mut c, "SORT l LIMIT 0 0").await, words(""));
        // Sets: the intset and hashtable encodings.
        call(&mut c, "SADD s 5 -2 9").await;
        assert_eq!(call(&mut c, "SORT s DESC").await, words("9 5 -2"));
        call(&mut c, "SADD t b c a").await;
        assert_eq!(call(&mut c, "SORT t ALPHA").await, words("a b c"));
        // Sorted sets sort by the members, not the scores.
        call(&mut c, "ZADD z 1 a 5 b 2 c 10 d 3 e").await;
        assert_eq!(call(&mut c, "SORT z ALPHA DESC").await, words("e d c b a"));
        // A missing key sorts as an empty list; SORT_RO reads the same.
        assert_eq!(call(&mut c, "SORT nothing").await, words(""));
        assert_eq!(
            call(&mut c, "SORT_RO l LIMIT 0 2 DESC").await,
            words("1e2 10")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equal_scores_sort_by_the_elements() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        call(&mut c, "RPUSH l b 1 a c").await;
        // Weights of missing keys are 0: equal, so ordered by the elements' bytes.
        assert_eq!(call(&mut c, "SORT l BY w_*").await, words("1 a b c"));
        assert_eq!(call(&mut c, "SORT l BY w_* DESC").await, words("c b a 1"));
        // ALPHA BY: a missing weight sorts first.
        call(&mut c, "MSET w_a z w_b y").await;
        let Frame::Array(items) = call(&mut c, "SORT l BY w_* ALPHA").await else {
            panic!("an array");
        };
        let mut missing = items[..2].to_vec();
        missing.sort_by_key(|f| format!("{f:?}"));
        assert_eq!(missing, [bulk("1"), bulk("c")]);
        assert_eq!(&items[2..], [bulk("b"), bulk("a")]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_and_get_patterns() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        call(&mut c, "RPUSH l 1 2 3").await;
        call(&mut c, "MSET weight_1 30 weight_2 10 weight_3 20").await;
        call(&mut c, "HSET obj_1 w 1 name one").await;
        call(&mut c, "HSET obj_2 w 3 name two").await;
        call(&mut c, "HSET obj_3 w 2 name three").await;
        assert_eq!(call(&mut c, "SORT l BY weight_*").await, words("2 3 1"));
        assert_eq!(call(&mut c, "SORT l BY obj_*->w").await, words("1 3 2"));
        assert_eq!(
            call(
                &mut c,
                "SORT l BY obj_*->w GET # GET obj_*->name GET weight_*"
            )
            .await,
            words("1 one 30 3 three 20 2 two 10")
        );
        // GET of a missing key, a missing field, a key of another type or a constant: null.
        call(&mut c, "DEL weight_3").await;
        assert_eq!(
            call(
                &mut c,
                "SORT l GET weight_* GET obj_*->nope GET l GET constant"
            )
            .await,
            Frame::Array(vec![
                bulk("30"),
                Frame::Null,
                Frame::Null,
                Frame::Null,
                bulk("10"),
                Frame::Null,
                Frame::Null,
                Frame::Null,
                Frame::Null,
                Frame::Null,
                Frame::Null,
                Frame::Null,
            ])
        );
        // A pattern ending in `->` names a string key.
        call(&mut c, "SET x:1-> hello").await;
        assert_eq!(
            call(&mut c, "SORT l LIMIT 0 1 GET x:*->").await,
            words("hello")
        );
        // BY without `*`: no sorting; lists and sorted sets keep their order, DESC reverses.
        call(&mut c, "RPUSH n 5 3 4 1 2").await;
        assert_eq!(call(&mut c, "SORT n BY nosort").await, words("5 3 4 1 2"));
        assert_eq!(
            call(&mut c, "SORT n BY nosort DESC LIMIT 1 2").await,
            words("1 4")
        );
        call(&mut c, "ZADD z 1 a 5 b 2 c 10 d 3 e").await;
        assert_eq!(
            call(&mut c, "SORT z BY nosort DESC").await,
            words("d b e c a")
        );
        assert_eq!(
            call(&mut c, "SORT z BY nosort LIMIT 1 2").await,
            words("c e")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        call(&mut c, "RPUSH l 1 x 3").await;
        let not_double = error("ERR One or more scores can't be converted into double");
        assert_eq!(call(&mut c, "SORT l").await, not_double);
        call(&mut c, "RPUSH m 1 2").await;
        call(&mut c, "MSET w_1 1 w_2 nan").await;
        assert_eq!(call(&mut c, "SORT m BY w_*").await, not_double);
        assert_eq!(call(&mut c, "SORT l ALPHA").await, words("1 3 x"));
        // A failed sort stores nothing.
        assert_eq!(call(&mut c, "SORT l STORE dst").await, not_double);
        assert_eq!(call(&mut c, "EXISTS dst").await, int(0));
        assert_eq!(call(&mut c, "SORT l FOO").await, error("ERR syntax error"));
        assert_eq!(
            call(&mut c, "SORT l LIMIT 1").await,
            error("ERR syntax error")
        );
        assert_eq!(
            call(&mut c, "SORT l LIMIT a 1").await,
            error("ERR value is not an integer or out of range")
        );
        assert_eq!(
            call(&mut c, "SORT_RO l STORE dst").await,
            error("ERR syntax error")
        );
        call(&mut c, "SET str v").await;
        call(&mut c, "HSET h f v").await;
        for key in ["str", "h"] {
            assert_eq!(
                call(&mut c, &format!("SORT {key}")).await,
                error("WRONGTYPE Operation against a key holding the wrong kind of value")
            );
        }
        // Options are checked before the key's type.
        assert_eq!(
            call(&mut c, "SORT str FOO").await,
            error("ERR syntax error")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_writes_a_list_or_deletes() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        call(&mut c, "RPUSH l 3 1 2").await;
        // The destination's old value and TTL go.
        call(&mut c, "SET dst old EX 100").await;
        assert_eq!(call(&mut c, "SORT l STORE dst").await, int(3));
        assert_eq!(call(&mut c, "LRANGE dst 0 -1").await, words("1 2 3"));
        assert_eq!(call(&mut c, "TTL dst").await, int(-1));
        assert_eq!(
            call(&mut c, "TYPE dst").await,
            Frame::Simple(b"list".to_vec())
        );
        // GET values are stored; a missing one as an empty string.
        call(&mut c, "SET v_1 one").await;
        assert_eq!(call(&mut c, "SORT l GET # GET v_* STORE dst").await, int(6));
        assert_eq!(
            call(&mut c, "LRANGE dst 0 -1").await,
            Frame::Array(vec![
                bulk("1"),
                bulk("one"),
                bulk("2"),
                bulk(""),
                bulk("3"),
                bulk(""),
            ])
        );
        // A set unsorted by BY nosort is stored in ALPHA order.
        call(&mut c, "SADD s c a b").await;
        assert_eq!(call(&mut c, "SORT s BY nosort STORE dst").await, int(3));
        assert_eq!(call(&mut c, "LRANGE dst 0 -1").await, words("a b c"));
        // An empty result deletes the destination and stores nothing.
        assert_eq!(call(&mut c, "SORT l LIMIT 10 10 STORE dst").await, int(0));
        assert_eq!(call(&mut c, "EXISTS dst").await, int(0));
        assert_eq!(call(&mut c, "SORT missing STORE dst").await, int(0));
        assert_eq!(call(&mut c, "EXISTS dst").await, int(0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_wakes_blocked_clients_and_touches_watched_keys() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        let mut blocked = Client::connect(server.addr).await;
        blocked.send(&[b"BLPOP", b"dst", b"0"]).await;
        let want = "blocked_clients:1\r\n";
        loop {
            let Frame::Bulk(info) = c.call_str(&["INFO", "clients"]).await else {
                panic!("INFO replies a bulk string");
            };
            if String::from_utf8_lossy(&info).contains(want) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        call(&mut c, "RPUSH src b c a").await;
        assert_eq!(call(&mut c, "SORT src ALPHA STORE dst").await, int(3));
        assert_eq!(blocked.read().await, words("dst a"));
        assert_eq!(call(&mut c, "LRANGE dst 0 -1").await, words("b c"));

        // Deleting the destination through an empty result touches a WATCHed key.
        call(&mut c, "WATCH dst").await;
        assert_eq!(call(&mut c, "SORT empty STORE dst").await, int(0));
        call(&mut c, "MULTI").await;
        call(&mut c, "PING").await;
        assert_eq!(call(&mut c, "EXEC").await, Frame::NullArray);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getkeys_finds_the_store_destination() {
    let server = start(Config::default()).await;
    within(async {
        let mut c = Client::connect(server.addr).await;
        assert_eq!(
            call(&mut c, "COMMAND GETKEYS sort abc store def").await,
            words("abc def")
        );
        assert_eq!(
            call(
                &mut c,
                "COMMAND GETKEYS sort abc store invalid store stillbad store def"
            )
            .await,
            words("abc def")
        );
        assert_eq!(
            call(&mut c, "COMMAND GETKEYS sort_ro abc").await,
            words("abc")
        );
    })
    .await;
}
