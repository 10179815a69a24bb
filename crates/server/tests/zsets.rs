//! Sorted set commands over the wire: ordering, ranks, score and lex ranges with inclusive and
//! exclusive bounds, ZADD's flag combinations and their errors, encodings switching at the
//! configured limits, aggregates with weights, wrong types, and keys removed when emptied.

mod raw;

use larder_protocol::Frame;
use larder_server::Config;
use raw::bulk;

/// A connection to a fresh in-process server (the server stops when this drops).
struct Conn {
    _server: raw::TestServer,
    client: raw::Client,
}

async fn connect() -> Conn {
    let server = raw::start(Config::default()).await;
    let client = raw::Client::connect(server.addr).await;
    Conn {
        _server: server,
        client,
    }
}

impl Conn {
    async fn call(&mut self, args: &[&[u8]]) -> Frame {
        self.client.call(args).await
    }

    /// Sends a command given as space-separated words.
    async fn cmd(&mut self, line: &str) -> Frame {
        let args: Vec<&str> = line.split(' ').collect();
        self.client.call_str(&args).await
    }

    async fn int(&mut self, line: &str) -> i64 {
        match self.cmd(line).await {
            Frame::Integer(n) => n,
            other => panic!("{line}: expected an integer, got {other:?}"),
        }
    }

    async fn err(&mut self, line: &str) -> String {
        match self.cmd(line).await {
            Frame::Error(text) => String::from_utf8(text).expect("UTF-8"),
            other => panic!("{line}: expected an error, got {other:?}"),
        }
    }
}

/// The words of an array reply of bulk strings (scores come as bulk strings in RESP2).
fn words(frame: Frame) -> Vec<String> {
    match frame {
        Frame::Array(items) => items
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) => String::from_utf8(b).expect("UTF-8"),
                other => panic!("expected a bulk string, got {other:?}"),
            })
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

async fn list(c: &mut Conn, line: &str) -> Vec<String> {
    words(c.cmd(line).await)
}

fn w(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn members_order_by_score_then_bytes() {
    let mut c = connect().await;
    assert_eq!(c.int("ZADD z 3 c 1 b 1 a 2 d -inf m +inf n").await, 6);
    assert_eq!(
        list(&mut c, "ZRANGE z 0 -1 WITHSCORES").await,
        w(&[
            "m", "-inf", "a", "1", "b", "1", "d", "2", "c", "3", "n", "inf"
        ])
    );
    assert_eq!(list(&mut c, "ZREVRANGE z 0 1").await, w(&["n", "c"]));
    assert_eq!(c.int("ZRANK z d").await, 3);
    assert_eq!(c.int("ZREVRANK z d").await, 2);
    assert_eq!(c.cmd("ZRANK z nope").await, Frame::Null);
    assert_eq!(c.cmd("ZSCORE z a").await, bulk("1"));
    assert_eq!(c.cmd("ZINCRBY z 0.1 a").await, bulk("1.1000000000000001"));
    assert_eq!(c.int("ZCARD z").await, 6);
    assert_eq!(
        c.cmd("ZMSCORE z a nope").await,
        Frame::Array(vec![bulk("1.1000000000000001"), Frame::Null])
    );
}

#[tokio::test]
async fn score_ranges_with_inclusive_and_exclusive_bounds() {
    let mut c = connect().await;
    c.int("ZADD z 1 a 2 b 3 c 4 d 5 e").await;
    assert_eq!(
        list(&mut c, "ZRANGEBYSCORE z 2 4").await,
        w(&["b", "c", "d"])
    );
    assert_eq!(list(&mut c, "ZRANGEBYSCORE z (2 (4").await, w(&["c"]));
    assert_eq!(
        list(&mut c, "ZRANGEBYSCORE z -inf +inf LIMIT 1 2").await,
        w(&["b", "c"])
    );
    assert_eq!(
        list(&mut c, "ZREVRANGEBYSCORE z 4 (1").await,
        w(&["d", "c", "b"])
    );
    assert_eq!(
        list(&mut c, "ZRANGE z (4 2 BYSCORE REV LIMIT 0 1").await,
        w(&["c"])
    );
    assert_eq!(
        list(&mut c, "ZRANGEBYSCORE z 4 2").await,
        Vec::<String>::new()
    );
    assert_eq!(c.int("ZCOUNT z (1 5").await, 4);
    assert_eq!(c.err("ZCOUNT z x 5").await, "ERR min or max is not a float");
    assert_eq!(
        c.err("ZRANGE z 0 1 LIMIT 0 1").await,
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
}

#[tokio::test]
async fn lex_ranges() {
    let mut c = connect().await;
    c.int("ZADD z 0 a 0 b 0 c 0 d 0 e").await;
    assert_eq!(list(&mut c, "ZRANGEBYLEX z [b (d").await, w(&["b", "c"]));
    assert_eq!(
        list(&mut c, "ZRANGEBYLEX z - +").await,
        w(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(
        list(&mut c, "ZREVRANGEBYLEX z (d -").await,
        w(&["c", "b", "a"])
    );
    assert_eq!(
        list(&mut c, "ZRANGE z [e [c BYLEX REV").await,
        w(&["e", "d", "c"])
    );
    assert_eq!(c.int("ZLEXCOUNT z (a [c").await, 2);
    assert_eq!(
        c.err("ZLEXCOUNT z a c").await,
        "ERR min or max not valid string range item"
    );
    assert_eq!(
        c.err("ZRANGE z - + BYLEX WITHSCORES").await,
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
    );
    assert_eq!(c.int("ZREMRANGEBYLEX z [b [c").await, 2);
    assert_eq!(list(&mut c, "ZRANGE z 0 -1").await, w(&["a", "d", "e"]));
}

#[tokio::test]
async fn zadd_flags_and_their_errors() {
    let mut c = connect().await;
    assert_eq!(c.int("ZADD z XX 1 a").await, 0);
    assert_eq!(c.int("EXISTS z").await, 0);
    assert_eq!(c.int("ZADD z 1 a 2 b").await, 2);
    assert_eq!(c.int("ZADD z NX 5 a 3 c").await, 1);
    assert_eq!(c.cmd("ZSCORE z a").await, bulk("1"));
    assert_eq!(c.int("ZADD z CH GT 0 a 5 b").await, 1);
    assert_eq!(c.int("ZADD z CH LT 0 a 9 b").await, 1);
    assert_eq!(c.cmd("ZSCORE z b").await, bulk("5"));
    assert_eq!(c.cmd("ZADD z XX INCR 2 a").await, bulk("2"));
    assert_eq!(c.cmd("ZADD z NX INCR 2 a").await, Frame::Null);
    assert_eq!(c.cmd("ZADD z GT INCR -1 a").await, Frame::Null);
    assert_eq!(
        c.err("ZADD z NX XX 1 a").await,
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        c.err("ZADD z GT LT 1 a").await,
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        c.err("ZADD z INCR 1 a 2 b").await,
        "ERR INCR option supports a single increment-element pair"
    );
    assert_eq!(c.err("ZADD z 1 a 2").await, "ERR syntax error");
    assert_eq!(
        c.err("ZADD z nan a").await,
        "ERR value is not a valid float"
    );
    c.int("ZADD z +inf big").await;
    assert_eq!(
        c.err("ZINCRBY z -inf big").await,
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(c.cmd("ZSCORE z big").await, bulk("inf"));
}

#[tokio::test]
async fn encodings_switch_at_the_configured_limits() {
    let mut c = connect().await;
    c.cmd("CONFIG SET zset-max-listpack-entries 4").await;
    c.cmd("CONFIG SET zset-max-listpack-value 8").await;
    c.int("ZADD z 1 a 2 b 3 c 4 d").await;
    assert_eq!(c.cmd("OBJECT ENCODING z").await, bulk("listpack"));
    c.int("ZADD z 5 e").await;
    assert_eq!(c.cmd("OBJECT ENCODING z").await, bulk("skiplist"));
    c.int("ZREMRANGEBYRANK z 0 2").await;
    assert_eq!(c.cmd("OBJECT ENCODING z").await, bulk("skiplist"));
    c.int("ZADD long 1 123456789").await;
    assert_eq!(c.cmd("OBJECT ENCODING long").await, bulk("skiplist"));
    // A stored result picks its encoding by size.
    assert_eq!(c.int("ZRANGESTORE small z 0 0").await, 1);
    assert_eq!(c.cmd("OBJECT ENCODING small").await, bulk("listpack"));
}

#[tokio::test]
async fn aggregates_with_weights() {
    let mut c = connect().await;
    c.int("ZADD a 1 x 2 y").await;
    c.int("ZADD b 10 y 20 z").await;
    c.int("SADD s y z").await;
    assert_eq!(
        list(&mut c, "ZUNION 2 a b WEIGHTS 2 1 WITHSCORES").await,
        w(&["x", "2", "y", "14", "z", "20"])
    );
    assert_eq!(
        list(&mut c, "ZINTER 2 a b AGGREGATE MAX WITHSCORES").await,
        w(&["y", "10"])
    );
    assert_eq!(
        list(&mut c, "ZINTER 2 a s WITHSCORES").await,
        w(&["y", "3"])
    );
    assert_eq!(list(&mut c, "ZDIFF 2 a b").await, w(&["x"]));
    assert_eq!(c.int("ZUNIONSTORE dst 2 a b AGGREGATE MIN").await, 3);
    assert_eq!(
        list(&mut c, "ZRANGE dst 0 -1 WITHSCORES").await,
        w(&["x", "1", "y", "2", "z", "20"])
    );
    assert_eq!(c.int("ZINTERCARD 2 a b").await, 1);
    assert_eq!(c.int("ZINTERSTORE dst 2 a missing").await, 0);
    assert_eq!(c.int("EXISTS dst").await, 0);
    assert_eq!(
        c.err("ZUNION 0 a").await,
        "ERR at least 1 input key is needed for 'zunion' command"
    );
    assert_eq!(
        c.err("ZUNION 2 a b WEIGHTS 1 x").await,
        "ERR weight value is not a float"
    );
    assert_eq!(
        c.err("ZINTERCARD 1 a LIMIT -1").await,
        "ERR LIMIT can't be negative"
    );
}

#[tokio::test]
async fn wrong_type_and_empty_keys_are_removed() {
    let mut c = connect().await;
    c.cmd("SET str x").await;
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(c.err("ZADD str 1 a").await, wrongtype);
    assert_eq!(c.err("ZRANGE str 0 -1").await, wrongtype);
    assert_eq!(c.err("ZUNION 1 str").await, wrongtype);
    c.int("ZADD z 1 a 2 b 3 c").await;
    assert_eq!(c.int("ZREM z a nope").await, 1);
    assert_eq!(
        c.cmd("ZPOPMIN z").await,
        Frame::Array(vec![bulk("b"), bulk("2")])
    );
    assert_eq!(c.int("ZREMRANGEBYSCORE z -inf +inf").await, 1);
    assert_eq!(c.int("EXISTS z").await, 0);
    assert_eq!(c.cmd("ZPOPMAX z").await, Frame::Array(vec![]));
    assert_eq!(c.cmd("ZMPOP 1 z MIN").await, Frame::NullArray);
}

#[tokio::test]
async fn pops_and_zmpop() {
    let mut c = connect().await;
    c.int("ZADD z 1 a 2 b 3 c").await;
    assert_eq!(list(&mut c, "ZPOPMAX z 2").await, w(&["c", "3", "b", "2"]));
    assert_eq!(
        c.cmd("ZMPOP 2 missing z MIN COUNT 5").await,
        Frame::Array(vec![
            bulk("z"),
            Frame::Array(vec![Frame::Array(vec![bulk("a"), bulk("1")])])
        ])
    );
    assert_eq!(
        c.err("ZPOPMIN z -1").await,
        "ERR value is out of range, must be positive"
    );
    assert_eq!(
        c.err("ZMPOP 0 z MIN").await,
        "ERR numkeys should be greater than 0"
    );
    c.int("ZADD q 7 m").await;
    assert_eq!(
        list(&mut c, "BZPOPMIN missing q 0").await,
        w(&["q", "m", "7"])
    );
}

#[tokio::test]
async fn zscan_returns_every_member_of_a_large_set() {
    let mut c = connect().await;
    let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), b"z".to_vec()];
    for i in 0..1000 {
        args.push(i.to_string().into_bytes());
        args.push(format!("m{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    assert_eq!(c.call(&refs).await, Frame::Integer(1000));
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    loop {
        let Frame::Array(parts) = c.cmd(&format!("ZSCAN z {cursor} COUNT 50")).await else {
            panic!("ZSCAN replies an array");
        };
        let [Frame::Bulk(next), Frame::Array(items)] = &parts[..] else {
            panic!("cursor and items");
        };
        for pair in items.chunks(2) {
            if let Frame::Bulk(member) = &pair[0] {
                seen.insert(member.clone());
            }
        }
        cursor = String::from_utf8(next.clone()).expect("UTF-8");
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
}

#[tokio::test]
async fn randmember_counts() {
    let mut c = connect().await;
    c.int("ZADD z 1 a 2 b 3 c").await;
    let mut uniq = list(&mut c, "ZRANDMEMBER z 10").await;
    uniq.sort();
    assert_eq!(uniq, w(&["a", "b", "c"]));
    assert_eq!(list(&mut c, "ZRANDMEMBER z -7").await.len(), 7);
    assert_eq!(list(&mut c, "ZRANDMEMBER z 2 WITHSCORES").await.len(), 4);
    assert_eq!(c.err("ZRANDMEMBER z 1 x").await, "ERR syntax error");
}

/// ZMSCORE on a `skiplist` set reads its members in chunks (each prefetched first): the scores
/// come in the order asked across chunk borders, missing members included.
#[tokio::test]
async fn zmscore_answers_in_order_across_chunks() {
    let mut c = connect().await;
    let pairs: Vec<String> = (0..200).map(|i| format!("{i} m{i}")).collect();
    assert_eq!(c.int(&format!("ZADD big {}", pairs.join(" "))).await, 200);
    assert_eq!(c.cmd("OBJECT ENCODING big").await, bulk("skiplist"));
    let asked: Vec<String> = (0..100).map(|i| format!("m{}", i * 3)).collect();
    let expected: Vec<Frame> = (0..100)
        .map(|i| {
            if i * 3 < 200 {
                bulk(&(i * 3).to_string())
            } else {
                Frame::Null
            }
        })
        .collect();
    assert_eq!(
        c.cmd(&format!("ZMSCORE big {}", asked.join(" "))).await,
        Frame::Array(expected)
    );
}
