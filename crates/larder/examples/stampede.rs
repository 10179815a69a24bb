//! A stampede: 1,000 threads read a hot key the moment it expires; each database query takes
//! 50 ms (a network round trip plus the query). Plain cache-aside sends nearly every reader to
//! the database; read-through with single flight sends exactly one.
//!
//! `cargo run -p larder --example stampede`

#[path = "../tests/common/mod.rs"]
mod common;

use common::Db;
use larder::{Cache, CacheAside, Loader, ManualClock, ReadThrough};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const READERS: usize = 1_000;
const LATENCY: Duration = Duration::from_millis(50);

struct SlowUsers(Arc<Db>);

impl Loader<u64, String> for SlowUsers {
    type Error = String;
    async fn load(&self, id: &u64) -> Result<String, String> {
        std::thread::sleep(LATENCY);
        self.0.name(*id)?.ok_or_else(|| "not found".into())
    }
}

fn expired_cache(clock: &Arc<ManualClock>) -> Cache<u64, String> {
    let cache = Cache::builder()
        .time_to_live(Duration::from_secs(60))
        .clock(clock.clone())
        .build();
    cache.insert(7, "user-7".into());
    clock.advance(Duration::from_secs(61));
    cache
}

/// Runs `read` on `READERS` threads released together.
fn stampede(read: impl Fn() + Send + Sync) {
    let barrier = Barrier::new(READERS);
    std::thread::scope(|s| {
        for _ in 0..READERS {
            s.spawn(|| {
                barrier.wait();
                read();
            });
        }
    });
}

fn main() {
    let clock = Arc::new(ManualClock::new(0));

    let db = Db::new(10);
    let aside = CacheAside::new(expired_cache(&clock));
    stampede(|| {
        let _ = aside.read(&7, || {
            std::thread::sleep(LATENCY);
            db.name(7)
        });
    });
    println!(
        "cache-aside, {READERS} readers of an expired key: {} database queries",
        db.queries()
    );

    let db = Db::new(10);
    let through = ReadThrough::new(expired_cache(&clock), SlowUsers(db.clone()));
    stampede(|| {
        let _ = through.get(&7);
    });
    println!(
        "read-through with single flight, {READERS} readers of an expired key: {} database queries",
        db.queries()
    );
}
