//! `maxmemory` reconciled with the allocator: with jemalloc as the global allocator, as in
//! the `larder` binary, writing ten times `maxmemory` keeps the bytes the process holds
//! (`used_memory`: jemalloc's `stats.allocated` less its thread caches) within `maxmemory` at
//! every sample.

mod admin_support;

use admin_support::{field, start};
use larder_protocol::Frame;
use larder_server::Config;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_ten_times_maxmemory_keeps_used_memory_within_it() {
    const MAXMEMORY: u64 = 24 << 20;
    const VALUE: usize = 1000;
    const BATCH: usize = 500;
    let server = start(Config {
        maxmemory: MAXMEMORY,
        ..Config::default()
    })
    .await;
    let mut c = server.client().await;
    let info = c.text(&["INFO", "memory"]).await;
    assert!(
        field(&info, "mem_allocator").is_some_and(|a| a.starts_with("jemalloc")),
        "{info}"
    );
    let value = vec![b'v'; VALUE];
    let mut written = 0u64;
    let mut key = 0u64;
    let mut samples = 0;
    while written < 10 * MAXMEMORY {
        let batch: Vec<Vec<Vec<u8>>> = (0..BATCH)
            .map(|_| {
                key += 1;
                vec![
                    b"SET".to_vec(),
                    format!("key:{key}").into_bytes(),
                    value.clone(),
                ]
            })
            .collect();
        for reply in c.pipeline(&batch).await {
            assert_eq!(reply, Frame::Simple(b"OK".to_vec()));
        }
        written += (BATCH * VALUE) as u64;
        let info = c.text(&["INFO", "memory"]).await;
        let used: u64 = field(&info, "used_memory")
            .and_then(|v| v.parse().ok())
            .expect("used_memory");
        assert!(
            used <= MAXMEMORY,
            "used_memory {used} > maxmemory {MAXMEMORY} after writing {written} bytes"
        );
        samples += 1;
    }
    assert!(samples >= 400);
    let stats = c.text(&["INFO", "all"]).await;
    let evicted: u64 = field(&stats, "evicted_keys").unwrap().parse().unwrap();
    assert!(evicted > key / 2, "{evicted} of {key} evicted");
    // The data's budget was scaled below maxmemory to make room for the rest of the process.
    let budget: u64 = field(&stats, "data_budget").unwrap().parse().unwrap();
    assert!(budget < MAXMEMORY, "{budget}");
    // MEMORY PURGE has jemalloc return its freed pages.
    assert_eq!(
        c.cmd(&["MEMORY", "PURGE"]).await,
        Frame::Simple(b"OK".to_vec())
    );
    server.stop().await;
}
