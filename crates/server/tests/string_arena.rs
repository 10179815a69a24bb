//! Strings of 129 to 256 bytes live in the server's string arena: every way a value goes away
//! (overwritten, appended past the arena's range, deleted, flushed, popped from a list,
//! evicted) gives its block back, and the pages follow. One test in its own process, so that
//! the arena's counts are this server's alone.

mod admin_support;

use admin_support::start;
use larder_protocol::Frame;
use larder_server::Config;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A value of `len` bytes that names its key, so that a mixed-up block shows.
fn value(key: usize, len: usize) -> Vec<u8> {
    let mut v = format!("{key}:").into_bytes();
    v.resize(len, b'a' + (key % 26) as u8);
    v
}

fn set(key: usize, len: usize) -> Vec<Vec<u8>> {
    vec![
        b"SET".to_vec(),
        format!("k{key}").into_bytes(),
        value(key, len),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_string_that_goes_gives_its_arena_block_back() {
    const KEYS: usize = 5_000;
    let server = start(Config::default()).await;
    let mut c = server.client().await;

    let ok = Frame::Simple(b"OK".to_vec());
    let sets: Vec<_> = (0..KEYS).map(|k| set(k, 200)).collect();
    assert!(c.pipeline(&sets).await.iter().all(|r| *r == ok));
    assert_eq!(arena_blocks(&mut c).await, KEYS as u64);

    // Overwritten with shorter values of another block size: the old blocks are freed.
    let sets: Vec<_> = (0..KEYS).map(|k| set(k, 150)).collect();
    assert!(c.pipeline(&sets).await.iter().all(|r| *r == ok));
    assert_eq!(arena_blocks(&mut c).await, KEYS as u64);
    for k in [0, 1, KEYS / 2, KEYS - 1] {
        assert_eq!(
            c.cmd(&["GET", &format!("k{k}")]).await,
            Frame::Bulk(value(k, 150))
        );
    }

    // Appended within the arena's range, then past it (a boxed slice from there on).
    assert_eq!(c.int(&["APPEND", "k0", &"x".repeat(100)]).await, 250);
    assert_eq!(arena_blocks(&mut c).await, KEYS as u64);
    assert_eq!(c.int(&["APPEND", "k0", "0123456789"]).await, 260);
    assert_eq!(arena_blocks(&mut c).await, KEYS as u64 - 1);
    // An edit in place keeps the block.
    assert_eq!(c.int(&["SETRANGE", "k1", "2", "ZZ"]).await, 150);
    let mut edited = value(1, 150);
    edited[2..4].copy_from_slice(b"ZZ");
    assert_eq!(c.cmd(&["GET", "k1"]).await, Frame::Bulk(edited));
    assert_eq!(arena_blocks(&mut c).await, KEYS as u64 - 1);

    // Deleted: every block back, at most one empty page kept per block size.
    let dels: Vec<_> = (0..KEYS)
        .map(|k| vec![b"DEL".to_vec(), format!("k{k}").into_bytes()])
        .collect();
    c.pipeline(&dels).await;
    assert_eq!(arena_blocks(&mut c).await, 0);
    assert!(arena_bytes(&mut c).await <= 16 * 16 * 1024);

    // List elements of that size, popped and then the list deleted.
    let mut push = vec![b"RPUSH".to_vec(), b"list".to_vec()];
    push.extend((0..1_000).map(|k| value(k, 180)));
    assert_eq!(c.pipeline(&[push]).await, vec![Frame::Integer(1_000)]);
    assert_eq!(arena_blocks(&mut c).await, 1_000);
    assert_eq!(c.cmd(&["LPOP", "list"]).await, Frame::Bulk(value(0, 180)));
    assert_eq!(arena_blocks(&mut c).await, 999);
    assert_eq!(c.int(&["DEL", "list"]).await, 1);
    assert_eq!(arena_blocks(&mut c).await, 0);

    // Flushed.
    let sets: Vec<_> = (0..KEYS).map(|k| set(k, 256)).collect();
    assert!(c.pipeline(&sets).await.iter().all(|r| *r == ok));
    assert_eq!(arena_blocks(&mut c).await, KEYS as u64);
    c.ok(&["FLUSHALL", "SYNC"]).await;
    assert_eq!(arena_blocks(&mut c).await, 0);

    // Evicted under a memory limit: the blocks in use are the keys still there.
    c.ok(&["CONFIG", "SET", "maxmemory", "4mb"]).await;
    c.ok(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
        .await;
    for round in 0..8 {
        let sets: Vec<_> = (0..KEYS).map(|k| set(round * KEYS + k, 200)).collect();
        for reply in c.pipeline(&sets).await {
            assert!(reply == ok || matches!(reply, Frame::Error(_)), "{reply:?}");
        }
    }
    let keys = c.int(&["DBSIZE"]).await as u64;
    assert!(keys < 8 * KEYS as u64, "{keys} keys: something was evicted");
    assert_eq!(arena_blocks(&mut c).await, keys);
    server.stop().await;
}

async fn arena_blocks(c: &mut admin_support::Client) -> u64 {
    c.info_field("larder", "string_arena_blocks")
        .await
        .parse()
        .expect("string_arena_blocks")
}

async fn arena_bytes(c: &mut admin_support::Client) -> u64 {
    c.info_field("larder", "string_arena_bytes")
        .await
        .parse()
        .expect("string_arena_bytes")
}
