//! `larder serve`: the Redis-compatible cache server.
//!
//! Configuration comes from defaults, then `--config larder.toml`, then flags, each overriding
//! the one before (see `docs/configuration.md`).

use crate::UsageError;
use anyhow::Context;
use clap::Args;
use larder_server::Config;
use larder_server::config::parse_memory;
use std::path::PathBuf;

/// Flags of `larder serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file (keys as in redis.conf: port, bind, maxmemory, ...).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long)]
    bind: Option<String>,
    /// TCP port [default: 6379; 0 picks a free port].
    #[arg(long)]
    port: Option<u16>,
    /// Worker threads [default: one per core].
    #[arg(long)]
    threads: Option<usize>,
    /// Memory limit, e.g. 100mb [default: 0, none].
    #[arg(long, value_name = "BYTES")]
    maxmemory: Option<String>,
    /// Eviction policy: noeviction, allkeys-{lru,lfu,random,arc,wtinylfu,s3fifo,sieve,fifo,larder},
    /// volatile-{lru,lfu,random,ttl} [default: allkeys-larder].
    #[arg(long, value_name = "POLICY")]
    maxmemory_policy: Option<String>,
    /// Require this password (AUTH / HELLO ... AUTH).
    #[arg(long)]
    requirepass: Option<String>,
    /// Most simultaneous clients [default: 10000].
    #[arg(long)]
    maxclients: Option<usize>,
    /// Close clients idle this many seconds [default: 0, never].
    #[arg(long)]
    timeout: Option<u64>,
    /// Protected mode: yes or no [default: yes].
    #[arg(long, value_name = "yes|no")]
    protected_mode: Option<String>,
}

impl ServeArgs {
    /// The configuration: defaults, then the file, then the flags.
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(bind) = &self.bind {
            config.bind = bind.clone();
        }
        if let Some(port) = self.port {
            config.port = port;
        }
        if let Some(threads) = self.threads {
            config.threads = threads;
        }
        if let Some(amount) = &self.maxmemory {
            config.maxmemory = parse_memory(amount).ok_or_else(|| {
                UsageError(format!("--maxmemory: '{amount}' is not a memory amount"))
            })?;
        }
        if let Some(policy) = &self.maxmemory_policy {
            config.maxmemory_policy = policy.clone();
        }
        if let Some(password) = &self.requirepass {
            config.requirepass = password.clone();
        }
        if let Some(n) = self.maxclients {
            config.maxclients = n;
        }
        if let Some(t) = self.timeout {
            config.timeout = t;
        }
        if let Some(mode) = &self.protected_mode {
            config.protected_mode = match mode.as_str() {
                "yes" => true,
                "no" => false,
                _ => {
                    return Err(
                        UsageError(format!("--protected-mode: '{mode}' is not yes or no")).into(),
                    );
                }
            };
        }
        config.validate().map_err(|e| UsageError(e.to_string()))?;
        Ok(config)
    }
}

/// Runs the server until SIGINT, SIGTERM or `SHUTDOWN`.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let bind = format!("{}:{}", config.bind, config.port);
    larder_server::run_blocking(config, |addr| {
        eprintln!(
            "larder {} ready to accept connections on {addr}",
            env!("CARGO_PKG_VERSION")
        );
    })
    .with_context(|| format!("cannot serve on {bind}"))
}
