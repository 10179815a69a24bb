//! Set commands over the wire: intset/hashtable switching, the set algebra and its `*STORE`
//! forms, SMOVE, SPOP/SRANDMEMBER counts, SSCAN's guarantee while the set changes, wrong
//! types and an emptied set removing its key.

mod collections;
mod inproc;

use collections::{connect, fails, run};
use inproc::TestServer;
use larder_server::Config;
use redis::aio::MultiplexedConnection;
use redis::cmd;
use std::collections::HashSet;

async fn members(con: &mut MultiplexedConnection, key: &str) -> Vec<String> {
    let mut m: Vec<String> = run(con, &format!("SMEMBERS {key}")).await;
    m.sort();
    m
}

fn strings(words: &str) -> Vec<String> {
    let mut v: Vec<String> = words.split(' ').map(str::to_owned).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_encodings() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    assert_eq!(run::<i64>(&mut c, "SADD s 3 1 2 2").await, 3);
    assert_eq!(run::<String>(&mut c, "OBJECT ENCODING s").await, "intset");
    // An intset answers in ascending order.
    assert_eq!(
        run::<Vec<String>>(&mut c, "SMEMBERS s").await,
        ["1", "2", "3"]
    );
    assert_eq!(run::<i64>(&mut c, "SISMEMBER s 2").await, 1);
    assert_eq!(run::<i64>(&mut c, "SISMEMBER s 02").await, 0);
    assert_eq!(
        run::<Vec<i64>>(&mut c, "SMISMEMBER s 1 9 3").await,
        [1, 0, 1]
    );
    assert_eq!(run::<i64>(&mut c, "SCARD s").await, 3);
    // A member that is not a canonical integer: hashtable, for good.
    assert_eq!(run::<i64>(&mut c, "SADD s 007").await, 1);
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING s").await,
        "hashtable"
    );
    assert_eq!(run::<i64>(&mut c, "SREM s 007").await, 1);
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING s").await,
        "hashtable"
    );
    // Past set-max-intset-entries integers.
    let _: () = run(&mut c, "CONFIG SET set-max-intset-entries 3").await;
    assert_eq!(run::<i64>(&mut c, "SADD i 1 2 3").await, 3);
    assert_eq!(run::<String>(&mut c, "OBJECT ENCODING i").await, "intset");
    assert_eq!(run::<i64>(&mut c, "SADD i 4").await, 1);
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING i").await,
        "hashtable"
    );
    assert_eq!(members(&mut c, "i").await, strings("1 2 3 4"));
    // The last member removed removes the key.
    assert_eq!(run::<i64>(&mut c, "SREM i 1 2 3 4 5").await, 4);
    assert_eq!(run::<i64>(&mut c, "EXISTS i").await, 0);
    // Wrong types.
    let _: () = run(&mut c, "SET str v").await;
    for line in [
        "SADD str a",
        "SREM str a",
        "SMEMBERS str",
        "SISMEMBER str a",
        "SCARD str",
        "SPOP str",
        "SRANDMEMBER str",
        "SINTER s str",
        "SUNION s str",
        "SDIFF s str",
        "SINTERSTORE d s str",
        "SMOVE s str 1",
        "SMOVE str s 1",
        "SSCAN str 0",
    ] {
        assert!(fails(&mut c, line).await.contains("WRONGTYPE"), "{line}");
    }
    assert_eq!(run::<String>(&mut c, "GET str").await, "v");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn algebra_and_store() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    let _: () = run(&mut c, "SADD a 1 2 3 4 x").await;
    let _: () = run(&mut c, "SADD b 3 4 5 x").await;
    let _: () = run(&mut c, "SADD n 1 2 3").await;
    let mut inter: Vec<String> = run(&mut c, "SINTER a b").await;
    inter.sort();
    assert_eq!(inter, strings("3 4 x"));
    let mut union: Vec<String> = run(&mut c, "SUNION a b missing").await;
    union.sort();
    assert_eq!(union, strings("1 2 3 4 5 x"));
    let mut diff: Vec<String> = run(&mut c, "SDIFF a b missing").await;
    diff.sort();
    assert_eq!(diff, strings("1 2"));
    assert_eq!(
        run::<Vec<String>>(&mut c, "SDIFF a a").await,
        Vec::<String>::new()
    );
    assert_eq!(
        run::<Vec<String>>(&mut c, "SINTER a missing").await,
        Vec::<String>::new()
    );
    assert_eq!(run::<i64>(&mut c, "SINTERCARD 2 a b").await, 3);
    assert_eq!(run::<i64>(&mut c, "SINTERCARD 2 a b LIMIT 2").await, 2);
    assert_eq!(run::<i64>(&mut c, "SINTERCARD 2 a b LIMIT 0").await, 3);
    assert!(
        fails(&mut c, "SINTERCARD 0 a")
            .await
            .contains("numkeys should be greater than 0")
    );
    assert!(
        fails(&mut c, "SINTERCARD 3 a b")
            .await
            .contains("Number of keys can't be greater than number of args")
    );
    assert!(
        fails(&mut c, "SINTERCARD 2 a b LIMIT -1")
            .await
            .contains("LIMIT can't be negative")
    );
    assert!(
        fails(&mut c, "SINTERCARD 2 a b FOO 1")
            .await
            .contains("syntax error")
    );

    // *STORE replaces the destination whatever it held, and a TTL goes with it.
    let _: () = run(&mut c, "SET dest v EX 1000").await;
    assert_eq!(run::<i64>(&mut c, "SINTERSTORE dest a n").await, 3);
    assert_eq!(members(&mut c, "dest").await, strings("1 2 3"));
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING dest").await,
        "intset"
    );
    assert_eq!(run::<i64>(&mut c, "TTL dest").await, -1);
    assert_eq!(run::<i64>(&mut c, "SUNIONSTORE dest a b").await, 6);
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING dest").await,
        "hashtable"
    );
    assert_eq!(run::<i64>(&mut c, "SDIFFSTORE dest a b").await, 2);
    // The destination may be a source.
    assert_eq!(run::<i64>(&mut c, "SUNIONSTORE dest dest n").await, 3);
    assert_eq!(members(&mut c, "dest").await, strings("1 2 3"));
    // An empty result deletes the destination.
    assert_eq!(run::<i64>(&mut c, "SINTERSTORE dest a missing").await, 0);
    assert_eq!(run::<i64>(&mut c, "EXISTS dest").await, 0);

    // SMOVE.
    assert_eq!(run::<i64>(&mut c, "SMOVE a b 1").await, 1);
    assert_eq!(run::<i64>(&mut c, "SISMEMBER b 1").await, 1);
    assert_eq!(run::<i64>(&mut c, "SMOVE a b nothere").await, 0);
    assert_eq!(run::<i64>(&mut c, "SMOVE missing b 1").await, 0);
    assert_eq!(run::<i64>(&mut c, "SMOVE b b 1").await, 1);
    let _: () = run(&mut c, "SADD single only").await;
    assert_eq!(run::<i64>(&mut c, "SMOVE single fresh only").await, 1);
    assert_eq!(run::<i64>(&mut c, "EXISTS single").await, 0);
    assert_eq!(members(&mut c, "fresh").await, ["only"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spop_and_srandmember_counts() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    for (key, n) in [("ints", 100), ("words", 1000)] {
        let mut sadd = cmd("SADD");
        sadd.arg(key);
        for i in 0..n {
            if key == "ints" {
                sadd.arg(i);
            } else {
                sadd.arg(format!("m{i}"));
            }
        }
        let _: () = sadd.query_async(&mut c).await.expect("SADD");
        for count in [1usize, 5, 40, 99, 100, 5000] {
            let got: Vec<String> = run(&mut c, &format!("SRANDMEMBER {key} {count}")).await;
            let distinct: HashSet<&String> = got.iter().collect();
            assert_eq!(got.len(), count.min(n));
            assert_eq!(distinct.len(), got.len());
        }
        let got: Vec<String> = run(&mut c, &format!("SRANDMEMBER {key} -300")).await;
        assert_eq!(got.len(), 300);
        // SPOP with a count removes exactly what it answers.
        let popped: Vec<String> = run(&mut c, &format!("SPOP {key} 30")).await;
        let popped: HashSet<String> = popped.into_iter().collect();
        assert_eq!(popped.len(), 30);
        assert_eq!(run::<usize>(&mut c, &format!("SCARD {key}")).await, n - 30);
        for m in &popped {
            assert_eq!(run::<i64>(&mut c, &format!("SISMEMBER {key} {m}")).await, 0);
        }
        let one: String = run(&mut c, &format!("SPOP {key}")).await;
        assert!(!popped.contains(&one));
        // Popping at least all of it empties and removes the key.
        let rest: Vec<String> = run(&mut c, &format!("SPOP {key} {n}")).await;
        assert_eq!(rest.len(), n - 31);
        assert_eq!(run::<i64>(&mut c, &format!("EXISTS {key}")).await, 0);
    }
    assert_eq!(run::<Option<String>>(&mut c, "SPOP missing").await, None);
    assert_eq!(
        run::<Vec<String>>(&mut c, "SPOP missing 3").await,
        Vec::<String>::new()
    );
    assert!(
        fails(&mut c, "SPOP missing -1")
            .await
            .contains("value is out of range, must be positive")
    );
    assert!(
        fails(&mut c, "SPOP missing 1 2")
            .await
            .contains("syntax error")
    );
    assert!(
        fails(&mut c, "SRANDMEMBER missing 1 2")
            .await
            .contains("syntax error")
    );
    server.stop().await;
}

/// SSCAN: every member present for the whole scan is returned, while members are added (the
/// table grows many times over) and others removed between the calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sscan_returns_every_member_present_throughout() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    let mut sadd = cmd("SADD");
    sadd.arg("s");
    for i in 0..1000 {
        sadd.arg(format!("keep{i}")).arg(format!("drop{i}"));
    }
    let _: () = sadd.query_async(&mut c).await.expect("SADD");
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut step = 0;
    loop {
        let (next, items): (u64, Vec<String>) = cmd("SSCAN")
            .arg("s")
            .arg(cursor)
            .arg("COUNT")
            .arg(100)
            .query_async(&mut c)
            .await
            .expect("SSCAN");
        seen.extend(items);
        let mut grow = cmd("SADD");
        grow.arg("s");
        for i in 0..90 {
            grow.arg(format!("new{step}-{i}"));
        }
        let _: () = grow.query_async(&mut c).await.expect("SADD");
        let mut del = cmd("SREM");
        del.arg("s");
        for i in 0..10 {
            del.arg(format!("drop{}", step * 10 + i));
        }
        let _: i64 = del.query_async(&mut c).await.expect("SREM");
        step += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for i in 0..1000 {
        assert!(seen.contains(&format!("keep{i}")), "keep{i} missed");
    }
    // An intset is returned whole with cursor 0; MATCH applies to its formatted integers.
    let _: () = run(&mut c, "SADD ints 1 2 10 11 20").await;
    let (next, mut items): (u64, Vec<String>) = run(&mut c, "SSCAN ints 0 MATCH 1* COUNT 1").await;
    items.sort();
    assert_eq!((next, items), (0, strings("1 10 11")));
    server.stop().await;
}

/// SMISMEMBER on a `hashtable` set reads its members in chunks (each prefetched first): the
/// answers come in the order asked across chunk borders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smismember_answers_in_order_across_chunks() {
    let server = TestServer::start(Config::default()).await;
    let mut c = connect(&server).await;
    let members: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    assert_eq!(
        run::<i64>(&mut c, &format!("SADD big {}", members.join(" "))).await,
        200
    );
    assert_eq!(
        run::<String>(&mut c, "OBJECT ENCODING big").await,
        "hashtable"
    );
    let asked: Vec<String> = (0..100).map(|i| format!("m{}", i * 3)).collect();
    let expected: Vec<i64> = (0..100).map(|i| i64::from(i * 3 < 200)).collect();
    assert_eq!(
        run::<Vec<i64>>(&mut c, &format!("SMISMEMBER big {}", asked.join(" "))).await,
        expected
    );
}
