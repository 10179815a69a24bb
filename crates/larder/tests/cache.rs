//! The `Cache` type: capacity, expiry, listener, statistics and single flight.

use larder::{Cache, LoadError, ManualClock, RemovalCause};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

fn clocked(ttl: Option<Duration>) -> (Cache<String, u64>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_000));
    let mut b = Cache::builder().max_capacity(1_000).clock(clock.clone());
    if let Some(ttl) = ttl {
        b = b.time_to_live(ttl);
    }
    (b.build(), clock)
}

#[test]
fn insert_get_invalidate_and_stats() {
    let (cache, _) = clocked(None);
    assert_eq!(cache.get("a"), None);
    cache.insert("a".into(), 1);
    assert_eq!(cache.get("a"), Some(1));
    assert!(cache.contains_key("a"));
    assert_eq!(cache.invalidate("a"), Some(1));
    assert_eq!(cache.get("a"), None);
    let s = cache.stats();
    assert_eq!(s.hits, 1);
    assert_eq!(s.misses.never_cached, 1);
    assert_eq!(s.misses.removed, 1);
    assert!((s.hit_ratio() - 1.0 / 3.0).abs() < 1e-9);
}

#[test]
fn ttl_expiry_and_per_entry_expiry() {
    let clock = Arc::new(ManualClock::new(0));
    let cache: Cache<String, u64> = Cache::builder()
        .clock(clock.clone())
        .time_to_live(Duration::from_secs(10))
        .expiry(|k: &String, _: &u64| {
            (k.as_str() != "forever").then_some(Duration::from_secs(if k == "short" {
                1
            } else {
                10
            }))
        })
        .build();
    cache.insert("short".into(), 1);
    cache.insert("long".into(), 2);
    cache.insert("forever".into(), 3);
    cache.insert_with_ttl("explicit".into(), 4, Duration::from_secs(5));
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.get("short"), None);
    assert_eq!(cache.get("long"), Some(2));
    assert_eq!(cache.get("explicit"), Some(4));
    clock.advance(Duration::from_secs(4));
    assert_eq!(cache.get("explicit"), None);
    clock.advance(Duration::from_secs(100));
    assert_eq!(cache.get("long"), None);
    assert_eq!(cache.get("forever"), Some(3));
    assert_eq!(cache.stats().misses.expired, 3);
}

#[test]
fn time_to_idle_hides_unread_entries() {
    let clock = Arc::new(ManualClock::new(0));
    let cache: Cache<u64, u64> = Cache::builder()
        .clock(clock.clone())
        .time_to_idle(Duration::from_secs(5))
        .build();
    cache.insert(1, 10);
    cache.insert(2, 20);
    for _ in 0..3 {
        clock.advance(Duration::from_secs(3));
        assert_eq!(cache.get(&1), Some(10), "read every 3 s, never idle");
    }
    assert_eq!(cache.get(&2), None, "not read for 9 s");
    assert!(!cache.contains_key(&2));
    cache.insert(2, 21);
    assert_eq!(cache.get(&2), Some(21));
    let s = cache.stats();
    assert_eq!((s.hits, s.misses.expired), (4, 1));
}

#[test]
fn capacity_evicts_and_listener_hears_every_departure() {
    let clock = Arc::new(ManualClock::new(0));
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    let cache: Cache<u64, u64> = Cache::builder()
        .max_capacity(100)
        .clock(clock.clone())
        .eviction_listener(move |k: &u64, cause| h.lock().unwrap().push((*k, cause)))
        .build();
    for k in 0..200 {
        cache.insert(k, k);
    }
    assert!(cache.entry_count() <= 100);
    let evicted = heard
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, c)| *c == RemovalCause::Evicted)
        .count();
    assert_eq!(evicted as u64, cache.stats().evictions);
    assert!(evicted >= 100);

    let resident = (0..200).find(|k| cache.contains_key(k)).unwrap();
    cache.invalidate(&resident);
    assert!(
        heard
            .lock()
            .unwrap()
            .contains(&(resident, RemovalCause::Explicit))
    );

    cache.insert_with_ttl(1_000, 1, Duration::from_secs(1));
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.get(&1_000), None);
    assert!(
        heard
            .lock()
            .unwrap()
            .contains(&(1_000, RemovalCause::Expired))
    );
}

#[test]
fn weigher_counts_bytes() {
    let cache: Cache<u64, String> = Cache::builder()
        .weigher(1_000, |_, v: &String| v.len() as u32)
        .shards(1)
        .build();
    for k in 0..100 {
        cache.insert(k, "x".repeat(100));
    }
    assert!(cache.weighted_size() <= 1_000);
    assert!(cache.entry_count() <= 10);
}

#[test]
fn stampede_of_1000_readers_of_an_expired_key_runs_one_load() {
    let (cache, clock) = clocked(Some(Duration::from_secs(60)));
    cache.insert("hot".into(), 41);
    clock.advance(Duration::from_secs(61));
    let loads = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(1_000));
    let threads: Vec<_> = (0..1_000)
        .map(|_| {
            let (cache, loads, barrier) = (cache.clone(), loads.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let waiting = cache.clone();
                cache.get_or_insert_with("hot".into(), || {
                    loads.fetch_add(1, Ordering::SeqCst);
                    // The load finishes only once every other reader waits on it.
                    while waiting.waiters(&"hot".to_string()) < 999 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    42
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 42);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().loads, 1);
}

#[test]
fn failed_loads_are_shared_and_not_cached() {
    let (cache, _) = clocked(None);
    let r: Result<u64, LoadError<String>> =
        cache.try_get_or_insert_with("k".into(), || Err("db down".to_string()));
    assert!(matches!(r, Err(LoadError::Failed(ref e)) if e == "db down"));
    assert_eq!(cache.get("k"), None);
    let r = cache.try_get_or_insert_with("k".into(), || Ok::<_, String>(7));
    assert_eq!(r.unwrap(), 7);
    let s = cache.stats();
    assert_eq!((s.loads, s.load_failures), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_loads_are_single_flight() {
    let (cache, _) = clocked(None);
    let loads = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (cache, loads, mut rx) = (cache.clone(), loads.clone(), rx.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .try_get_or_insert_with_async("k".into(), || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    let _ = rx.wait_for(|go| *go).await;
                    Ok::<_, String>(5)
                })
                .await
        }));
    }
    // Every task has joined the flight once one is loading and 99 are waiting on it.
    while cache.loads_in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    tx.send(true).unwrap();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 5);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Cache<String, Vec<u8>>>();
    send_sync::<larder::RefreshAhead<u64, String, NoLoader>>();
    fn send_sync_only<T: Send + Sync>() {}
    send_sync_only::<larder::ReadThrough<u64, String, NoLoader>>();
    send_sync_only::<larder::XFetch<u64, String, NoLoader>>();
    send_sync_only::<larder::CacheAside<u64, String>>();
}

struct NoLoader;
impl larder::Loader<u64, String> for NoLoader {
    type Error = ();
    async fn load(&self, _: &u64) -> Result<String, ()> {
        Err(())
    }
}
