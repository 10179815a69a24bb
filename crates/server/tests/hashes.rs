//! Hash commands over the wire: the encodings switching at Redis's limits, HSCAN's guarantee
//! while the hash changes, counters, random fields, wrong types, an emptied hash removing its
//! key, and the engine's weight of a hash growing with it (maxmemory refuses a hash that grows
//! past it).

mod collections;
mod inproc;

use collections::{connect, fails, run};
use inproc::TestServer;
use larder_server::Config;
use redis::{RedisResult, cmd};
use std::collections::{HashMap, HashSet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_values_and_encodings() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    assert_eq!(run::<i64>(&mut c, "HSET h a 1 b 2").await, 2);
    assert_eq!(run::<i64>(&mut c, "HSET h a 10 c 3").await, 1);
    assert_eq!(run::<String>(&mut c, "HMSET h d 4").await, "OK");
    assert_eq!(
        run::<Option<String>>(&mut c, "HGET h a").await.as_deref(),
        Some("10")
    );
    assert_eq!(run::<Option<String>>(&mut c, "HGET h zz").await, None);
    assert_eq!(
        run::<Vec<Option<String>>>(&mut c, "HMGET h a zz d").await,
        vec![Some("10".into()), None, Some("4".into())]
    );
    assert_eq!(run::<i64>(&mut c, "HLEN h").await, 4);
    assert_eq!(run::<i64>(&mut c, "HSTRLEN h a").await, 2);
    assert_eq!(run::<i64>(&mut c, "HEXISTS h b").await, 1);
    assert_eq!(run::<i64>(&mut c, "HSETNX h a 99").await, 0);
    assert_eq!(run::<i64>(&mut c, "HSETNX h e 5").await, 1);
    let all: HashMap<String, String> = run(&mut c, "HGETALL h").await;
    assert_eq!(all.len(), 5);
    assert_eq!(all["e"], "5");
    assert_eq!(run::<String>(&mut c, "OBJECT ENCODING h").await, "listpack");

    // Past hash-max-listpack-value bytes in a value: hashtable, for good.
    let long = "x".repeat(65);
    assert_eq!(run::<i64>(&mut c, &format!("HSET h long {long}")).await, 1);
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING h").await,
        "hashtable"
    );
    assert_eq!(run::<i64>(&mut c, "HDEL h long").await, 1);
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING h").await,
        "hashtable"
    );

    // Past hash-max-listpack-entries fields.
    let _: () = run(&mut c, "CONFIG SET hash-max-listpack-entries 4").await;
    assert_eq!(run::<i64>(&mut c, "HSET small a 1 b 2 c 3 d 4").await, 4);
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING small").await,
        "listpack"
    );
    assert_eq!(run::<i64>(&mut c, "HSET small e 5").await, 1);
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING small").await,
        "hashtable"
    );
    assert_eq!(
        run::<Option<String>>(&mut c, "HGET small c")
            .await
            .as_deref(),
        Some("3")
    );

    // The last field deleted removes the key.
    assert_eq!(run::<i64>(&mut c, "HDEL small a b c d e zz").await, 5);
    assert_eq!(run::<i64>(&mut c, "EXISTS small").await, 0);
    assert_eq!(run::<i64>(&mut c, "HDEL small a").await, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_errors_read_like_redis() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    assert_eq!(run::<i64>(&mut c, "HINCRBY h n 5").await, 5);
    assert_eq!(run::<i64>(&mut c, "HINCRBY h n -7").await, -2);
    assert_eq!(run::<String>(&mut c, "HINCRBYFLOAT h f 10.5").await, "10.5");
    assert_eq!(run::<String>(&mut c, "HINCRBYFLOAT h f 0.1").await, "10.6");
    assert_eq!(run::<String>(&mut c, "HINCRBYFLOAT h n 1.5").await, "-0.5");
    let _: () = run(&mut c, "HSET h s abc big 9223372036854775807").await;
    assert!(
        fails(&mut c, "HINCRBY h s 1")
            .await
            .contains("hash value is not an integer")
    );
    assert!(
        fails(&mut c, "HINCRBY h big 1")
            .await
            .contains("increment or decrement would overflow")
    );
    assert!(
        fails(&mut c, "HINCRBY h n x")
            .await
            .contains("value is not an integer or out of range")
    );
    assert!(
        fails(&mut c, "HINCRBYFLOAT h s 1")
            .await
            .contains("hash value is not a float")
    );
    assert!(
        fails(&mut c, "HINCRBYFLOAT h f inf")
            .await
            .contains("value is NaN or Infinity")
    );
    assert!(
        fails(&mut c, "HINCRBYFLOAT h f x")
            .await
            .contains("value is not a valid float")
    );
    assert!(
        fails(&mut c, "HSET h a")
            .await
            .contains("wrong number of arguments for 'hset'")
    );
    assert!(
        fails(&mut c, "HMSET h a 1 b")
            .await
            .contains("wrong number of arguments for 'hmset'")
    );

    // Every hash command refuses another type, and a write leaves it alone.
    let _: () = run(&mut c, "SET str v").await;
    for line in [
        "HSET str a 1",
        "HGET str a",
        "HMGET str a",
        "HDEL str a",
        "HLEN str",
        "HGETALL str",
        "HINCRBY str a 1",
        "HRANDFIELD str",
        "HSCAN str 0",
        "HEXISTS str a",
    ] {
        assert!(fails(&mut c, line).await.contains("WRONGTYPE"), "{line}");
    }
    assert_eq!(run::<String>(&mut c, "GET str").await, "v");
    // A missing key reads as an empty hash.
    assert_eq!(run::<i64>(&mut c, "HLEN nothing").await, 0);
    assert_eq!(
        run::<Vec<String>>(&mut c, "HKEYS nothing").await,
        Vec::<String>::new()
    );
    assert_eq!(
        run::<Vec<Option<String>>>(&mut c, "HMGET nothing a b").await,
        vec![None, None]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hrandfield_counts() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    for (name, n) in [("small", 10), ("large", 1000)] {
        let mut hset = cmd("HSET");
        hset.arg(name);
        for i in 0..n {
            hset.arg(format!("f{i}")).arg(format!("v{i}"));
        }
        let _: () = hset.query_async(&mut c).await.expect("HSET");
        // Positive counts: distinct fields, at most the whole hash.
        for count in [1, 3, 9, 10, 11, 400] {
            let got: Vec<String> = run(&mut c, &format!("HRANDFIELD {name} {count}")).await;
            let distinct: HashSet<&String> = got.iter().collect();
            assert_eq!(got.len(), count.min(n), "{name} {count}");
            assert_eq!(distinct.len(), got.len(), "{name} {count}");
        }
        // Negative: exactly that many, repeats allowed.
        let got: Vec<String> = run(&mut c, &format!("HRANDFIELD {name} -25")).await;
        assert_eq!(got.len(), 25);
        // WITHVALUES: field, value pairs that belong together.
        let got: Vec<String> = run(&mut c, &format!("HRANDFIELD {name} 5 WITHVALUES")).await;
        assert_eq!(got.len(), 10);
        for pair in got.chunks(2) {
            assert_eq!(pair[0][1..], pair[1][1..]);
        }
    }
    assert!(
        fails(&mut c, "HRANDFIELD small 1 bogus")
            .await
            .contains("syntax error")
    );
    assert!(
        fails(&mut c, "HRANDFIELD small -9223372036854775808")
            .await
            .contains("value is out of range")
    );
    assert!(
        fails(&mut c, "HRANDFIELD small -9223372036854770000 WITHVALUES")
            .await
            .contains("value is out of range")
    );
    assert_eq!(
        run::<Option<String>>(&mut c, "HRANDFIELD nothing").await,
        None
    );
    assert_eq!(
        run::<Vec<String>>(&mut c, "HRANDFIELD nothing 5").await,
        Vec::<String>::new()
    );
    server.stop().await;
}

/// HSCAN: every field present for the whole scan is returned, while fields are added (the
/// table grows many times over) and others deleted between the calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hscan_returns_every_field_present_throughout() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    let mut hset = cmd("HSET");
    hset.arg("h");
    for i in 0..1000 {
        hset.arg(format!("keep{i}")).arg(i);
        hset.arg(format!("drop{i}")).arg(i);
    }
    let _: () = hset.query_async(&mut c).await.expect("HSET");
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut step = 0;
    loop {
        let (next, items): (u64, Vec<String>) = cmd("HSCAN")
            .arg("h")
            .arg(cursor)
            .arg("COUNT")
            .arg(100)
            .query_async(&mut c)
            .await
            .expect("HSCAN");
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        // Between calls: add 90 new fields and delete 10 of the droppable ones (a scan
        // finishes as long as it visits slots faster than inserts append them).
        let mut grow = cmd("HSET");
        grow.arg("h");
        for i in 0..90 {
            grow.arg(format!("new{step}-{i}")).arg(i);
        }
        let _: () = grow.query_async(&mut c).await.expect("HSET");
        let mut del = cmd("HDEL");
        del.arg("h");
        for i in 0..10 {
            del.arg(format!("drop{}", step * 10 + i));
        }
        let _: i64 = del.query_async(&mut c).await.expect("HDEL");
        step += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for i in 0..1000 {
        assert!(seen.contains(&format!("keep{i}")), "keep{i} missed");
    }
    // MATCH filters by field; a listpack hash is returned whole with cursor 0.
    let (next, items): (u64, Vec<String>) =
        run(&mut c, "HSCAN h 0 MATCH keep999 COUNT 100000").await;
    assert_eq!(
        (next, items),
        (0, vec!["keep999".to_owned(), "999".to_owned()])
    );
    let _: () = run(&mut c, "HSET tiny a 1 b 2 c 3").await;
    let (next, items): (u64, Vec<String>) = run(&mut c, "HSCAN tiny 0 COUNT 1").await;
    assert_eq!((next, items.len()), (0, 6));
    assert!(
        fails(&mut c, "HSCAN tiny 0 COUNT 0")
            .await
            .contains("syntax error")
    );
    assert!(
        fails(&mut c, "HSCAN tiny x")
            .await
            .contains("invalid cursor")
    );
    server.stop().await;
}

/// The engine weighs a hash as it grows: under `maxmemory` with `noeviction`, growing one hash
/// is eventually refused with `-OOM`, and MEMORY USAGE follows the fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_growing_hash_is_weighed() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    let _: () = run(&mut c, "HSET h f0 v").await;
    let small: i64 = run(&mut c, "MEMORY USAGE h").await;
    let mut hset = cmd("HSET");
    hset.arg("h");
    for i in 0..10_000 {
        hset.arg(format!("field{i}")).arg("x".repeat(100));
    }
    let _: () = hset.query_async(&mut c).await.expect("HSET");
    let large: i64 = run(&mut c, "MEMORY USAGE h").await;
    assert!(large > small + 10_000 * 100, "{small} -> {large}");
    let _: () = run(&mut c, "FLUSHALL").await;

    let _: () = run(&mut c, "CONFIG SET maxmemory-policy noeviction").await;
    let _: () = run(&mut c, "CONFIG SET maxmemory 2mb").await;
    let mut refused = None;
    for i in 0..100 {
        let mut hset = cmd("HSET");
        hset.arg("h");
        for j in 0..100 {
            hset.arg(format!("f{i}-{j}")).arg("y".repeat(300));
        }
        let result: RedisResult<i64> = hset.query_async(&mut c).await;
        if let Err(e) = result {
            assert!(e.to_string().contains("OOM"), "{e}");
            refused = Some(i);
            break;
        }
    }
    // 100 rounds would be 3 MB of values alone; the weight must refuse before.
    let refused = refused.expect("growing the hash is refused");
    assert!(refused < 100, "{refused}");
    // Reads and deletes still work.
    assert!(run::<i64>(&mut c, "HLEN h").await > 0);
    assert_eq!(run::<i64>(&mut c, "DEL h").await, 1);
    server.stop().await;
}

/// HMGET on a `hashtable` hash reads its fields in chunks (each prefetched first): the answers
/// come in the order asked across chunk borders, missing fields included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hmget_answers_in_order_across_chunks() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    let pairs: Vec<String> = (0..600).map(|i| format!("f{i} v{i}")).collect();
    assert_eq!(
        run::<i64>(&mut c, &format!("HSET big {}", pairs.join(" "))).await,
        600
    );
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING big").await,
        "hashtable"
    );
    // Fields 0, 7, 14, ... up to 693: those from 600 on are missing.
    let asked: Vec<String> = (0..100).map(|i| format!("f{}", i * 7)).collect();
    let expected: Vec<Option<String>> = (0..100)
        .map(|i| (i * 7 < 600).then(|| format!("v{}", i * 7)))
        .collect();
    assert_eq!(
        run::<Vec<Option<String>>>(&mut c, &format!("HMGET big {}", asked.join(" "))).await,
        expected
    );
}
