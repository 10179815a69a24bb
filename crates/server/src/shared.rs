//! State shared by every connection: the keyspace, the live configuration, the clients, the
//! pub/sub registry and the server's counters.

use crate::client::{Clients, OutputLimit};
use crate::config::Config;
use crate::keyspace::Keyspace;
use crate::pubsub::PubSub;
use parking_lot::RwLock;
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
    /// Keys evicted by the volatile policies (the engine counts its own evictions).
    pub volatile_evictions: AtomicU64,
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
    shutdown: watch::Sender<bool>,
}

impl Shared {
    /// Shared state for a server on `port` with `config`.
    pub fn new(config: Config, port: u16) -> Shared {
        let keyspace = Keyspace::new(config.maxmemory, config.policy());
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
            shutdown: watch::channel(false).0,
        }
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
