//! State shared by every connection: the keyspace, the live configuration, the clients, the
//! pub/sub registry and the server's counters.

use crate::blocking::Blocking;
use crate::client::{Clients, OutputLimit};
use crate::cmd::CommandStatsMap;
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::notify::Notifier;
use crate::pubsub::PubSub;
use crate::watch::Watches;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// Server-wide counters for `INFO stats`.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted.
    pub connections_received: AtomicU64,
    /// Commands executed.
    pub commands_processed: AtomicU64,
    /// Connections refused at `maxclients` or by protected mode.
    pub rejected_connections: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Replies that were errors.
    pub error_replies: AtomicU64,
    /// Commands refused with `-OOM`.
    pub oom_rejections: AtomicU64,
    /// Keys evicted by the volatile policies (the engine counts them among its evictions too).
    pub volatile_evictions: AtomicU64,
}

/// Most distinct error codes `INFO errorstats` tracks (Redis's bound); further codes are counted
/// in `total_error_replies` only.
pub const ERROR_CODES_MAX: usize = 128;

/// Samples kept for `instantaneous_ops_per_sec` (one per cron tick; Redis keeps 16).
const OPS_SAMPLES: usize = 16;

/// Figures the cron task refreshes `hz` times a second.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Commands processed, bytes in and bytes out, and when, at the last sample.
    last: Option<([u64; 3], Instant)>,
    /// Per-second rates of those three over the last samples.
    samples: [[f64; 3]; OPS_SAMPLES],
    next: usize,
}

impl Metrics {
    fn mean(&self, i: usize) -> f64 {
        self.samples.iter().map(|s| s[i]).sum::<f64>() / OPS_SAMPLES as f64
    }

    /// Commands per second, the mean of the recent samples (`instantaneous_ops_per_sec`).
    pub fn ops_per_sec(&self) -> u64 {
        self.mean(0).round() as u64
    }

    /// Kilobytes read per second.
    pub fn input_kbps(&self) -> f64 {
        self.mean(1) / 1024.0
    }

    /// Kilobytes written per second.
    pub fn output_kbps(&self) -> f64 {
        self.mean(2) / 1024.0
    }

    fn sample(&mut self, now_counts: [u64; 3], now: Instant) {
        if let Some((before, at)) = self.last {
            let secs = now.duration_since(at).as_secs_f64();
            if secs > 0.0 {
                for i in 0..3 {
                    self.samples[self.next][i] =
                        now_counts[i].saturating_sub(before[i]) as f64 / secs;
                }
                self.next = (self.next + 1) % OPS_SAMPLES;
            }
        }
        self.last = Some((now_counts, now));
    }
}

impl ServerStats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Zeroes the counters (`CONFIG RESETSTAT`).
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.commands_processed,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.error_replies,
            &self.oom_rejections,
            &self.volatile_evictions,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Everything connections share.
#[derive(Debug)]
pub struct Shared {
    /// The data.
    pub keyspace: Keyspace,
    /// The live configuration (`CONFIG SET` writes it).
    pub config: RwLock<Config>,
    /// Connected clients.
    pub clients: Clients,
    /// Channels and patterns.
    pub pubsub: PubSub,
    /// Counters.
    pub stats: ServerStats,
    /// When the server started.
    pub started: Instant,
    /// A random 40-hex-digit id of this run (`INFO server`'s `run_id`).
    pub run_id: String,
    /// The port actually bound.
    pub port: u16,
    /// Unix time of the last "save" (start time: Larder keeps nothing on disk).
    pub lastsave: u64,
    /// Commands that must see the keyspace alone (`RENAME`, `MSETNX`, ...) take this for
    /// writing; every other command takes it for reading.
    pub exclusive: RwLock<()>,
    /// Error replies by code (the first word: `ERR`, `WRONGTYPE`, ...) for `INFO errorstats`.
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// The most memory seen in use (`used_memory_peak`).
    pub peak_memory: AtomicU64,
    /// Memory in use at start (`used_memory_startup`).
    pub startup_memory: u64,
    /// Sampled rates.
    pub metrics: Mutex<Metrics>,
    /// Input arrivals, for the single-threaded server's busy polling.
    pub busy_poll: crate::busy_poll::BusyPoll,
    /// Per-command counters (`INFO commandstats`).
    pub command_stats: CommandStatsMap,
    /// Watched keys (`WATCH`).
    pub watches: Arc<Watches>,
    /// Keyspace notifications (`notify-keyspace-events`).
    pub notify: Notifier,
    /// Clients blocked by `BLPOP`, `BZPOPMIN`, ... (see [`crate::blocking`]).
    pub blocking: Blocking,
    /// Client-side caching (`CLIENT TRACKING`).
    pub tracking: crate::tracking::Tracking,
    /// `MONITOR` clients.
    pub monitors: crate::monitor::Monitors,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    /// Shared state for a server on `port` with `config`.
    pub fn new(mut config: Config, port: u16) -> Shared {
        // The running configuration shows the port actually bound (0 in the file picks one).
        config.port = port;
        let keyspace = Keyspace::new(config.maxmemory, config.policy());
        keyspace.set_hot_keys_top(config.hotkeys_top);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let seed = foldhash::fast::RandomState::default();
        let run_id = (0..5)
            .map(|i| {
                use std::hash::BuildHasher;
                format!("{:08x}", seed.hash_one(i) as u32)
            })
            .collect();
        let notify = Notifier::new(&config.notify_keyspace_events);
        Shared {
            keyspace,
            config: RwLock::new(config),
            clients: Clients::default(),
            pubsub: PubSub::default(),
            stats: ServerStats::default(),
            started: Instant::now(),
            run_id,
            port,
            lastsave: now,
            exclusive: RwLock::new(()),
            errors: Mutex::new(BTreeMap::new()),
            peak_memory: AtomicU64::new(0),
            startup_memory: 0,
            metrics: Mutex::new(Metrics::default()),
            busy_poll: crate::busy_poll::BusyPoll::default(),
            command_stats: crate::cmd::new_command_stats(),
            watches: Arc::default(),
            notify,
            blocking: Blocking::default(),
            tracking: crate::tracking::Tracking::default(),
            monitors: crate::monitor::Monitors::default(),
            shutdown: watch::channel(false).0,
        }
        .with_startup_memory()
    }

    fn with_startup_memory(mut self) -> Shared {
        self.startup_memory = self.used_memory();
        self.peak_memory
            .store(self.startup_memory, Ordering::Relaxed);
        self
    }

    /// Counts an error reply under its code (`INFO errorstats`).
    pub fn count_error(&self, text: &str) {
        let code = text.split(' ').next().unwrap_or(text);
        let mut errors = self.errors.lock();
        if let Some(n) = errors.get_mut(code) {
            *n += 1;
        } else if errors.len() < ERROR_CODES_MAX {
            errors.insert(code.to_owned(), 1);
        }
    }

    /// The memory figure of `INFO`'s `used_memory` and of `maxmemory`: the bytes the program
    /// holds (jemalloc's allocated bytes less its thread caches: [`AllocatorStats::held`]), or,
    /// without allocator figures, the engine's weight of the data (keys, values and the
    /// per-entry overhead).
    ///
    /// [`AllocatorStats::held`]: crate::memory::AllocatorStats::held
    pub fn used_memory(&self) -> u64 {
        self.used_memory_of(crate::memory::allocator_stats())
    }

    /// [`Shared::used_memory`] from allocator figures already read (`None`: without them).
    pub fn used_memory_of(&self, allocator: Option<crate::memory::AllocatorStats>) -> u64 {
        let used = allocator.map_or_else(|| self.keyspace.store().weighted_size(), |a| a.held());
        self.peak_memory.fetch_max(used, Ordering::Relaxed);
        used
    }

    /// The periodic task (`hz` times a second, besides active expiry): reconciles
    /// `maxmemory` with the allocator, and samples the peak memory and the operation rate.
    pub fn cron(&self) {
        let mut allocator = crate::memory::allocator_stats();
        // Freed pages the allocator still keeps, not data, taking the data's room near the
        // aim: return them rather than evict data for them.
        if let Some(a) = allocator
            && self
                .keyspace
                .freed_pages_in_the_way(a.held(), a.limited_bytes())
            && crate::memory::purge()
        {
            allocator = crate::memory::allocator_stats();
        }
        if let Some(a) = allocator {
            self.peak_memory.fetch_max(a.held(), Ordering::Relaxed);
        }
        self.keyspace
            .reconcile(allocator.map(|a| a.limited_bytes()));
        if self.tracking.active() {
            let max = self.config.read().tracking_table_max_keys;
            self.tracking.limit(self, max);
        }
        let counts = [
            &self.stats.commands_processed,
            &self.stats.net_input_bytes,
            &self.stats.net_output_bytes,
        ]
        .map(|c| c.load(Ordering::Relaxed));
        self.metrics.lock().sample(counts, Instant::now());
        // Keys expired by the active cycle (just run) or evicted outside any command.
        crate::events::flush_departures(self);
    }

    /// `CONFIG RESETSTAT`: zeroes the server's, the commands' and the engine's counters.
    pub fn reset_stats(&self) {
        self.stats.reset();
        self.errors.lock().clear();
        *self.metrics.lock() = Metrics::default();
        self.peak_memory.store(0, Ordering::Relaxed);
        self.keyspace.reset_stats();
        crate::cmd::reset_command_stats(&self.command_stats);
    }

    /// The pub/sub output limit in force.
    pub fn pubsub_limit(&self) -> OutputLimit {
        let (hard, soft, soft_seconds) = self.config.read().pubsub_output_limit();
        OutputLimit {
            hard,
            soft,
            soft_seconds,
        }
    }

    /// Starts a graceful shutdown: listeners stop, connections close.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
        self.clients.kill_all();
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Whether a shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
